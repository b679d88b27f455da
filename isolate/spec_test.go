package isolate

import (
	"testing"

	"golang.org/x/sys/unix"

	"nsh/plan"
)

func TestCloneFlags(t *testing.T) {
	s := plan.Spec{Namespaces: []string{"uts", "pid", "time", "mnt"}}
	// time is unshared by the child stage, after clone.
	if got, want := cloneFlags(&s), uintptr(unix.CLONE_NEWUTS|unix.CLONE_NEWPID|unix.CLONE_NEWNS); got != want {
		t.Errorf("CloneFlags = %#x, want %#x", got, want)
	}
	if got := cloneFlagNames(&s); got != "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS" {
		t.Errorf("cloneFlagNames = %s", got)
	}
}

func TestParseNSLink(t *testing.T) {
	if ino, err := parseNSLink("uts:[4026531838]"); err != nil || ino != 4026531838 {
		t.Errorf("parseNSLink = %d, %v", ino, err)
	}
	for _, bad := range []string{"uts", "uts:[x]", "uts:[1"} {
		if _, err := parseNSLink(bad); err == nil {
			t.Errorf("parseNSLink(%q) accepted", bad)
		}
	}
}

func TestProcessNamespaces(t *testing.T) {
	es, err := ProcessNamespaces(0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		seen[e.Link] = e.Inode != 0
	}
	for _, l := range []string{"mnt", "uts", "pid", "user", "net", "ipc"} {
		if !seen[l] {
			t.Errorf("no inode for %s in %v", l, es)
		}
	}
	if _, err := ProcessNamespaces(1 << 30); err == nil {
		t.Error("a missing pid gave no error")
	}
}
