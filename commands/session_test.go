package commands

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
	"nsh/plan"
)

// fakeLauncher records what spawn asked for; no privileges needed.
type fakeLauncher struct {
	specs  []*plan.Spec
	args   [][]string
	status int
	err    error
}

func (f *fakeLauncher) Run(spec *plan.Spec, opt isolate.Options) (int, error) {
	f.specs = append(f.specs, spec)
	f.args = append(f.args, opt.Args)
	return f.status, f.err
}

func newTestSession() (*Session, *fakeLauncher, *bytes.Buffer, *bytes.Buffer) {
	s := NewSession()
	f := &fakeLauncher{}
	var out, errOut bytes.Buffer
	s.Launcher, s.Out, s.Err = f, &out, &errOut
	return s, f, &out, &errOut
}

// Every refused command leaves the session exactly as it was.
func TestRefusalsChangeNothing(t *testing.T) {
	bad := []string{
		"unshare uts nope", "unshare", "share bogus", "hostname 'a b'", "map root",
		"timens boottime +99999999999", "share uts pid time bogus", "timens boottime soon", "hostname", "map 1:x",
		"timens realtime 1", "explain maybe", "expect status 0", "ns nope",
		"spawn -x", "source /nonexistent/file", "exit 999", "save",
		"cap drop nothing", "cap preset lax", "cap add --set ambient net_raw", "user x", "nonewprivs maybe",
		"sysctl kernel.sysrq 1", "sysctl net.ipv4.ip_forward 1", "net up lo", "cgroup set memory.max lots",
		"cgroup set ../x 1", "join uts /nonexistent",
	}
	for _, line := range bad {
		s, _, _, _ := newTestSession()
		if err := s.RunScript("t", "unshare uts pid time; hostname keep; timens monotonic +5"); err != nil {
			t.Fatal(err)
		}
		before := s.Spec.Clone()
		err := s.RunScript("t", line)
		if line == "hostname" { // prints the name; not an error
			if err != nil {
				t.Errorf("%q: %v", line, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q was accepted", line)
		}
		if !reflect.DeepEqual(before, s.Spec) {
			t.Errorf("%q changed the spec: %+v -> %+v", line, before, s.Spec)
		}
	}
}

func TestSpawnPassesTheSpec(t *testing.T) {
	s, f, _, _ := newTestSession()
	f.status = 3
	if err := s.RunScript("t", "unshare uts; hostname h; spawn echo hi"); err != nil {
		t.Fatal(err)
	}
	got := f.specs[0]
	if !reflect.DeepEqual(f.args[0], []string{"echo", "hi"}) || got.Hostname != "h" || !got.Has("uts") {
		t.Errorf("spawn launched %+v", got)
	}
	if s.Status() != 3 {
		t.Errorf("status %d, want 3", s.Status())
	}
}

func TestSpawnShellDefault(t *testing.T) {
	s, f, _, _ := newTestSession()
	t.Setenv("SHELL", "/bin/myshell")
	s.RunScript("t", "spawn")
	if got := f.args[0]; !reflect.DeepEqual(got, []string{"/bin/myshell"}) {
		t.Errorf("spawn without a command ran %v", got)
	}
	t.Setenv("SHELL", "")
	s.RunScript("t", "spawn")
	if got := f.args[1]; !reflect.DeepEqual(got, []string{"/bin/sh"}) {
		t.Errorf("spawn without SHELL ran %v", got)
	}
	// A rootfs without $SHELL gets /bin/sh.
	t.Setenv("SHELL", "/bin/myshell")
	s.RunScript("t", "rootfs "+t.TempDir())
	s.RunScript("t", "spawn")
	if got := f.args[2]; !reflect.DeepEqual(got, []string{"/bin/sh"}) {
		t.Errorf("spawn in a rootfs without $SHELL ran %v", got)
	}
}

func TestExecErrorIsAStatus(t *testing.T) {
	s, f, _, errOut := newTestSession()
	f.err = &isolate.ExecError{Path: "/nope", Err: errors.New("permission denied")}
	if err := s.RunScript("t", "spawn /nope; expect status 126"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), `spawn: exec "/nope": permission denied`) {
		t.Errorf("stderr %q", errOut)
	}
}

func TestSaveSourceRoundTrip(t *testing.T) {
	s, _, _, _ := newTestSession()
	root := t.TempDir()
	script := "unshare user time uts mnt net ipc; map 3:4; hostname 'h-1'; timens boottime -7; timens monotonic +2;" +
		"rootfs " + root + " ro; mount tmpfs /scratch size=1m; mount bind " + root + " /data ro; mount proc /p2;" +
		"net up lo; net veth 198.51.100.1/24 198.51.100.2/24 --name sv0; sysctl net.ipv4.ip_forward 1; sysctl kernel.shmmni 100;" +
		"cap drop net_raw; cap add --set inheritable kill; user 1000:100; nonewprivs on;" +
		"cgroup set memory.max 100M; cgroup set cpu.max 0.5; cgroup set pids.max 20; join pid /proc/self/ns/pid;" +
		"seccomp preset docker; seccomp default errno ENOSYS; seccomp deny keyctl errno EACCES; seccomp allow ptrace;" +
		"rlimit nofile 64:128; rlimit core unlimited; process args /bin/sh -c 'echo $A'; process env A=1 'B=x y'; process cwd /srv; process terminal on"
	if err := s.RunScript("t", script); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "s.nsh")
	if err := s.RunScript("t", "save "+file); err != nil {
		t.Fatal(err)
	}
	s2, _, _, _ := newTestSession()
	s2.RunScript("t", "unshare net; hostname gone")
	if err := s2.RunScript("t", "source "+file); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Spec, s2.Spec) {
		t.Errorf("source of save: %+v, want %+v", s2.Spec, s.Spec)
	}
}

