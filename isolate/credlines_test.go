package isolate

import (
	"bytes"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Lines longer than one read's buffer come whole, each with its
// sender's pid.
func TestCredLinesLongLines(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, w := os.NewFile(uintptr(fds[0]), "r"), os.NewFile(uintptr(fds[1]), "w")
	defer r.Close()
	if err := passCredentials(r); err != nil {
		t.Fatal(err)
	}
	long := bytes.Repeat([]byte("x"), 100<<10)
	go func() {
		w.Write([]byte("short\n"))
		w.Write(append(append([]byte{}, long...), '\n'))
		w.Write([]byte("last\n"))
		w.Close()
	}()
	lines := newCredLines(r)
	for _, want := range [][]byte{[]byte("short"), long, []byte("last")} {
		line, pid, err := lines.next()
		if err != nil || !bytes.Equal(line, want) || pid != os.Getpid() {
			t.Fatalf("got %d bytes from pid %d (%v), want %d bytes from %d", len(line), pid, err, len(want), os.Getpid())
		}
	}
	if line, _, err := lines.next(); line != nil || err != nil {
		t.Fatalf("after the last line: %q, %v", line, err)
	}
}
