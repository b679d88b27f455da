package cgroup

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The v2 logic on a fake cgroupfs: a directory tree whose mkdir makes the
// interface files the kernel would for the controllers the parent passes
// on, so no v2 host is needed to test it.

var fakeFiles = map[string]map[string]string{
	"memory": {"memory.max": "max", "memory.high": "max", "memory.low": "0", "memory.min": "0", "memory.swap.max": "max",
		"memory.current": "0", "memory.peak": "0", "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
	"cpu":    {"cpu.max": "max 100000", "cpu.weight": "100"},
	"pids":   {"pids.max": "max", "pids.current": "0", "pids.events": "max 0\n"},
	"cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
	"io":     {"io.max": ""},
}

func fakeMkdir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	var ctrls []string
	for _, c := range readFields(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control")) {
		ctrls = append(ctrls, strings.TrimPrefix(c, "+"))
	}
	files := map[string]string{"cgroup.procs": "", "cgroup.controllers": strings.Join(ctrls, " "),
		"cgroup.subtree_control": "", "cgroup.kill": "", "cpu.stat": "usage_usec 0\n"}
	for _, c := range ctrls {
		for f, v := range fakeFiles[c] {
			files[f] = v
		}
	}
	for f, v := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// fakeV2 makes a v2 tree with nsh in /user.slice, alone unless others.
func fakeV2(t *testing.T, parentCtrls string, others ...int) *Host {
	t.Helper()
	oldMk, oldRm := mkdir, rmdir
	mkdir, rmdir = fakeMkdir, func(d string) error { return os.RemoveAll(d) }
	noJanitor = true
	t.Cleanup(func() { mkdir, rmdir, noJanitor = oldMk, oldRm, false })
	root := t.TempDir()
	procs := strconv.Itoa(os.Getpid()) + "\n"
	for _, o := range others {
		procs += strconv.Itoa(o) + "\n"
	}
	for f, v := range map[string]string{
		"cgroup.controllers":                "memory cpu pids cpuset io",
		"user.slice/cgroup.controllers":     parentCtrls,
		"user.slice/cgroup.subtree_control": "",
		"user.slice/cgroup.procs":           procs,
	} {
		p := filepath.Join(root, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &Host{Mode: V2, Hierarchies: []*Hierarchy{{V2: true, Controllers: strings.Fields(parentCtrls), Mount: root, Root: "/", Self: "/user.slice"}}}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestV2FakeCreateSetRemove(t *testing.T) {
	h := fakeV2(t, "memory cpu pids cpuset io")
	root := h.Hierarchies[0].Mount
	parent := filepath.Join(root, "user.slice")
	var steps []string
	step := func(s string) { steps = append(steps, s) }
	settings := []Setting{{"memory.max", "104857600"}, {"cpu.max", "50000 100000"}, {"pids.max", "20"}, {"cpuset.cpus", "0"}}
	g, err := New(h, Config{Settings: settings}, "nsh-test-1", step)
	if err != nil {
		t.Fatal(err)
	}
	// nsh was alone in its cgroup: it moved into a leaf before passing
	// controllers on (the no-internal-process rule).
	leaf := filepath.Join(parent, NamePrefix()+"-self")
	if got := read(t, filepath.Join(leaf, "cgroup.procs")); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("leaf cgroup.procs = %q", got)
	}
	if got := read(t, filepath.Join(parent, "cgroup.subtree_control")); got != "+memory +cpu +pids +cpuset" {
		t.Errorf("subtree_control = %q", got)
	}
	leafAt, enableAt := -1, -1
	for i, s := range steps {
		if strings.Contains(s, "-self/cgroup.procs") {
			leafAt = i
		}
		if strings.Contains(s, "cgroup.subtree_control") {
			enableAt = i
		}
	}
	if leafAt < 0 || enableAt < leafAt {
		t.Errorf("controllers enabled before nsh left the parent:\n%s", strings.Join(steps, "\n"))
	}
	child := filepath.Join(parent, "nsh-test-1")
	if g.UnifiedDir() != child {
		t.Errorf("UnifiedDir = %s", g.UnifiedDir())
	}
	// pids.max is left to the child stage, right before execve.
	if d := g.Deferred(); len(d) != 1 || d[0] != (Deferred{filepath.Join(child, "pids.max"), "20"}) {
		t.Errorf("Deferred = %+v", d)
	}
	for f, want := range map[string]string{"memory.max": "104857600", "cpu.max": "50000 100000", "pids.max": "max", "cpuset.cpus": "0"} {
		if got := read(t, filepath.Join(child, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	// Live update.
	if err := g.Set([]Setting{{"memory.max", "209715200"}}, settings, step); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(child, "memory.max")); got != "209715200" {
		t.Errorf("live memory.max = %q", got)
	}
	if stats := g.Stats(); len(stats) == 0 || stats[0].Name != "memory current" {
		t.Errorf("Stats = %+v", stats)
	}
	if err := g.Remove(step); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(child); !os.IsNotExist(err) {
		t.Errorf("child cgroup left: %v", err)
	}
	Cleanup()
	if _, err := os.Stat(leaf); !os.IsNotExist(err) {
		t.Errorf("leaf left: %v", err)
	}
	if got := read(t, filepath.Join(parent, "cgroup.subtree_control")); got != "-memory -cpu -pids -cpuset" {
		t.Errorf("subtree_control after cleanup = %q", got)
	}
	if got := read(t, filepath.Join(parent, "cgroup.procs")); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("nsh not moved back: parent cgroup.procs = %q", got)
	}
}

func TestV2FakeOtherProcessInParent(t *testing.T) {
	h := fakeV2(t, "memory cpu pids", 1)
	parent := filepath.Join(h.Hierarchies[0].Mount, "user.slice")
	_, err := New(h, Config{}, "nsh-test-2", nil)
	if err == nil || !strings.Contains(err.Error(), "no-internal-process rule") || !strings.Contains(err.Error(), "pid 1") {
		t.Fatalf("New with another process in the parent: %v", err)
	}
	ents, _ := os.ReadDir(parent)
	for _, e := range ents {
		if e.IsDir() {
			t.Errorf("left %s behind", e.Name())
		}
	}
	Cleanup()
}

func TestV2FakeNotDelegated(t *testing.T) {
	h := fakeV2(t, "memory pids")
	_, err := New(h, Config{Settings: []Setting{{"cpu.weight", "50"}}}, "nsh-test-3", nil)
	if err == nil || !strings.Contains(err.Error(), "controller cpu is not") {
		t.Fatalf("New needing an undelegated controller: %v", err)
	}
	Cleanup()
}

func TestV2FakeUnknownFile(t *testing.T) {
	h := fakeV2(t, "memory cpu pids")
	h.Hierarchies[0].Controllers = append(h.Hierarchies[0].Controllers, "hugetlb")
	_, err := New(h, Config{Settings: []Setting{{"memory.nosuchfile", "1"}}}, "nsh-test-4", nil)
	if err == nil || !strings.Contains(err.Error(), "no such interface file") {
		t.Fatalf("New with an unknown file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(h.Hierarchies[0].Mount, "user.slice", "nsh-test-4")); !os.IsNotExist(err) {
		t.Errorf("a refused setting left its cgroup: %v", err)
	}
	Cleanup()
}

func TestV2FakeAtRoot(t *testing.T) {
	h := fakeV2(t, "memory cpu pids")
	h.Hierarchies[0].Self = "/"
	os.WriteFile(filepath.Join(h.Hierarchies[0].Mount, "cgroup.procs"), []byte("1\n"), 0o644)
	g, err := New(h, Config{Settings: []Setting{{"pids.max", "5"}}}, "nsh-test-5", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The root may hold processes and pass controllers on: no leaf.
	if _, err := os.Stat(filepath.Join(h.Hierarchies[0].Mount, NamePrefix()+"-self")); !os.IsNotExist(err) {
		t.Error("a leaf was made at the root")
	}
	if d := g.Deferred(); len(d) != 1 || d[0].Value != "5" {
		t.Errorf("Deferred = %+v", d)
	}
	g.Remove(nil)
	Cleanup()
}

func TestUse(t *testing.T) {
	h := fakeV2(t, "memory cpu pids")
	g, err := New(h, Config{Use: "/user.slice"}, "ignored", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.UnifiedDir() != filepath.Join(h.Hierarchies[0].Mount, "user.slice") {
		t.Errorf("use dir %s", g.UnifiedDir())
	}
	g.Remove(nil) // not nsh's: stays
	if _, err := os.Stat(g.UnifiedDir()); err != nil {
		t.Errorf("cgroup use removed the cgroup: %v", err)
	}
	if _, err := New(h, Config{Use: "/nope"}, "x", nil); err == nil {
		t.Error("use of a missing cgroup succeeded")
	}
}

// Controllers nsh turned on stay on while another cgroup below the parent
// (another nsh's child, say) may use them: turning one off would take its
// files from that cgroup (seen on a pure v2 host in qemu, dev/vm.sh).
func TestV2FakeCleanupKeepsOthersControllers(t *testing.T) {
	h := fakeV2(t, "memory pids")
	parent := filepath.Join(h.Hierarchies[0].Mount, "user.slice")
	g, err := New(h, Config{Settings: []Setting{{"memory.max", "104857600"}}}, "nsh-test-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(parent, "nsh-other-1")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	g.Remove(nil)
	Cleanup()
	if got := read(t, filepath.Join(parent, "cgroup.subtree_control")); got != "+memory +pids" {
		t.Errorf("subtree_control after cleanup beside another cgroup = %q, want them left on", got)
	}
}

// A v1 file the kernel does not offer (blkio.weight without the BFQ
// scheduler) is refused when it is planned, not at the next spawn.
func TestV1CheckFileNotOffered(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "user.slice"), 0o755)
	h := &Host{Mode: V1, Hierarchies: []*Hierarchy{{Controllers: []string{"blkio"}, Mount: root, Root: "/", Self: "/user.slice"}}}
	err := h.Check([]Setting{{"io.weight", "50"}})
	if err == nil || !strings.Contains(err.Error(), "blkio.weight: no such interface file") {
		t.Fatalf("Check without blkio.weight: %v", err)
	}
	os.WriteFile(filepath.Join(root, "user.slice", "blkio.weight"), []byte("500\n"), 0o644)
	if err := h.Check([]Setting{{"io.weight", "50"}}); err != nil {
		t.Fatalf("Check with blkio.weight: %v", err)
	}
	// At the root, whose files are not its children's, nothing is said.
	os.Remove(filepath.Join(root, "user.slice", "blkio.weight"))
	h.Hierarchies[0].Self = "/"
	if err := h.Check([]Setting{{"io.weight", "50"}}); err != nil {
		t.Fatalf("Check at the root: %v", err)
	}
}

// A parent that is gone is named as such, whether nsh's own (no stat
// before its mkdir: the mkdir's ENOENT says it) or one `cgroup parent`
// named, and whether or not controllers are enabled in it first.
func TestMissingParent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		parent string
		ctrls  string
	}{
		{"own, no controllers", "", ""},
		{"own, controllers", "", "memory pids"},
		{"named", "/gone.slice", "memory pids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeV2(t, tc.ctrls)
			x := h.Hierarchies[0]
			gone := "/user.slice"
			if tc.parent != "" {
				gone = tc.parent
			} else if err := os.RemoveAll(x.Dir(x.Self)); err != nil {
				t.Fatal(err)
			}
			_, err := New(h, Config{Parent: tc.parent}, "nsh-test", nil)
			want := "parent cgroup " + x.Dir(gone) + " does not exist"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("New under a missing parent: %v, want %q", err, want)
			}
			if _, err := os.Stat(filepath.Join(x.Dir(gone), "nsh-test")); err == nil {
				t.Fatal("a cgroup was made under a missing parent")
			}
		})
	}
}
