package isolate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"nsh/isolate/cgroup"
	"nsh/plan"
)

// launchCounting launches spec without Step (explained, the stage waits
// for nsh) and says whether its stage shared nsh's memory (clone.h).
func launchCounting(t *testing.T, spec *plan.Spec, opt Options) (shared bool, status int, out string, err error) {
	t.Helper()
	f, ferr := os.CreateTemp(t.TempDir(), "out")
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer f.Close()
	opt.Stdout, opt.Stderr = f, f
	before := sharedStages()
	c, err := Launch(spec, opt)
	shared = sharedStages() > before
	if err != nil {
		return shared, 0, "", err
	}
	status, err = c.Wait()
	b, _ := os.ReadFile(f.Name())
	return shared, status, string(b), err
}

// A stage shares nsh's memory only where nsh has nothing to do until its
// execve and no process but the stage can be in its namespaces: the attack
// on such a stage is a process that reads its memory (nsh's) before the
// execve, so each case where one could be there, or where nsh must act
// first, gets a copy as before. A stage that joins namespaces (a running
// child's, a container's) is the one that matters most.
func TestSharedStageOnlyWhereSafe(t *testing.T) {
	needRoot(t)
	if !sharedStagePossible() {
		t.Skip("stages share nsh's memory on x86-64 only (clone.h)")
	}
	big := strings.Repeat("x", 16<<10)
	for _, c := range []struct {
		name   string
		spec   *plan.Spec
		opt    Options
		shared bool
	}{
		{"new namespaces only", &plan.Spec{Namespaces: []string{"uts", "ipc", "mnt", "pid", "net", "cgroup"}}, Options{}, true},
		{"no namespace, a cgroup of its own", &plan.Spec{}, Options{}, true},
		{"a joined namespace", &plan.Spec{Join: []plan.Join{{Type: "uts", Path: "/proc/self/ns/uts", Ref: "/proc/self/ns/uts"}}}, Options{}, false},
		{"a new user namespace (nsh writes its id maps)", &plan.Spec{Namespaces: []string{"user", "uts"}}, Options{}, false},
		{"explained (nsh shows each step first)", &plan.Spec{Namespaces: []string{"uts"}}, Options{Step: func(string) {}}, false},
		{"a limit (nsh sets it after the clone)", &plan.Spec{Rlimits: []plan.Rlimit{{Name: "core", Soft: 0, Hard: plan.Unlimited}}}, Options{}, false},
		{"a program beyond the stage's static memory", &plan.Spec{Env: []string{"PATH=/usr/bin:/bin", "BIG=" + big}}, Options{}, false},
		{"no cgroup and no pid namespace (a relay forks)", &plan.Spec{Cgroup: &cgroup.Config{Off: true}}, Options{}, false},
	} {
		c.opt.Args = []string{"sh", "-c", "echo ran"}
		shared, status, out, err := launchCounting(t, c.spec, c.opt)
		if err != nil || status != 0 || out != "ran\n" {
			t.Errorf("%s: status %d, %v, output %q", c.name, status, err, out)
		}
		if shared != c.shared {
			t.Errorf("%s: the stage shared nsh's memory: %v, want %v", c.name, shared, c.shared)
		}
	}
}

// A stage in nsh's memory leaves nsh dumpable as it was once the stage
// has run (the flag is the memory's, and the stage clears it), and one
// that fails before its execve says why, as a copy does, with nsh's
// thread back once it has exited.
func TestSharedStageLeavesNshAsItWas(t *testing.T) {
	needRoot(t)
	if !sharedStagePossible() {
		t.Skip("stages share nsh's memory on x86-64 only (clone.h)")
	}
	dumpable := func() int { return nshDumpable(t) }
	// 1 as any process's; 0 here would be an earlier stage's doing.
	was := dumpable()
	if was != 1 {
		t.Errorf("nsh's dumpable flag is %d before this test's stage: an earlier stage left it so", was)
	}
	spec := &plan.Spec{Namespaces: []string{"uts", "pid", "mnt"}, Hostname: "shared"}
	shared, status, out, err := launchCounting(t, spec, Options{Args: []string{"sh", "-c", "hostname; echo $$"}})
	if !shared || err != nil || status != 0 || out != "shared\n1\n" {
		t.Fatalf("shared %v, status %d, %v, output %q", shared, status, err, out)
	}
	if now := dumpable(); now != was {
		t.Errorf("nsh's dumpable flag went from %d to %d across a stage in its memory", was, now)
	}

	shared, _, _, err = launchCounting(t, &plan.Spec{Namespaces: []string{"uts"}}, Options{Args: []string{"/nonexistent"}})
	var ee *ExecError
	if !shared || !errors.As(err, &ee) || ee.Status() != 127 || err.Error() != `exec "/nonexistent": no such file or directory` {
		t.Errorf("exec of a missing file from a stage in nsh's memory (shared %v): %v", shared, err)
	}
	shared, _, _, err = launchCounting(t, &plan.Spec{Namespaces: []string{"time"}, Time: plan.TimeOffsets{Monotonic: -50 * 365 * 86400}}, Options{Args: []string{"true"}})
	if !shared || err == nil || !strings.Contains(err.Error(), "set clock offsets") {
		t.Errorf("an impossible clock offset in a stage in nsh's memory (shared %v): %v", shared, err)
	}
}

