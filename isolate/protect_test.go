package isolate

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// kthreadd's line as Linux 6.x prints it, and a process whose name holds
// ") 0 0 (" to fool a parser that splits at the first ')'.
func TestParseStat(t *testing.T) {
	comm, ppid, flags, err := parseStat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 20 0 0 0 1 0 1 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
	if err != nil || comm != "kthreadd" || ppid != 0 || flags&pfKthread == 0 {
		t.Fatalf("kthreadd: %q %d %#x %v", comm, ppid, flags, err)
	}
	comm, ppid, flags, err = parseStat("77 (a) 0 0 (b) S 5 77 77 0 -1 4194560 1 2 3")
	if err != nil || comm != "a) 0 0 (b" || ppid != 5 || flags&pfKthread != 0 {
		t.Fatalf("tricky name: %q %d %#x %v", comm, ppid, flags, err)
	}
}

// What the tests can make: PID 1 (the stand-in), nsh itself, a helper of
// nsh's (a process it started that is not a child of a session), a
// process calling itself nsh:janitor. An ordinary process of someone
// else's may be changed with --force.
func TestUntouchable(t *testing.T) {
	for _, pid := range []int{1, os.Getpid()} {
		if err := Untouchable(pid); !errors.Is(err, ErrUntouchable) {
			t.Errorf("pid %d: %v", pid, err)
		}
	}
	helper := exec.Command("sleep", "10")
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	if err := Untouchable(helper.Process.Pid); !errors.Is(err, ErrUntouchable) {
		t.Errorf("a helper of nsh's: %v", err)
	}
	// Not nsh's child (its parent is sh, which execs nothing): ordinary.
	sh := exec.Command("sh", "-c", "sleep 10 & echo $!; wait")
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sh.Start()
	defer sh.Process.Kill()
	var pid int
	if _, err := fmtFscan(out, &pid); err != nil {
		t.Fatal(err)
	}
	defer syscallKill(pid)
	if err := Untouchable(pid); err != nil {
		t.Errorf("an ordinary process: %v", err)
	}
	// comm is the name of the file exec'd: a link named nsh:janitor.
	sleep, _ := exec.LookPath("sleep")
	link := t.TempDir() + "/nsh:janitor"
	os.Symlink(sleep, link)
	fake := exec.Command("sh", "-c", "'"+link+"' 10 & echo $!; wait")
	out, _ = fake.StdoutPipe()
	fake.Start()
	defer fake.Process.Kill()
	if _, err := fmtFscan(out, &pid); err != nil {
		t.Fatal(err)
	}
	defer syscallKill(pid)
	for i := 0; i < 100; i++ { // until the fork has exec'd
		if comm, _, _, _ := readStat(pid); comm == "nsh:janitor" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := Untouchable(pid); !errors.Is(err, ErrUntouchable) {
		t.Errorf("a process named nsh:janitor: %v", err)
	}
}

func fmtFscan(r interface{ Read([]byte) (int, error) }, pid *int) (int, error) {
	return fmt.Fscan(r, pid)
}

func syscallKill(pid int) { unix.Kill(pid, unix.SIGKILL) }
