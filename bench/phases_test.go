package bench

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// bench/phases.sh runs and leaves no uprobe of its own behind in the
// kernel's list (it adds some to a list the machine keeps): a smoke test,
// so that a broken script is not found only on the day someone needs it.
func TestPhasesSmoke(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("uprobes and new namespaces need root")
	}
	if _, err := exec.LookPath("perf"); err != nil {
		t.Skip("perf is not installed (apt-get install linux-perf)")
	}
	list := "/sys/kernel/tracing/uprobe_events"
	if _, err := os.Stat(list); err != nil {
		list = "/sys/kernel/debug/tracing/uprobe_events"
	}
	if f, err := os.OpenFile(list, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		t.Skipf("no writable uprobe_events: %v", err)
	} else {
		f.Close()
	}
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
	b, _ := os.ReadFile(list)
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(f[0], ":nshphase/") {
			t.Errorf("phases.sh left its uprobe %s in %s", f[0], list)
			// Taken away all the same: nothing of the test's stays.
			if w, err := os.OpenFile(list, os.O_WRONLY|os.O_APPEND, 0); err == nil {
				w.WriteString("-:" + strings.SplitN(f[0], ":", 2)[1] + "\n")
				w.Close()
			}
		}
	}
}