// nshDumpable is nsh's dumpable flag (prctl PR_GET_DUMPABLE): the
// memory's, which a stage in it shares.
func nshDumpable(t *testing.T) int {
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The attack on a stage in nsh's memory is a process that reads or writes
// it before the execve (ptrace, /proc/PID/mem): one with the stage's own
// uid and capabilities once the stage has dropped some, say. So the stage
// is non-dumpable from its first instruction, as a copy is, and nsh with
// it (one memory, one flag) until the stage's execve. Here the stage
// waits before its execve for nsh to show the step (an explained program,
// made shared directly), and nsh's own flag is read meanwhile.
func TestSharedStageIsNonDumpable(t *testing.T) {
	needRoot(t)
	if !sharedStagePossible() {
		t.Skip("stages share nsh's memory on x86-64 only (clone.h)")
	}
	dumpable := func() int { return nshDumpable(t) }
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
	defer ours.Close()
	body := append([]byte{1}, step(opExec, 3, "/usr/bin:/bin", "1", "true")...)
	if _, err := ours.Write(append(binary.LittleEndian.AppendUint32(nil, uint32(len(body))), body...)); err != nil {
		t.Fatal(err)
	}
	during := make(chan int, 1)
	var first string
	go func() {
		// The stage's line for its execve step: it now waits for nsh.
		first, _ = bufio.NewReader(ours).ReadString('\n')
		during <- dumpable()
		ours.Write([]byte{1})
	}()
	was, before := dumpable(), sharedStages()
	if was != 1 {
		t.Errorf("nsh's dumpable flag is %d before this test's stage: an earlier stage left it so", was)
	}
	runtime.LockOSThread()
	pid, err := track(false, func() (int, error) {
		return cloneStage(&stageClone{attr: &syscall.SysProcAttr{}, files: []*os.File{nil, nil, nil, theirs}, channel: ours, root: -1, cwd: -1, shareMemory: true})
	})
	runtime.UnlockOSThread()
	theirs.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer untrack(pid)
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("the stage: %v, status %v, said %q", err, ws, first)
	}
	if sharedStages() == before {
		t.Fatal("the stage was a copy: nothing checked")
	}
	if d := <-during; d != 0 {
		t.Errorf("nsh's memory was dumpable (%d) while a stage in it waited before its execve", d)
	}
	if now := dumpable(); now != was {
		t.Errorf("nsh's dumpable flag went from %d to %d across a stage in its memory", was, now)
	}
}

// explain shows what a run does: an explained stage is a copy (it waits
// for nsh to show each step), and where an unexplained one would share
// nsh's memory the steps say so, and only there.
func TestSharedStageExplained(t *testing.T) {
	needRoot(t)
	const note = "unexplained, it would run in nsh's own memory (CLONE_VM|CLONE_VFORK"
	for _, c := range []struct {
		spec *plan.Spec
		says bool
	}{
		{&plan.Spec{Namespaces: []string{"uts", "pid", "mnt"}}, true},
		{&plan.Spec{Namespaces: []string{"user", "uts"}}, false},
	} {
		_, _, steps, err := run(t, c.spec, "true")
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(steps, "\n")
		if strings.Contains(joined, note) != c.says {
			t.Errorf("namespaces %v: the steps say the unexplained stage shares nsh's memory: %v, want %v:\n%s", c.spec.Namespaces, !c.says, c.says, joined)
		}
	}
}
