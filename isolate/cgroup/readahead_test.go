package cgroup

import (
	"os"
	"reflect"
	"testing"
)

// The first detection parses what was read ahead (isolate's constructor,
// prefetch.c) instead of reading the files again, and only the first: the
// text handed over here is not this host's, so a detection that read the
// files would not find it.
func TestDetectReadAhead(t *testing.T) {
	mi := "40 23 0:99 / /nsh-test/unified rw,relatime - cgroup2 cgroup2 rw\n" +
		"41 23 0:98 / /nsh-test/pids rw,relatime - cgroup cgroup rw,pids\n"
	self := "1:pids:/from-ahead\n0::/from-ahead\n"
	ReadAhead([]byte(mi), []byte(self))
	h, err := detect()
	if err != nil {
		t.Fatal(err)
	}
	var got []Hierarchy
	for _, x := range h.Hierarchies {
		got = append(got, Hierarchy{V2: x.V2, Mount: x.Mount, Root: x.Root, Self: x.Self})
	}
	want := []Hierarchy{
		{V2: true, Mount: "/nsh-test/unified", Root: "/", Self: "/from-ahead"},
		{Mount: "/nsh-test/pids", Root: "/", Self: "/from-ahead"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("detected from what was read ahead:\n%+v\nwant\n%+v", got, want)
	}

	// The second reads the host's files.
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc/self/mountinfo here")
	}
	again, err := detect()
	if err != nil {
		t.Skipf("no cgroup hierarchy here: %v", err)
	}
	for _, x := range again.Hierarchies {
		if x.Mount == "/nsh-test/unified" || x.Mount == "/nsh-test/pids" || x.Self == "/from-ahead" {
			t.Errorf("the second detection used what was read ahead: %+v", *x)
		}
	}
}
