package cgroup

import (
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