func TestPrompt(t *testing.T) {
	s, _, _, _ := newTestSession()
	sign := "#"
	if os.Geteuid() != 0 {
		sign = "$"
	}
	if p := s.Prompt(); p != "nsh"+sign+" " {
		t.Errorf("empty prompt %q", p)
	}
	s.RunScript("t", "unshare uts pid mnt net")
	if p := s.Prompt(); p != "nsh[uts,pid,mnt,net]"+sign+" " {
		t.Errorf("prompt %q", p)
	}
	s.Spec.Cgroup = &cgroup.Config{Settings: []cgroup.Setting{{Key: "memory.max", Value: "104857600"}, {Key: "pids.max", Value: "20"}, {Key: "cpu.max", Value: "50000 100000"}}}
	if p := s.Prompt(); p != "nsh[uts,pid,mnt,net mem=100M pids=20 cpu=0.5]"+sign+" " {
		t.Errorf("prompt with limits %q", p)
	}
	// Seccomp, limits and the OCI process show.
	if err := s.RunScript("t", "seccomp preset docker; seccomp deny mkdir; rlimit nofile 64:128; process args /bin/sh -c x; process env A=1; process cwd /srv"); err != nil {
		t.Fatal(err)
	}
	// Too much for one line: the prompt is abbreviated (show has it all),
	// so it never wraps an 80-column terminal.
	if p := s.Prompt(); p != "nsh[uts,pid,mnt,net mem=100M pids=20 +6]"+sign+" " {
		t.Errorf("prompt with seccomp, limits and process %q", p)
	}
	s.RunScript("t", "unshare all; cap drop net_raw sys_admin chown kill")
	if p := s.Prompt(); len(p) > promptMax || !strings.HasPrefix(p, "nsh[ns=8 ") {
		t.Errorf("a prompt of every namespace and more is %d columns: %q", len(p), p)
	}
	s.RunScript("t", "share all; share net; unshare uts pid mnt net")
	s.RunScript("t", "seccomp reset; rlimit reset; process args off; process env inherit; process cwd off")
	// Recording shows.
	if err := s.RunScript("t", "record "+filepath.Join(t.TempDir(), "r.nsh")); err != nil {
		t.Fatal(err)
	}
	if p := s.Prompt(); !strings.HasSuffix(p, " rec]"+sign+" ") {
		t.Errorf("prompt while recording %q", p)
	}
	s.RunScript("t", "record off")
}

