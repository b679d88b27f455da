package cgroup

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := []struct {
		key  string
		args []string
		want string
	}{
		{"memory.max", []string{"100M"}, "104857600"},
		{"memory.max", []string{"1G"}, "1073741824"},
		{"memory.max", []string{"512k"}, "524288"},
		{"memory.max", []string{"262144"}, "262144"},
		{"memory.max", []string{"max"}, "max"},
		{"memory.swap.max", []string{"0"}, "0"},
		{"memory.high", []string{"80M"}, "83886080"},
		{"cpu.max", []string{"50000", "100000"}, "50000 100000"},
		{"cpu.max", []string{"0.5"}, "50000 100000"},
		{"cpu.max", []string{"2"}, "2 100000"[0:0] + "2 100000"},
		{"cpu.max", []string{"max"}, "max 100000"},
		{"cpu.max", []string{"max", "50000"}, "max 50000"},
		{"cpu.weight", []string{"50"}, "50"},
		{"pids.max", []string{"20"}, "20"},
		{"pids.max", []string{"max"}, "max"},
		{"cpuset.cpus", []string{"0"}, "0"},
		{"io.max", []string{"8:0", "rbps=1048576", "wiops=max"}, "8:0 rbps=1048576 wiops=max"},
		{"memory.swappiness", []string{"10"}, "10"},
	}
	for _, tt := range good {
		got, err := Parse(tt.key, tt.args)
		if tt.key == "cpu.max" && tt.args[0] == "2" {
			// a whole number alone is a quota in µs with the default period
			if err == nil {
				t.Errorf("cpu.max 2 (2µs) was accepted: %v", got)
			}
			continue
		}
		if err != nil || got.Value != tt.want || got.Key != tt.key {
			t.Errorf("Parse(%s %v) = %+v, %v; want %q", tt.key, tt.args, got, err, tt.want)
		}
	}
	bad := []struct {
		key  string
		args []string
		want string
	}{
		{"memory.max", []string{"lots"}, "bad size"},
		{"memory.max", []string{"-1"}, "bad size"},
		{"memory.max", []string{"99999999T"}, "too large"},
		{"memory.max", nil, "needs a value"},
		{"memory.max", []string{"1M", "2M"}, "takes one value"},
		{"cpu.max", []string{"0"}, "bad quota"},
		{"cpu.max", []string{"-0.5"}, "bad value"},
		{"cpu.max", []string{"0", "100000"}, "bad quota"},
		{"cpu.max", []string{"-5", "100000"}, "bad quota"},
		{"cpu.max", []string{"500", "100000"}, "below the kernel's least"},
		{"cpu.max", []string{"50000", "10"}, "bad period"},
		{"cpu.max", []string{"0.001"}, "below the kernel's least"},
		{"cpu.weight", []string{"0"}, "from 1 to 10000"},
		{"cpu.weight", []string{"10001"}, "from 1 to 10000"},
		{"pids.max", []string{"0"}, "bad value"},
		{"pids.max", []string{"-3"}, "bad value"},
		{"cpuset.cpus", []string{"9999"}, "is not on this machine"},
		{"cpuset.cpus", []string{"a-b"}, "bad list"},
		{"io.max", []string{"8:0"}, "at least one of"},
		{"io.max", []string{"sda", "rbps=1"}, "bad device"},
		{"io.max", []string{"8:0", "speed=1"}, "bad limit"},
		{"io.max", []string{"8:0", "rbps=0"}, "bad limit"},
		{"../../etc/passwd", []string{"x"}, "bad key"},
		{"memory.max/../../x", []string{"x"}, "bad key"},
		{"memory", []string{"x"}, "bad key"},
		{"cgroup.procs", []string{"1"}, "cgroup core state"},
		{"cgroup.subtree_control", []string{"+memory"}, "cgroup core state"},
	}
	for _, tt := range bad {
		if got, err := Parse(tt.key, tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s %v) = %+v, %v; want an error with %q", tt.key, tt.args, got, err, tt.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for in, want := range map[string]string{"104857600": "100M", "1073741824": "1G", "1000": "1000", "max": "max", "1536": "1536"} {
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%s) = %s, want %s", in, got, want)
		}
	}
}

