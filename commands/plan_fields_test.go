package commands

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"nsh/isolate"
	"nsh/plan"
)

// richPlan sets every field of the plan a user can set.
func richPlan(t *testing.T, root string) *Session {
	t.Helper()
	s, _, _, _ := newTestSession()
	script := "unshare user time uts mnt net pid; join ipc /proc/self/ns/ipc; map 3:4; hostname 'h-1'; timens boottime -7; timens monotonic +2;" +
		"rootfs " + root + " ro; mount tmpfs /scratch size=1m; mount bind " + root + " /data ro; mask /proc/keys; readonly /proc/sys;" +
		"net up lo; net veth 198.51.100.1/24 198.51.100.2/24 --name sv0; sysctl net.ipv4.ip_forward 1; sysctl net.ipv4.ping_group_range ''1 0'';" +
		"cap drop net_raw; cap add --set inheritable kill; user 1000:100; nonewprivs on;" +
		"cgroup set memory.max 100M; cgroup set cpu.max 0.5; cgroup set pids.max 20; cgroup devices allow c 10:200 rwm;" +
		"seccomp preset docker; seccomp default errno ENOSYS; seccomp deny keyctl errno EACCES; seccomp allow ptrace;" +
		"rlimit nofile 64:128; rlimit core unlimited; process args /bin/sh -c 'echo $A'; process env A=1 'B=x y'; process cwd /srv; process terminal on"
	if err := s.RunScript("t", script); err != nil {
		t.Fatal(err)
	}
	return s
}

// planFields are the Spec's fields a session plans, with what show says
// of each: a new field must be added here, with its line in show, or this
// test fails. Enter, Probe and Args are per launch, not the plan's.
var planFields = map[string]string{
	"Namespaces": "new namespaces", "Hostname": "h-1", "Map": "id map", "Time": "clock offsets",
	"Join": "join", "Cgroup": "memory.max", "Caps": "capabilities", "User": "user", "NoNewPrivs": "nonewprivs",
	"Rootfs": "rootfs", "Mounts": "/scratch", "Masked": "/proc/keys", "Readonly": "/proc/sys",
	"Net": "198.51.100.2/24", "Sysctls": "net.ipv4.ping_group_range", "Seccomp": "seccomp", "Rlimits": "nofile",
	"Command": "/bin/sh", "Cwd": "/srv", "Terminal": "terminal", "Env": "B=x y",
}

// notInOCI are the plan's fields an OCI config cannot hold as nsh plans
// them, and why; every other field must survive export oci → import oci.
var notInOCI = map[string]string{
	"Join": "a join names a namespace file of this host, not part of a bundle",
	"Net":  "lo and veth pairs are made by the engine's network plugin (CNI), not by an OCI config",
}

// ociSame compares what a field means where OCI spells it otherwise:
// the sets a child ends with, the seccomp profile a filter is compiled
// from.
var ociSame = map[string]func(*plan.Spec) any{
	"Caps": func(sp *plan.Spec) any {
		uid := 0
		if sp.User != nil {
			uid = sp.User.UID
		}
		c := sp.Caps.Final(uid)
		return [5]uint64{c.Bounding, c.Permitted, c.Effective, c.Inheritable, c.Ambient}
	},
	"Seccomp": func(sp *plan.Spec) any {
		prof, err := sp.SeccompProfile(isolate.HostCaps())
		if err != nil {
			return err.Error()
		}
		b, _ := json.Marshal(prof)
		return string(b)
	},
}

// TestEveryPlanField fills the plan, then checks that every field is set,
// shown, and survives save and source: a field added to the Spec and
// forgotten in any of them fails here.
func TestEveryPlanField(t *testing.T) {
	root := t.TempDir()
	s := richPlan(t, root)

	v := reflect.ValueOf(*s.Spec)
	ty := v.Type()
	for i := 0; i < ty.NumField(); i++ {
		f := ty.Field(i)
		if !f.IsExported() {
			continue
		}
		if _, ok := planFields[f.Name]; !ok {
			t.Errorf("Spec.%s is new: add it to planFields with what show says of it, to save and to the exports", f.Name)
			continue
		}
		if v.Field(i).IsZero() {
			t.Errorf("Spec.%s is not set by the rich plan: set it, so that save, show and the exports are tested on it", f.Name)
		}
	}

	out := outputOf(t, s, "show")
	for name, want := range planFields {
		if !strings.Contains(out, want) {
			t.Errorf("show does not show Spec.%s (%q):\n%s", name, want, out)
		}
	}

	// save, then source in a new session: the same plan, every field.
	file := filepath.Join(t.TempDir(), "s.nsh")
	outputOf(t, s, "save "+file)
	s2, _, _, _ := newTestSession()
	outputOf(t, s2, "source "+file)
	for i := 0; i < ty.NumField(); i++ {
		f := ty.Field(i)
		if f.IsExported() && !reflect.DeepEqual(v.Field(i).Interface(), reflect.ValueOf(*s2.Spec).Field(i).Interface()) {
			t.Errorf("save and source lose Spec.%s: %#v became %#v", f.Name, v.Field(i).Interface(), reflect.ValueOf(*s2.Spec).Field(i).Interface())
		}
	}

	// export oci, then import oci: the same plan, but for what an OCI
	// config has no room for (each says why).
	bundle := filepath.Join(t.TempDir(), "bundle")
	s.Spec.Join = nil // a join of a file is refused by import: it is the host's
	outputOf(t, s, "export oci "+bundle)
	s3, _, _, _ := newTestSession()
	outputOf(t, s3, "import oci "+bundle)
	v = reflect.ValueOf(*s.Spec)
	for i := 0; i < ty.NumField(); i++ {
		f := ty.Field(i)
		if !f.IsExported() || notInOCI[f.Name] != "" {
			continue
		}
		want, got := v.Field(i).Interface(), reflect.ValueOf(*s3.Spec).Field(i).Interface()
		if same := ociSame[f.Name]; same != nil {
			want, got = same(s.Spec), same(s3.Spec)
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("export oci and import oci lose Spec.%s: %v became %v", f.Name, want, got)
		}
	}

}

func dropWord(list []string, x string) []string {
	var out []string
	for _, w := range list {
		if w != x {
			out = append(out, w)
		}
	}
	return out
}

func outputOf(t *testing.T, s *Session, cmd string) string {
	t.Helper()
	var b strings.Builder
	old := s.Out
	s.Out = &b
	defer func() { s.Out = old }()
	if err := s.RunScript("t", cmd); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
