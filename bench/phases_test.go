package bench

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// bench/phases.sh runs and leaves no uprobe of its own behind in the
// kernel's list (it adds some to a list the machine keeps), and, where
// tracefs is not mounted, mounts it only in a mount namespace of its own:
// a smoke test, so that a broken script is not found only on the day
// someone needs it.
func TestPhasesSmoke(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("uprobes and new namespaces need root")
	}
	if _, err := exec.LookPath("perf"); err != nil {
		t.Skip("perf is not installed (apt-get install linux-perf)")
	}
	if b, _ := os.ReadFile("/proc/filesystems"); !strings.Contains(string(b), "tracefs") {
		t.Skip("this kernel has no tracefs")
	}
	before := mountsOf(t)
	cmd := exec.Command("sh", "phases.sh")
	cmd.Env = append(os.Environ(), "RUNS=3")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("phases.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"floor: 3 runs", "floorlibs: 3 runs", "nsh: 3 runs", "the clone is called", "exit_group"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("phases.sh's output lacks %q:\n%s", want, out)
		}
	}
	if after := mountsOf(t); after != before {
		t.Errorf("phases.sh changed this mount namespace's mounts:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, l := range strings.Split(tracefs(t, "cat uprobe_events"), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(f[0], ":nshphase/") {
			t.Errorf("phases.sh left its uprobe %s", f[0])
			// Taken away all the same: nothing of the test's stays.
			tracefs(t, "echo '-:"+strings.SplitN(f[0], ":", 2)[1]+"' >> uprobe_events")
		}
	}
}

// mountsOf lists this mount namespace's mount points.
func mountsOf(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			points = append(points, f[4])
		}
	}
	return strings.Join(points, "\n")
}

// tracefs runs the shell command cmd in the tracing directory: the one
// mounted here, else a tracefs mounted in a mount namespace of its own.
func tracefs(t *testing.T, cmd string) string {
	dir := "/sys/kernel/tracing"
	if _, err := os.Stat(dir + "/uprobe_events"); err != nil {
		dir = "/sys/kernel/debug/tracing"
	}
	var c *exec.Cmd
	if _, err := os.Stat(dir + "/uprobe_events"); err == nil {
		c = exec.Command("sh", "-c", "cd "+dir+" && "+cmd)
	} else {
		c = exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tracefs nodev /sys/kernel/tracing && cd /sys/kernel/tracing && "+cmd)
	}
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in tracefs: %v\n%s", cmd, err, out)
	}
	return string(out)
}
