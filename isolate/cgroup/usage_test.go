package cgroup

import (
	"os"
	"path/filepath"
	"testing"
)

// Usage on a v2 tree (fake cgroupfs): figures from memory.current/peak/
// max, cpu.stat and cpu.max, pids.current/max, memory.events.
func TestUsageV2Fake(t *testing.T) {
	h := fakeV2(t, "memory cpu pids")
	g, err := New(h, Config{Settings: []Setting{{"memory.max", "104857600"}, {"cpu.max", "50000 100000"}}}, "nsh-usage-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer Cleanup()
	defer g.Remove(nil)
	d := g.UnifiedDir()
	for f, v := range map[string]string{"memory.current": "1048576\n", "memory.peak": "2097152\n", "pids.current": "3\n", "pids.max": "20\n",
		"cpu.stat":      "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 250000\n",
		"memory.events": "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n"} {
		if err := os.WriteFile(filepath.Join(d, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := g.Usage()
	want := Usage{MemCurrent: 1 << 20, MemPeak: 2 << 20, MemLimit: 104857600, OOMKills: 1, CPUUsec: 1500000, CPULimit: 0.5,
		Throttled: 4, ThrottledUsec: 250000, PidsCurrent: 3, PidsLimit: 20, ForksRefused: 0}
	if got != want {
		t.Errorf("Usage:\n got %+v\nwant %+v", got, want)
	}
	os.WriteFile(filepath.Join(d, "cpu.max"), []byte("max 100000\n"), 0o644)
	os.WriteFile(filepath.Join(d, "memory.max"), []byte("max\n"), 0o644)
	if u := g.Usage(); u.CPULimit != -1 || u.MemLimit != -1 {
		t.Errorf("no limits: CPULimit %v, MemLimit %v", u.CPULimit, u.MemLimit)
	}
}
