// Package seccomp is a child's system call filter: the plan a session
// builds (a preset, rules on top, a default action), resolved into the
// OCI runtime-spec form that runc and Docker read, and compiled to the
// classic BPF program the kernel runs.
//
// The preset is Docker's default profile as moby/profiles ships it, not a
// copy: its rules that depend on capabilities, architecture and kernel are
// resolved as Docker resolves them. Compiling is libseccomp's, as in runc,
// so a plan behaves in nsh exactly as its export does under runc.
package seccomp

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	profiles "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"nsh/internal/near"
)

// Presets are the names `seccomp preset` takes; off is no preset.
var Presets = []string{"docker", "off"}

// Action is what the filter does with a system call.
type Action struct {
	// Kind is allow, errno, kill or log.
	Kind  string `json:"kind"`
	Errno int    `json:"errno,omitempty"`
}

// ActionWords are the actions as commands take them.
var ActionWords = []string{"errno", "kill", "allow", "log"}

// ParseAction reads an action: allow, kill, log, or errno NAME|NUMBER.
func ParseAction(words []string) (Action, error) {
	if len(words) == 0 {
		return Action{}, fmt.Errorf("missing action: use errno NAME, kill, allow or log")
	}
	switch strings.ToLower(words[0]) {
	case "allow", "kill", "log":
		if len(words) > 1 {
			return Action{}, fmt.Errorf("%s takes nothing after it, got %q", words[0], words[1])
		}
		return Action{Kind: strings.ToLower(words[0])}, nil
	case "errno":
		if len(words) != 2 {
			return Action{}, fmt.Errorf("errno takes one name or number (errno EPERM)")
		}
		e, err := ParseErrno(words[1])
		if err != nil {
			return Action{}, err
		}
		return Action{Kind: "errno", Errno: e}, nil
	}
	return Action{}, fmt.Errorf("unknown action %q%s: use errno NAME, kill, allow or log", words[0], near.Hint(words[0], ActionWords))
}

// ParseErrno reads an errno name (EACCES, eacces) or number.
func ParseErrno(w string) (int, error) {
	if n, err := strconv.Atoi(w); err == nil {
		if n < 1 || n > 4095 {
			return 0, fmt.Errorf("errno %d is out of range: 1 to 4095", n)
		}
		return n, nil
	}
	up := strings.ToUpper(w)
	if !strings.HasPrefix(up, "E") {
		up = "E" + up
	}
	names := ErrnoNames()
	for n := 1; n < 4096; n++ {
		if unix.ErrnoName(unix.Errno(n)) == up {
			return n, nil
		}
	}
	return 0, fmt.Errorf("unknown errno %q%s: use a name such as EPERM, EACCES, ENOSYS, or a number", w, near.Hint(up, names))
}

// ErrnoNames are the kernel's errno names.
func ErrnoNames() []string {
	var names []string
	for n := 1; n < 200; n++ {
		if s := unix.ErrnoName(unix.Errno(n)); s != "" {
			names = append(names, s)
		}
	}
	return names
}

func (a Action) String() string {
	if a.Kind == "errno" {
		if s := unix.ErrnoName(unix.Errno(a.Errno)); s != "" {
			return "errno " + s
		}
		return "errno " + strconv.Itoa(a.Errno)
	}
	return a.Kind
}

// oci is the action as the runtime spec writes it.
func (a Action) oci() (specs.LinuxSeccompAction, *uint) {
	switch a.Kind {
	case "allow":
		return specs.ActAllow, nil
	case "kill":
		return specs.ActKillProcess, nil
	case "log":
		return specs.ActLog, nil
	}
	e := uint(a.Errno)
	return specs.ActErrno, &e
}

// Rule is one line of the plan: these calls get this action, whatever
// the preset said of them.
type Rule struct {
	Names  []string `json:"names"`
	Action Action   `json:"action"`
}

// String is the rule as the seccomp command takes it: allow NAMES, or
// deny NAMES ACTION.
func (r Rule) String() string {
	if r.Action.Kind == "allow" {
		return "allow " + strings.Join(r.Names, " ")
	}
	return "deny " + strings.Join(r.Names, " ") + " " + r.Action.String()
}

// Plan is a session's filter.
type Plan struct {
	// Preset is "docker" or "" (none: allow every call but the rules).
	Preset string `json:"preset,omitempty"`
	// Profile, when set, is a profile loaded whole (Docker's JSON
	// format or the runtime spec's linux.seccomp) in place of a preset.
	Profile json.RawMessage `json:"profile,omitempty"`
	// Default, when set, replaces the preset's default action.
	Default *Action `json:"default,omitempty"`
	Rules   []Rule  `json:"rules,omitempty"`
}