// The reference values are runc's own (opencontainers/cgroups,
// utils_test.go TestConvertCPUSharesToCgroupV2Value: 2->1, 3->2, 1024->100,
// 262143->10000, 262144->10000) and, for the default, systemd's
// (CGROUP_CPU_SHARES_DEFAULT 1024 <-> CGROUP_WEIGHT_DEFAULT 100).
// hugetlb and io.weight land in their v1 files as runc writes them.
func TestV1Hugetlb(t *testing.T) {
	x := &Hierarchy{Controllers: []string{"hugetlb"}, Mount: "/h", Root: "/", Self: "/"}
	w, err := v1Writes(x, Setting{"hugetlb.2MB.max", "4194304"}, nil)
	if err != nil || len(w) != 1 || w[0].File != "hugetlb.2MB.limit_in_bytes" || w[0].Value != "4194304" {
		t.Errorf("hugetlb.2MB.max on v1: %v %v", w, err)
	}
	for w, b := range map[uint64]uint64{1: 10, 100: 20, 5000: 505, 10000: 1000} {
		if got := IOWeightToBlkio(w); got != b {
			t.Errorf("IOWeightToBlkio(%d) = %d, want %d", w, got, b)
		}
	}
	if err := ValidateKey("hugetlb.1GB.rsvd.max"); err != nil {
		t.Error(err)
	}
}

func TestWeightShares(t *testing.T) {
	for s, w := range map[uint64]uint64{1: 1, 2: 1, 3: 2, 1024: 100, 262143: 10000, 262144: 10000, 262145: 10000} {
		if got := SharesToWeight(s); got != w {
			t.Errorf("SharesToWeight(%d) = %d, want %d (runc)", s, got, w)
		}
	}
	for w, s := range map[uint64]uint64{1: 2, 2: 5, 100: 1024, 10000: 262144} {
		if got := WeightToShares(w); got != s {
			t.Errorf("WeightToShares(%d) = %d, want %d", w, got, s)
		}
	}
	// Every weight survives the round trip runc makes of an exported
	// bundle on v2, and a lower weight never gets more shares.
	prev := uint64(0)
	for w := uint64(1); w <= 10000; w++ {
		s := WeightToShares(w)
		if back := SharesToWeight(s); back != w {
			t.Fatalf("weight %d -> %d shares -> weight %d", w, s, back)
		}
		if s <= prev {
			t.Fatalf("weight %d -> %d shares, not above weight %d's %d", w, s, w-1, prev)
		}
		prev = s
	}
	if s := WeightToShares(50); s >= 1024 {
		t.Errorf("weight 50 -> %d shares, above the v1 default for a weight below the v2 default", s)
	}
}

// The v1 translation, on a host described by hand.
func TestV1Writes(t *testing.T) {
	mem := &Hierarchy{Controllers: []string{"memory"}, Mount: "/m", Root: "/", Self: "/"}
	cpu := &Hierarchy{Controllers: []string{"cpu", "cpuacct"}, Mount: "/c", Root: "/", Self: "/"}
	pids := &Hierarchy{Controllers: []string{"pids"}, Mount: "/p", Root: "/", Self: "/"}
	blkio := &Hierarchy{Controllers: []string{"blkio"}, Mount: "/b", Root: "/", Self: "/"}
	h := &Host{Mode: V1, Hierarchies: []*Hierarchy{mem, cpu, pids, blkio}}
	settings := []Setting{
		{"memory.max", "104857600"}, {"memory.swap.max", "10485760"}, {"memory.low", "max"},
		{"cpu.max", "50000 100000"}, {"cpu.weight", "100"}, {"pids.max", "20"},
		{"io.max", "8:0 rbps=100 wiops=max"},
	}
	got, err := h.writes(settings)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, w := range got {
		lines = append(lines, w.Hierarchy.Mount+" "+w.File+"="+w.Value)
	}
	want := []string{
		"/m memory.limit_in_bytes=104857600",
		"/m memory.memsw.limit_in_bytes=115343360",
		"/m memory.soft_limit_in_bytes=-1",
		"/c cpu.cfs_period_us=100000", "/c cpu.cfs_quota_us=50000",
		"/c cpu.shares=1024",
		"/p pids.max=20",
		"/b blkio.throttle.read_bps_device=8:0 100", "/b blkio.throttle.write_iops_device=8:0 0",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("v1 writes:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range [][]Setting{{{"memory.high", "1"}}, {{"memory.swap.max", "1"}}, {{"hugetlb.2MB.max", "1"}}} {
		if _, err := h.writes(s); err == nil {
			t.Errorf("v1 accepted %v", s)
		}
	}
}
