package isolate

import (
	"bufio"
	"encoding/binary"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// startStage makes a child stage as nsh does (cloneStage: the test binary
// links stage.c), started as nsh starts every process (track: the orphan
// reaper that other tests of the package start never takes its status).
// It returns its pid and nsh's end of its channel; the stage waits for its
// program.
func startStage(t *testing.T) (int, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
	defer theirs.Close()
	pid, err := track(false, func() (int, error) {
		return cloneStage(&stageClone{attr: &syscall.SysProcAttr{}, files: []*os.File{nil, nil, nil, theirs}, channel: ours, root: -1, cwd: -1})
	})
	if err != nil {
		ours.Close()
		t.Fatal(err)
	}
	return pid, ours
}

// runStage hands a new stage body as its program and returns the first
// line it sends back and its exit status.
func runStage(t *testing.T, body []byte) (string, int) {
	t.Helper()
	pid, ours := startStage(t)
	defer ours.Close()
	defer untrack(pid)
	msg := binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
	go ours.Write(append(msg, body...))
	line, _ := bufio.NewReader(ours).ReadString('\n')
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	if ws.Signaled() {
		t.Logf("the stage was killed by %v", ws.Signal())
	}
	return strings.TrimSpace(line), ws.ExitStatus()
}

// step is one step of a program in its wire form (program.encode).
func step(code byte, nargs int, args ...string) []byte {
	b := []byte{code, byte(nargs), byte(nargs >> 8)}
	for _, a := range args {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(a)))
		b = append(append(b, a...), 0)
	}
	return b
}

// The stage refuses a program that does not hold what it claims, and
// writes nothing past the memory it took for it: a step whose argument
// count is more than the program could hold, however small the count, a
// step cut short, an unknown step, and the same in a program too large
// for the stage's own memory.
func TestStageRefusesBadPrograms(t *testing.T) {
	big := strings.Repeat("x", 64<<10)
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"more arguments than the program holds", append([]byte{0}, step(opUnshare, 40, "1")...), `"error":"too many arguments"`},
		{"more arguments than any step may have", append([]byte{0}, step(opUnshare, 5000, "1")...), `"error":"too many arguments"`},
		{"a step cut short", append([]byte{0}, step(opUnshare, 2, "a long first argument")...), `"error":"truncated program"`},
		{"an unknown step", append([]byte{0}, step(250, 1, "1")...), `"error":"unknown step 250"`},
		{"an unknown step in a large program", append([]byte{0}, step(250, 1, big)...), `"error":"unknown step 250"`},
	} {
		line, code := runStage(t, c.body)
		if !strings.Contains(line, c.want) || code != 1 {
			t.Errorf("%s: the stage said %q and exited %d; want %s and 1", c.name, line, code, c.want)
		}
	}
}

// encode writes the wire form that step spells out, sized in one
// allocation: its length, then the explain flag, then each step.
func TestEncode(t *testing.T) {
	p := &program{}
	p.add(opExec, "", "exec", "/bin/true", "", strings.Repeat("x", 3000))
	p.add(opExec, "", "exec")
	for _, explain := range []bool{false, true} {
		body := []byte{0}
		if explain {
			body[0] = 1
		}
		body = append(body, step(opExec, 3, "/bin/true", "", strings.Repeat("x", 3000))...)
		body = append(body, step(opExec, 0)...)
		want := append(binary.LittleEndian.AppendUint32(nil, uint32(len(body))), body...)
		got := p.encode(explain)
		if string(got) != string(want) {
			t.Fatalf("encode(%v): %d bytes, want %d (%q...)", explain, len(got), len(want), got[:min(len(got), 16)])
		}
		if cap(got) != len(got) {
			t.Errorf("encode(%v): cap %d for %d bytes: not sized before it was filled", explain, cap(got), len(got))
		}
	}
}