// Empty says whether the plan filters nothing: no filter is installed.
func (p *Plan) Empty() bool {
	return p == nil || p.Preset == "" && p.Profile == nil && len(p.Rules) == 0 && (p.Default == nil || p.Default.Kind == "allow")
}

// IsDockerDefault says whether the plan is Docker's default profile as it
// is, which Docker, Kubernetes' RuntimeDefault and others apply without
// being handed a profile.
func (p *Plan) IsDockerDefault() bool {
	return p != nil && p.Preset == "docker" && p.Profile == nil && len(p.Rules) == 0 && p.Default == nil
}

// DefaultAction is what the plan does with a call no rule names.
func (p *Plan) DefaultAction() Action {
	switch {
	case p.Default != nil:
		return *p.Default
	case p.Profile != nil:
		var d struct {
			Action specs.LinuxSeccompAction `json:"defaultAction"`
			Errno  *uint                    `json:"defaultErrnoRet"`
		}
		json.Unmarshal(p.Profile, &d)
		switch d.Action {
		case specs.ActAllow:
			return Action{Kind: "allow"}
		case specs.ActKill, specs.ActKillThread, specs.ActKillProcess:
			return Action{Kind: "kill"}
		case specs.ActLog:
			return Action{Kind: "log"}
		}
		e := 1
		if d.Errno != nil {
			e = int(*d.Errno)
		}
		return Action{Kind: "errno", Errno: e}
	case p.Preset == "docker":
		return Action{Kind: "errno", Errno: int(unix.EPERM)}
	}
	return Action{Kind: "allow"}
}

// Set gives names the action, replacing what earlier rules said of them.
func (p *Plan) Set(names []string, a Action) {
	var rules []Rule
	for _, r := range p.Rules {
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return slices.Contains(names, n) })
		if len(r.Names) > 0 {
			rules = append(rules, r)
		}
	}
	p.Rules = append(rules, Rule{Names: slices.Clone(names), Action: a})
}

// Resolve is the plan in the runtime spec's form for a child whose
// bounding set holds caps (names as the spec writes them, CAP_SYS_ADMIN):
// Docker's profile resolved as Docker resolves it, then the rules, each
// replacing every rule of the preset that names its calls. Nil: no filter.
func Resolve(p *Plan, caps []string) (*specs.LinuxSeccomp, error) {
	if p.Empty() {
		return nil, nil
	}
	var out *specs.LinuxSeccomp
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	if p.Profile != nil {
		prof, err := profiles.LoadProfile(string(p.Profile), rs)
		if err != nil {
			return nil, fmt.Errorf("the loaded profile: %w", err)
		}
		if prof == nil {
			prof = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: NativeArches()}
		}
		if p.Default == nil && len(p.Rules) == 0 {
			return prof, nil
		}
		out = prof
	} else if p.Preset == "docker" {
		prof, err := profiles.GetDefaultProfile(rs)
		if err != nil {
			return nil, fmt.Errorf("resolve Docker's profile: %w", err)
		}
		out = prof
	} else {
		out = &specs.LinuxSeccomp{Architectures: NativeArches()}
	}
	if p.Profile == nil || p.Default != nil {
		def := p.DefaultAction()
		out.DefaultAction, out.DefaultErrnoRet = def.oci()
	}
	named := map[string]bool{}
	for _, r := range p.Rules {
		for _, n := range r.Names {
			named[n] = true
		}
	}
	var calls []specs.LinuxSyscall
	for _, sc := range out.Syscalls {
		sc.Names = slices.DeleteFunc(slices.Clone(sc.Names), func(n string) bool { return named[n] })
		if len(sc.Names) > 0 {
			calls = append(calls, sc)
		}
	}
	for _, r := range p.Rules {
		act, errno := r.Action.oci()
		calls = append(calls, specs.LinuxSyscall{Names: slices.Clone(r.Names), Action: act, ErrnoRet: errno})
	}
	out.Syscalls = calls
	return out, nil
}

// NativeArches are this machine's architecture and those its kernel also
// runs (x86_64: i386 and x32), as Docker's profile lists them.
func NativeArches() []specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	case "386":
		return []specs.Arch{specs.ArchX86}
	}
	return nil
}

// ActionText is an action of the runtime spec as nsh's commands write it.
func ActionText(a specs.LinuxSeccompAction, errno *uint) string {
	switch a {
	case specs.ActAllow:
		return "allow"
	case specs.ActKill, specs.ActKillThread:
		return "kill (thread)"
	case specs.ActKillProcess:
		return "kill"
	case specs.ActLog:
		return "log"
	case specs.ActErrno:
		e := 1
		if errno != nil {
			e = int(*errno)
		}
		return Action{Kind: "errno", Errno: e}.String()
	}
	return string(a)
}