func TestComplete(t *testing.T) {
	s, _, _, _ := newTestSession()
	tests := []struct {
		line    string
		want    []string
		partial string
	}{
		{"unsh", []string{"unshare"}, "unsh"},
		{"s", []string{"save", "scratch", "seccomp", "share", "show", "skip", "solution", "source", "spawn", "summary", "sysctl"}, "s"},
		{"unshare u", []string{"user", "uts"}, "u"},
		{"unshare uts ", []string{"all", "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}, ""},
		{"explain o", []string{"off", "on"}, "o"},
		{"show; ti", []string{"time", "timens"}, "ti"},
		{"help tim", []string{"time", "timens"}, "tim"},
		{"time ", []string{"off", "on"}, ""},
		{"timens ", []string{"boottime", "monotonic", "off"}, ""},
		{"nosuch ", nil, ""},
		{"cap drop CAP_SYS_ADM", []string{"CAP_SYS_ADMIN"}, "CAP_SYS_ADM"},
		{"cap drop cap_sys_adm", []string{"cap_sys_admin"}, "cap_sys_adm"},
		{"cap drop sys_adm", []string{"sys_admin"}, "sys_adm"},
		{"seccomp deny mkd", []string{"mkdir", "mkdirat"}, "mkd"},
		{"seccomp deny mkdir errno EACCE", []string{"EACCES"}, "EACCE"},
		{"seccomp default ", []string{"allow", "errno", "kill", "log"}, ""},
		{"seccomp test keyc", []string{"keyctl"}, "keyc"},
		{"rlimit nof", []string{"nofile"}, "nof"},
		{"rlimit nofile unl", []string{"unlimited"}, "unl"},
		{"ps --", []string{"--json", "--prune", "--tree"}, "--"},
		{"export k8s --l", []string{"--lossy"}, "--l"},
		{"process ", []string{"args", "cwd", "env", "terminal"}, ""},
		{"import ", []string{"oci"}, ""},
		{"rootfs /tmp ", []string{"overlay", "ro"}, ""},
		{"rootfs /tmp overlay ", []string{"--upper"}, ""},
		{"top --", []string{"--json", "--once"}, "--"},
		{"cgroup stat --w", []string{"--watch"}, "--w"},
		{"co", []string{"commit"}, "co"},
		{"dif", []string{"diff"}, "dif"},
		{"expect ", []string{"cap", "cgroup", "filecap", "hostname", "ns", "output", "status", "syscall", "uid"}, ""},
		{"expect output ", []string{"contains", "matches", "not"}, ""},
		{"expect output not ", []string{"contains"}, ""},
		{"learn 0", []string{"01", "02", "03", "04", "05", "06", "07", "08", "09"}, "0"},
		{"check cap @last ", []string{"ambient", "bounding", "effective", "inheritable", "permitted"}, ""},
		{"expect ns @1 ", []string{"differs", "shares"}, ""},
		{"expect ns @1 differs u", []string{"user", "uts"}, "u"},
		{"record --c", []string{"--cast"}, "--c"},
	}
	for _, tt := range tests {
		got, partial := s.Complete(tt.line)
		if !reflect.DeepEqual(got, tt.want) || partial != tt.partial {
			t.Errorf("Complete(%q) = %v, %q; want %v, %q", tt.line, got, partial, tt.want, tt.partial)
		}
	}
	// Programs from $PATH after spawn, spawn -d --name N and enter @ID.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "nshprog"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "nshdata"), nil, 0o644)
	t.Setenv("PATH", dir)
	for _, line := range []string{"spawn nsh", "spawn -d nsh", "spawn -d --name web nsh"} {
		if got, _ := s.Complete(line); !reflect.DeepEqual(got, []string{"nshprog"}) {
			t.Errorf("Complete(%q) = %v, want [nshprog]", line, got)
		}
	}
	if got, _ := s.Complete("spawn -d --name nsh"); got != nil {
		t.Errorf("the name after --name is not a program: %v", got)
	}
}

// Every registered command has a usage, a summary and a help group, so
// help and completion, built from the registry, cover all of them.
func TestRegistryComplete(t *testing.T) {
	for _, name := range Names() {
		c, _ := Lookup(name)
		if len(c.Usage) == 0 || c.Summary == "" || c.Group == "" || c.Run == nil || c.Example == "" {
			t.Errorf("command %s lacks usage, summary, group, example or Run", name)
		}
	}
	// help fits a 24-line, 80-column screen, a line per topic in the
	// walkthrough's order; help TOPIC lists every form of each command.
	s, _, out, _ := newTestSession()
	s.RunScript("t", "help")
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) > 24 {
		t.Errorf("help is %d lines; a newcomer's screen has 24:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if len([]rune(l)) > 80 {
			t.Errorf("help line wider than 80 columns: %q", l)
		}
	}
	if i, j, k := strings.Index(out.String(), "\n  namespaces "), strings.Index(out.String(), "\n  cgroups "), strings.Index(out.String(), "\n  capabilities "); i < 0 || !(i < j && j < k) {
		t.Errorf("help does not start with namespaces, cgroups, capabilities:\n%s", out)
	}
	for _, g := range topics() {
		s, _, out, _ := newTestSession()
		if err := s.RunScript("t", "help "+g); err != nil {
			t.Fatal(err)
		}
		for _, name := range Names() {
			if c, _ := Lookup(name); c.Group == g {
				for _, u := range c.Usage {
					if !strings.Contains(out.String(), "    "+u+"\n") {
						t.Errorf("help %s lacks %q", g, u)
					}
				}
			}
		}
	}
}

func TestParseOffset(t *testing.T) {
	good := map[string]int64{"+3600": 3600, "-90": -90, "+2h": 7200, "-1d": -86400, "5m": 300, "0": 0, "+7s": 7}
	for in, want := range good {
		if got, err := ParseOffset(in); err != nil || got != want {
			t.Errorf("ParseOffset(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "+", "d", "1w", "++1", "+-1", "1.5h", "99999999999999d"} {
		if _, err := ParseOffset(in); err == nil {
			t.Errorf("ParseOffset(%q) accepted", in)
		}
	}
}

func TestCompleteChildren(t *testing.T) {
	s, _, _, _ := newTestSession()
	s.children = []*child{{id: 1, name: "web", done: make(chan struct{})}, {id: 2, done: make(chan struct{})}}
	for line, want := range map[string][]string{
		"enter @":            {"@1", "@2", "@web"},
		"kill @w":            {"@web"},
		"enter --ns uts @":   {"@1", "@2", "@web"},
		"ns pin uts /tmp/x ": {"@1", "@2", "@web"},
		"join net @":         {"@1", "@2", "@web"},
		"wait @1 ":           nil,
	} {
		if got, _ := s.Complete(line); !reflect.DeepEqual(got, want) {
			t.Errorf("Complete(%q) = %v, want %v", line, got, want)
		}
	}
}

// A profile loaded whole (seccomp load, import oci) comes back from save.
func TestSaveSourceLoadedProfile(t *testing.T) {
	s, _, _, _ := newTestSession()
	prof := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(prof, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}`), 0o644)
	if err := s.RunScript("t", "seccomp load "+prof); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "s.nsh")
	if err := s.RunScript("t", "save "+file); err != nil {
		t.Fatal(err)
	}
	s2, _, _, _ := newTestSession()
	if err := s2.RunScript("t", "source "+file); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Spec, s2.Spec) {
		t.Errorf("source of save: %+v, want %+v", s2.Spec.Seccomp, s.Spec.Seccomp)
	}
}

// save writes cap drop as it was typed, and source brings the same sets.
func TestSaveCapsAsTyped(t *testing.T) {
	for script, want := range map[string]string{
		"cap drop net_raw":                                 "cap drop net_raw\n",
		"cap preset docker; cap drop chown":                "cap preset docker\ncap drop chown\n",
		"cap preset docker; cap add sys_admin":             "cap preset docker\ncap add sys_admin\n",
		"cap preset docker; cap drop kill chown":           "cap preset docker\ncap drop chown kill\n",
		"cap preset none; cap add chown":                   "cap preset none\ncap add chown\n",
		"cap drop net_raw; cap add --set inheritable kill": "cap preset none\ncap only --set bounding",
	} {
		s, _, _, _ := newTestSession()
		if err := s.RunScript("t", script); err != nil {
			t.Fatal(err)
		}
		if got := saveCaps(s.Spec.Caps); !strings.HasPrefix(got, want) {
			t.Errorf("%s: save wrote %q, want %q", script, got, want)
		}
	}
}

// export docker adds no capability a child of the plan could not have:
// without a new user namespace, what nsh's own bounding set lacks.
func TestExportDockerGivesWhatChildrenGet(t *testing.T) {
	own, err := ownCaps()
	if err != nil {
		t.Fatal(err)
	}
	s, _, out, _ := newTestSession()
	if err := s.RunScript("t", "unshare mnt; cap drop net_raw; export docker"); err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`--cap-add=([A-Z_]+)`).FindAllStringSubmatch(out.String(), -1) {
		c, err := capability.Parse(strings.ToLower(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		if own.Bounding&(1<<c) == 0 {
			t.Errorf("export docker adds %s, which nsh's bounding set lacks (%#x), so no child of the plan has it:\n%s", m[1], own.Bounding, out)
		}
	}
}

// Each command file's registration names the commands it makes
// (registry.go's later), so that a lookup builds that registration alone;
// a name missing from the list would still be found, by building them
// all, but a one-shot would pay for every command again. And help's order
// is init's whichever command is looked up first.
func TestRegistrationsNameTheirCommands(t *testing.T) {
	if _, ok := Lookup("spawn"); !ok {
		t.Fatal("no spawn")
	}
	commandsReady()
	for _, r := range registrations {
		got, want := slices.Sorted(slices.Values(r.made)), slices.Sorted(slices.Values(r.names))
		if !slices.Equal(got, want) {
			t.Errorf("a registration names %v and makes %v", want, got)
		}
	}
	var inits []string
	for _, r := range registrations {
		inits = append(inits, r.made...)
	}
	if !slices.Equal(order, inits) {
		t.Errorf("help's order %v, not the registrations' %v", order, inits)
	}
}
