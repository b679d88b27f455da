package importer

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nsh/export"
	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
	"nsh/isolate/seccomp"
	"nsh/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Each config of the corpus imports; what it leaves out is listed with
// its JSON path, and the plan is as the golden file says.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) < 4 {
		t.Fatalf("the corpus is missing: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res, err := ReadOCI(f)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, u := range res.Unapplied {
				b.WriteString("not applied: " + u.String() + "\n")
			}
			j, _ := json.MarshalIndent(res.Spec, "", "  ")
			abs, _ := filepath.Abs("testdata")
			b.WriteString(strings.ReplaceAll(string(j), abs, "TESTDATA") + "\n")
			golden := strings.TrimSuffix(f, ".json") + ".plan"
			if *update {
				os.WriteFile(golden, []byte(b.String()), 0o644)
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./importer -update writes it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("%s: the import differs from %s:\n%s", f, golden, b.String())
			}
		})
	}
}

func TestMisspelledFieldsNamedByPath(t *testing.T) {
	res, err := ReadOCI("testdata/misspelled.json")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, u := range res.Unapplied {
		if strings.Contains(u.Why, "not a field of the runtime spec") {
			paths = append(paths, u.Path)
		}
	}
	if strings.Join(paths, " ") != "linux.resources.memroy process.noNewPrivilegs" {
		t.Errorf("unknown fields reported: %v", paths)
	}
}

// plans are the corpus of plans export oci writes and import oci reads
// back: the export tests' session and variants that reach every mapping.
func plans() map[string]*plan.Spec {
	docker := capability.Docker
	base := func() *plan.Spec {
		return &plan.Spec{
			Namespaces: []string{"uts", "pid", "mnt", "ipc", "net"},
			Rootfs:     &plan.Rootfs{Dir: "/srv/root"},
		}
	}
	out := map[string]*plan.Spec{}
	s := base()
	s.Hostname = "box"
	s.Caps = &plan.Caps{Bounding: docker, Permitted: docker, Effective: docker, Preset: "docker"}
	s.Cgroup = &cgroup.Config{Settings: []cgroup.Setting{
		{Key: "memory.max", Value: "104857600"}, {Key: "memory.swap.max", Value: "10485760"}, {Key: "memory.low", Value: "1048576"},
		{Key: "memory.swappiness", Value: "10"}, {Key: "cpu.max", Value: "50000 100000"}, {Key: "cpu.weight", Value: "50"},
		{Key: "cpuset.cpus", Value: "0"}, {Key: "pids.max", Value: "20"}, {Key: "io.weight", Value: "300"},
		{Key: "io.max", Value: "7:0 rbps=1048576 wiops=100"}, {Key: "memory.high", Value: "90000000"},
	}, Parent: "/nshtest", Devices: []cgroup.DeviceRule{{Allow: true, Type: "c", Major: 10, Minor: 200, Access: "rwm"}}}
	out["limits"] = s
	s = base()
	s.Namespaces = append(s.Namespaces, "user", "time")
	s.Map = &plan.IDMap{Mode: "id", UID: 1000, GID: 1000}
	s.Time = plan.TimeOffsets{Monotonic: -60, Boottime: 86400}
	s.User = &plan.User{UID: 1000, GID: 1000}
	s.NoNewPrivs = true
	s.Caps = &plan.Caps{Bounding: 1 << 10, Permitted: 1 << 10, Effective: 1 << 10}
	s.Sysctls = []plan.Sysctl{{Key: "net.ipv4.ping_group_range", Value: "0 0"}}
	out["userns"] = s
	s = base()
	s.Caps = &plan.Caps{Bounding: docker, Permitted: docker, Effective: docker, Preset: "docker"}
	s.Seccomp = &seccomp.Plan{Preset: "docker", Rules: []seccomp.Rule{{Names: []string{"mkdir"}, Action: seccomp.Action{Kind: "errno", Errno: 13}}}}
	s.Rlimits = []plan.Rlimit{{Name: "core", Soft: 0, Hard: plan.Unlimited}, {Name: "nofile", Soft: 64, Hard: 128}}
	s.Mounts = []plan.Mount{{Type: "tmpfs", Target: "/scratch", Options: "size=1m,mode=755"}, {Type: "bind", Source: "/etc", Target: "/hostetc", ReadOnly: true}, {Type: "proc", Target: "/proc2"}}
	s.Command, s.Env, s.Cwd, s.Terminal = []string{"/bin/sh", "-c", "echo hi"}, []string{"A=1"}, "/tmp", true
	out["seccomp-process"] = s
	s = base()
	s.Rootfs.ReadOnly = true
	s.Join = []plan.Join{{Type: "cgroup", Path: "/proc/1/ns/cgroup", Ref: "/proc/1/ns/cgroup"}}
	out["join-ro"] = s
	return out
}

// export oci A; reset; import oci A; export oci B: A and B are the same
// bytes, for every plan of the corpus.
func TestRoundTrip(t *testing.T) {
	for name, sp := range plans() {
		a := exportBytes(t, sp)
		res, err := OCI(a, "/")
		if err != nil {
			t.Fatalf("%s: import: %v", name, err)
		}
		b := exportBytes(t, res.Spec)
		if string(a) != string(b) {
			t.Errorf("%s: the round trip changed the config:\n%s\n----\n%s", name, a, b)
		}
	}
}

func exportBytes(t *testing.T, sp *plan.Spec) []byte {
	t.Helper()
	b, _, err := export.OCIJSON(sp, isolate.HostCaps(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Fail closed: what nsh cannot apply and would leave the child with more
// than the config gives it refuses the import (attack_import.txtar runs
// the same against a runc spec config, and a seccomp profile this host's
// libseccomp cannot compile, which the import command asks the mechanism).
func TestRefusesWhatWouldGiveMore(t *testing.T) {
	for name, cfg := range map[string]string{
		"linux.uidMappings": `{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]}}`,
	} {
		res, err := OCI([]byte(cfg), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: imported (%v), err %v", name, res, err)
		}
	}
}
