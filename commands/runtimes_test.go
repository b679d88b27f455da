package commands

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"nsh/export"
	"nsh/isolate"
	"nsh/plan"
)

// runtimeRun is how a test runs a bundle under an OCI runtime here: crun
// 1.8 refuses a hybrid host whose cgroup2 mount has controllers, so it
// runs in a mount namespace of its own without that mount (the v1 view).
func runtimeRun(rt, bundle, id string) *exec.Cmd {
	if rt == "crun" {
		return exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
			`umount /sys/fs/cgroup/unified 2>/dev/null; exec crun run --bundle "$1" "$2"`, "sh", bundle, id)
	}
	return exec.Command(rt, "run", "--bundle", bundle, id)
}

// Every plan the example scripts spawn, exported as an OCI bundle, runs
// under runc and under crun: the runtimes accept each config nsh writes
// for the plans people build (capabilities, seccomp, limits, devices,
// mounts, masked paths, user and time namespaces), and start its process.
func TestScriptPlansRunUnderRuntimes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the runtimes make namespaces and cgroups")
	}
	var runtimes []string
	for _, rt := range []string{"runc", "crun"} {
		if _, err := exec.LookPath(rt); err == nil {
			runtimes = append(runtimes, rt)
		} else {
			t.Logf("%s is not installed (dev/deps.sh installs it): not tried", rt)
		}
	}
	if len(runtimes) == 0 {
		t.Skip("neither runc nor crun is installed")
	}
	root := filepath.Join(t.TempDir(), "root")
	if err := isolate.BuildBusybox(root, nil); err != nil {
		t.Skipf("no busybox rootfs: %v", err)
	}
	ran, oldRunc := 0, runcBefore12()
	for i, p := range scriptPlans(t) {
		if p.spec.Rootfs == nil && p.spec.Has("user") && !p.spec.Has("pid") {
			// The script spawns it without a root; with one, a fresh
			// /proc in a user namespace needs its own pid namespace,
			// and nsh's spawn refuses it as the runtimes do.
			continue
		}
		sp := runnable(t, bundlePlan(p.spec, root), root)
		dir := t.TempDir()
		b, err := export.OCIBundle(sp, isolate.HostCaps(), dir, []string{"/bin/true"})
		if err != nil {
			t.Fatalf("%s:%d: export oci: %v", p.file, p.line, err)
		}
		for _, d := range b.Dirs {
			os.MkdirAll(d, 0o755)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), b.JSON, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, rt := range runtimes {
			if rt == "runc" && oldRunc && sp.Has("time") {
				// Said in the export's notes: runc 1.1 has no time
				// namespace.
				if !strings.Contains(strings.Join(b.Notes, "\n"), "runc before 1.2 does not know it") {
					t.Errorf("%s:%d: export oci does not say runc 1.1 lacks the time namespace", filepath.Base(p.file), p.line)
				}
				continue
			}
			id := fmt.Sprintf("nsh-scripts-%d-%d", os.Getpid(), i)
			// Tracked, as nsh's own helpers are: the orphan reaper of the
			// sessions other tests ran leaves it to this test.
			cmd := runtimeRun(rt, dir, id)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := isolate.RunTracked(cmd)
			exec.Command(rt, "delete", "-f", id).Run()
			if err != nil {
				t.Errorf("%s:%d: %s refuses the exported bundle: %v\n%s", filepath.Base(p.file), p.line, rt, err, out.String())
				continue
			}
			ran++
		}
	}
	t.Logf("%d runs of the scripts' plans under %s", ran, strings.Join(runtimes, " and "))
}

// runnable is the plan with the script's rootfs (built by its spawns, not
// here) as the test's busybox, and without what a spawn of the script
// makes before it (a bind's source, a pinned namespace's file).
func runnable(t *testing.T, sp *plan.Spec, root string) *plan.Spec {
	if r := sp.Rootfs; r.Dir == "/nonexistent-rootfs" {
		r.Dir = root
		if r.Overlay != nil {
			r.Overlay.Lowers = []string{root}
		}
	}
	var ms []plan.Mount
	for _, m := range sp.Mounts {
		if _, err := os.Stat(m.Source); m.Type == "bind" && err != nil {
			continue
		}
		ms = append(ms, m)
	}
	sp.Mounts = ms
	var js []plan.Join
	for _, j := range sp.Join {
		if _, err := os.Stat(j.Path); err == nil {
			js = append(js, j)
		}
	}
	sp.Join = js
	return sp
}

// runcBefore12 says whether the runc here predates the time namespace.
func runcBefore12() bool {
	out, err := exec.Command("runc", "--version").Output()
	if err != nil {
		return false
	}
	var major, minor int
	fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(out), "\n", 2)[0], "runc version "), "%d.%d", &major, &minor)
	return major < 1 || major == 1 && minor < 2
}
