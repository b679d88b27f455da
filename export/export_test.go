package export

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
	"nsh/isolate/seccomp"
	"nsh/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./export -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

func session() *plan.Spec {
	return &plan.Spec{
		Namespaces: []string{"uts", "pid", "mnt", "ipc", "net", "user"},
		Hostname:   "box",
		Map:        &plan.IDMap{Mode: "root"},
		Caps:       &plan.Caps{Bounding: capability.Docker, Permitted: capability.Docker, Effective: capability.Docker, Preset: "docker"},
		User:       &plan.User{UID: 1000, GID: 1000},
		NoNewPrivs: true,
		Sysctls:    []plan.Sysctl{{Key: "net.ipv4.ping_group_range", Value: "0 0"}},
		Net:        &plan.Net{LoUp: true},
		Mounts:     []plan.Mount{{Type: "tmpfs", Target: "/scratch", Options: "size=1m"}},
		Cgroup: &cgroup.Config{Settings: []cgroup.Setting{
			{Key: "memory.max", Value: "104857600"}, {Key: "pids.max", Value: "20"}, {Key: "cpu.max", Value: "50000 100000"},
		}},
	}
}

func TestShellGolden(t *testing.T) {
	sp := session()
	got, err := Shell(sp)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "session.sh", got)
	sp.Net.Veths = []plan.Veth{{HostAddr: "198.51.100.1/24", ChildAddr: "198.51.100.2/24"}}
	sp.Rootfs = &plan.Rootfs{Dir: "/srv/root", ReadOnly: true}
	got, err = Shell(sp)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "rootfs-veth.sh", got)
}

func TestOCIGolden(t *testing.T) {
	sp := session()
	if _, _, err := OCI(sp, isolate.HostCaps(), nil); err == nil || !strings.Contains(err.Error(), "needs a root filesystem") {
		t.Errorf("OCI without a rootfs: %v", err)
	}
	sp.Rootfs = &plan.Rootfs{Dir: "/srv/root"}
	sp.Time = plan.TimeOffsets{Boottime: 86400}
	sp.Namespaces = append(sp.Namespaces, "time")
	cfg, notes, err := OCI(sp, isolate.HostCaps(), []string{"sh", "-c", "id"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(cfg, "", "\t")
	// Id maps name the caller's ids; make them stable.
	s := strings.ReplaceAll(string(b), `"hostID": `+itoa(os.Getuid()), `"hostID": CALLER`)
	golden(t, "config.json", s+"\n"+strings.Join(notes, "\n")+"\n")
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestDockerGolden(t *testing.T) {
	flags, cannot := Docker(session(), "")
	golden(t, "docker.txt", "docker run "+strings.Join(flags, " ")+"\n\ncannot:\n"+strings.Join(cannot, "\n")+"\n")
}

// The profile export docker --seccomp writes is what Docker's daemon loads
// (moby/profiles' LoadProfile, the daemon's own parser) into the very
// filter nsh installs.
func TestDockerSeccompLoads(t *testing.T) {
	for _, plan := range []*seccomp.Plan{
		{Preset: "docker", Rules: []seccomp.Rule{{Names: []string{"mkdir"}, Action: seccomp.Action{Kind: "errno", Errno: 13}}}},
		{Default: &seccomp.Action{Kind: "log"}, Rules: []seccomp.Rule{{Names: []string{"keyctl", "add_key"}, Action: seccomp.Action{Kind: "kill"}}}},
	} {
		sp := session()
		sp.Seccomp = plan
		b, err := DockerSeccomp(sp, isolate.HostCaps())
		if err != nil || b == nil {
			t.Fatalf("DockerSeccomp: %v, %d bytes", err, len(b))
		}
		want, err := sp.SeccompProfile(isolate.HostCaps())
		if err != nil {
			t.Fatal(err)
		}
		rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: capability.OCINames(sp.ChildBounding(isolate.HostCaps()))}}}
		got, err := profiles.LoadProfile(string(b), rs)
		if err != nil {
			t.Fatalf("Docker's parser refuses the profile: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Errorf("Docker loads another filter:\n%s\nwant\n%s", gj, wj)
		}
	}
}

func TestCommand(t *testing.T) {
	all := capability.All()
	raw := uint64(1) << 13 // cap_net_raw
	tests := []struct {
		sp   *plan.Spec
		args []string
		want string
	}{
		{&plan.Spec{}, []string{"true"}, ""},
		{&plan.Spec{Namespaces: []string{"uts"}, Hostname: "foo bar"}, []string{"hostname"},
			`unshare --uts sh -c 'hostname '"'"'foo bar'"'"'; exec "$@"' sh hostname` + "\n"},
		{&plan.Spec{Namespaces: []string{"pid", "mnt"}}, []string{"sh", "-c", "echo $$"},
			`unshare --mount --pid --fork --mount-proc sh -c 'echo $$'` + "\n"},
		{&plan.Spec{Caps: &plan.Caps{Bounding: all &^ raw, Permitted: all &^ raw, Effective: all &^ raw},
			Cgroup: &cgroup.Config{Settings: []cgroup.Setting{{Key: "pids.max", Value: "20"}}}}, []string{"ping"},
			"# in a cgroup of its own with pids.max=20 (export sh writes the files)\n" +
				`sh -c 'exec setpriv --bounding-set=-net_raw -- "$@"' sh ping` + "\n"},
	}
	for _, tt := range tests {
		got, err := Command(tt.sp, tt.args)
		if err != nil || got != tt.want {
			t.Errorf("Command(%+v) = %q, %v; want %q", tt.sp, got, err, tt.want)
		}
	}
}
