package cgroup

import (
	"regexp"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range [][2]string{
		{"memory.max", "100M"}, {"cpu.max", "0.5"}, {"cpu.max", "50000 100000"}, {"pids.max", "max"},
		{"io.max", "8:0 rbps=1"}, {"cpuset.cpus", "0-1"}, {"../etc", "x"}, {"memory.high", "1T"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		st, err := Parse(key, strings.Fields(value))
		if err != nil {
			return
		}
		if ValidateKey(st.Key) != nil || st.Value == "" || strings.ContainsAny(st.Key, "/") {
			t.Fatalf("Parse(%q, %q) accepted %+v", key, value, st)
		}
	})
}

// keyName says what the pattern it replaced said.
var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)

func FuzzKeyName(f *testing.F) {
	for _, k := range []string{"memory.max", "hugetlb.1GB.rsvd.max", "memory..max", ".max", "memory.", "memory",
		"Memory.max", "1memory.max", "_x.y", "x_.Y", "a.b.c", "a.b/c", "memory.max\n", "mémoire.max", "a.\xff", "a1.2"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := keyName(key), keyPattern.MatchString(key); got != want {
			t.Fatalf("keyName(%q) = %v, the pattern says %v", key, got, want)
		}
	})
}
