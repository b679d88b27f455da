package cgroup

import (
	"encoding/binary"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// adoptFake hands startLocked a janitor as nsh's constructor would, with a
// stand-in process for it: the status pipe's write end is returned for
// the test to say how its set-up went.
func adoptFake(t *testing.T, cmd *exec.Cmd) (statusW *os.File) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sr, sw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close()
	// Plain descriptors, as the constructor hands them over.
	inFd, _ := unix.Dup(int(pw.Fd()))
	stFd, _ := unix.Dup(int(sr.Fd()))
	pw.Close()
	sr.Close()
	AdoptJanitor(cmd.Process.Pid, inFd, stFd)
	t.Cleanup(func() {
		janMu.Lock()
		if janIn != nil {
			janIn.Close()
		}
		if janStatus >= 0 {
			unix.Close(janStatus)
		}
		janIn, janPid, janStatus = nil, 0, -1
		janMu.Unlock()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return sw
}

// A janitor whose set-up succeeded (its status pipe ends) and that runs is
// taken as it is: nothing else is started.
func TestEarlyJanitorAdopted(t *testing.T) {
	noJanitor = true // were the early one refused, none would be started
	t.Cleanup(func() { noJanitor = false })
	cmd := exec.Command("sleep", "10")
	sw := adoptFake(t, cmd)
	sw.Close()
	if err := startJanitor(); err != nil {
		t.Fatal(err)
	}
	if JanitorPid() != cmd.Process.Pid || janIn == nil {
		t.Fatalf("janitor %d (pipe %v), want the early one, %d", JanitorPid(), janIn, cmd.Process.Pid)
	}
}

// One whose set-up failed says why on the status pipe: it is reaped and
// dropped, so that startLocked starts one itself (here none, noJanitor).
func TestEarlyJanitorSetupFailed(t *testing.T) {
	noJanitor = true
	t.Cleanup(func() { noJanitor = false })
	cmd := exec.Command("true")
	sw := adoptFake(t, cmd)
	binary.Write(sw, binary.NativeEndian, int32(unix.ENOENT))
	sw.Close()
	pid := cmd.Process.Pid
	if err := startJanitor(); err != nil {
		t.Fatal(err)
	}
	if JanitorPid() != 0 || janIn != nil {
		t.Fatalf("janitor %d kept after its set-up failed", JanitorPid())
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err != unix.ECHILD {
		t.Fatalf("the failed janitor %d was not reaped: wait4: %v", pid, err)
	}
}

// One that died after its set-up (its pipe ended, but the process is gone)
// is not trusted with anything either.
func TestEarlyJanitorDied(t *testing.T) {
	noJanitor = true
	t.Cleanup(func() { noJanitor = false })
	cmd := exec.Command("true")
	sw := adoptFake(t, cmd)
	sw.Close()
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stand-in did not end")
		}
	}
	if err := startJanitor(); err != nil {
		t.Fatal(err)
	}
	if JanitorPid() != 0 {
		t.Fatalf("a dead janitor (%d) was kept", JanitorPid())
	}
}

// A janitor that was never needed only sees its pipe end with nsh.
func TestEarlyJanitorUnused(t *testing.T) {
	cmd := exec.Command("cat") // reads its pipe until the end, as the janitor does
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = r
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	sr, sw, _ := os.Pipe()
	defer sw.Close()
	inFd, _ := unix.Dup(int(w.Fd()))
	stFd, _ := unix.Dup(int(sr.Fd()))
	w.Close()
	sr.Close()
	AdoptJanitor(cmd.Process.Pid, inFd, stFd)
	stopJanitor()
	// stopJanitor reaps it in the background once it ends.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(cmd.Process.Pid)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the unused janitor did not see its pipe end, or was not reaped")
		}
	}
	if janStatus != -1 {
		t.Fatal("the status pipe was left open")
	}
}
