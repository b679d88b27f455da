package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeJanitor stands a pipe in for the janitor's: what nsh tells it can be
// read back. The tree is plain directories (three v1 hierarchies).
func fakeJanitor(t *testing.T) (h *Host, lines func() string) {
	t.Helper()
	root := t.TempDir()
	h = &Host{Mode: V1}
	for _, c := range []string{"memory", "cpu", "pids"} {
		if err := os.Mkdir(filepath.Join(root, c), 0o755); err != nil {
			t.Fatal(err)
		}
		h.Hierarchies = append(h.Hierarchies, &Hierarchy{Controllers: []string{c}, Mount: filepath.Join(root, c), Root: "/", Self: "/"})
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Fd puts the file in blocking mode: taken once, before.
	rfd := int(r.Fd())
	syscall.SetNonblock(rfd, true)
	oldIn, oldPid, oldStatus, oldPending, oldMk, oldRm := janIn, janPid, janStatus, janPending, mkdir, rmdir
	janIn, janPid, janStatus, janPending = w, 0, -1, 0
	t.Cleanup(func() {
		w.Close()
		r.Close()
		janIn, janPid, janStatus, janPending, mkdir, rmdir = oldIn, oldPid, oldStatus, oldPending, oldMk, oldRm
	})
	return h, func() string {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := syscall.Read(rfd, buf)
			if n <= 0 || err != nil {
				return b.String()
			}
			b.Write(buf[:n])
		}
	}
}

// A child's directories are announced all together before the first
// mkdir (each write wakes the janitor), confirmed together after the
// last, and their removal told in one write.
func TestJanitorHearsOfAGroupAtOnce(t *testing.T) {
	h, lines := fakeJanitor(t)
	var before []string
	mkdir = func(d string) error {
		before = append(before, lines())
		return os.Mkdir(d, 0o755)
	}
	rmdir = os.Remove
	g, err := New(h, Config{}, "nsh-t-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, d := range g.dirs {
		dirs = append(dirs, d.dir)
	}
	if len(dirs) != 3 {
		t.Fatalf("dirs %v, want one in each of the three hierarchies", dirs)
	}
	if want := "add " + strings.Join(dirs, "\nadd ") + "\n"; len(before) != 3 || before[0] != want || before[1] != "" || before[2] != "" {
		t.Fatalf("the janitor had heard %q before each mkdir, want all three adds before the first", before)
	}
	if got, want := lines(), "made "+strings.Join(dirs, "\nmade ")+"\n"; got != want {
		t.Fatalf("after the mkdirs the janitor heard %q, want %q", got, want)
	}
	if janPending != 3 {
		t.Fatalf("pending %d, want 3", janPending)
	}
	if err := g.Remove(nil); err != nil {
		t.Fatal(err)
	}
	if got := lines(); strings.Count(got, "del ") != 3 || janPending != 0 {
		t.Fatalf("after Remove the janitor heard %q (pending %d), want three dels", got, janPending)
	}
}

// A failed mkdir withdraws the directories not made; one made stays
// announced until it is removed; one whose rmdir fails stays announced,
// for the janitor to try again when nsh ends.
func TestJanitorWithdrawsWhatWasNotMade(t *testing.T) {
	h, lines := fakeJanitor(t)
	mkdir = func(d string) error {
		if strings.Contains(d, "/cpu/") {
			return syscall.EACCES
		}
		return os.Mkdir(d, 0o755)
	}
	rmdir = os.Remove
	if _, err := New(h, Config{}, "nsh-t-2", nil); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("New: %v, want EACCES", err)
	}
	mem, cpu, pids := filepath.Join(h.Hierarchies[0].Mount, "nsh-t-2"), filepath.Join(h.Hierarchies[1].Mount, "nsh-t-2"), filepath.Join(h.Hierarchies[2].Mount, "nsh-t-2")
	want := "add " + mem + "\nadd " + cpu + "\nadd " + pids + "\n" +
		"del " + cpu + "\ndel " + pids + "\n" + // withdrawn: not made
		"del " + mem + "\n" // made, then removed by New's Remove
	if got := lines(); got != want || janPending != 0 {
		t.Fatalf("the janitor heard %q (pending %d), want %q", got, janPending, want)
	}
	if _, err := os.Stat(mem); !os.IsNotExist(err) {
		t.Fatalf("%s left: %v", mem, err)
	}

	mkdir = func(d string) error { return os.Mkdir(d, 0o755) }
	g, err := New(h, Config{}, "nsh-t-3", nil)
	if err != nil {
		t.Fatal(err)
	}
	lines()
	rmdir = func(d string) error {
		if strings.Contains(d, "/pids/") {
			return syscall.EACCES
		}
		return os.Remove(d)
	}
	if err := g.Remove(nil); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("Remove: %v, want EACCES", err)
	}
	if got := lines(); strings.Contains(got, "/pids/") || strings.Count(got, "del ") != 2 || janPending != 1 {
		t.Fatalf("after a failed rmdir the janitor heard %q (pending %d), want the other two dels and the failed one still announced", got, janPending)
	}
}
