package isolate

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseNamespace(t *testing.T) {
	for in, want := range map[string]string{"uts": "uts", "MOUNT": "mnt", "mnt": "mnt", "Time": "time"} {
		if got, err := ParseNamespace(in); err != nil || got != want {
			t.Errorf("ParseNamespace(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseNamespace("network"); err == nil || !strings.Contains(err.Error(), "use one of cgroup ipc mnt net pid time user uts") {
		t.Errorf("ParseNamespace(network) = %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := []Spec{
		{},
		{Namespaces: []string{"uts"}, Hostname: "foobar"},
		{Namespaces: []string{"user"}, Map: &IDMap{Mode: "id", UID: 1000, GID: 1000}},
		{Namespaces: []string{"time"}, Time: TimeOffsets{Boottime: -86400}},
	}
	for _, s := range ok {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	bad := map[string]Spec{
		"needs a new uts":   {Hostname: "x"},
		"needs a new user":  {Map: &IDMap{Mode: "root"}},
		"need a new time":   {Time: TimeOffsets{Monotonic: 1}},
		"listed twice":      {Namespaces: []string{"uts", "uts"}},
		"unknown namespace": {Namespaces: []string{"net2"}},
		"at most 64":        {Namespaces: []string{"uts"}, Hostname: strings.Repeat("a", 65)},
		"too large":         {Namespaces: []string{"time"}, Time: TimeOffsets{Boottime: 1 << 40}},
		"unknown id map":    {Namespaces: []string{"user"}, Map: &IDMap{Mode: "weird"}},
	}
	for want, s := range bad {
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: got %v, want an error with %q", s, err, want)
		}
	}
}

func TestCloneFlags(t *testing.T) {
	s := Spec{Namespaces: []string{"uts", "pid", "time", "mnt"}}
	// time is unshared by the child stage, after clone.
	if got, want := s.CloneFlags(), uintptr(unix.CLONE_NEWUTS|unix.CLONE_NEWPID|unix.CLONE_NEWNS); got != want {
		t.Errorf("CloneFlags = %#x, want %#x", got, want)
	}
	if got := cloneFlagNames(&s); got != "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS" {
		t.Errorf("cloneFlagNames = %s", got)
	}
}

func TestCloneIsDeep(t *testing.T) {
	s := &Spec{Namespaces: []string{"user"}, Map: &IDMap{Mode: "root"}}
	c := s.Clone()
	c.Namespaces[0] = "uts"
	c.Map.Mode = "none"
	if s.Namespaces[0] != "user" || s.Map.Mode != "root" {
		t.Errorf("Clone shares memory with the original: %+v", s)
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
