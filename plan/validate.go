package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
)

// NeedsNamespace is a setting for a new namespace the plan does not
// make. It says what, in the plan's terms; the language says what to
// type (commands' remedy: unshare NS), and Why is what nsh would
// otherwise change of the host.
type NeedsNamespace struct {
	NS   string
	Says string
	Why  string
}

func (e *NeedsNamespace) Error() string { return e.Says }

// Validation errors of the namespaces a setting needs.
var (
	ErrHostnameNeedsUTS = &NeedsNamespace{NS: "uts", Says: "setting a hostname needs a new uts namespace", Why: "nsh never changes the host's name"}
	ErrMapNeedsUser     = &NeedsNamespace{NS: "user", Says: "an id map needs a new user namespace"}
	ErrTimeNeedsTime    = &NeedsNamespace{NS: "time", Says: "clock offsets need a new time namespace"}
	ErrMountsNeedMnt    = &NeedsNamespace{NS: "mnt", Says: "a rootfs and mounts need a new mnt namespace", Why: "nsh never changes the host's mounts"}
	ErrNetNeedsNet      = &NeedsNamespace{NS: "net", Says: "network settings need a new net namespace", Why: "nsh never changes the host's links"}
)

// maxTimeOffset keeps offsets far from the kernel's KTIME_SEC_MAX/2 limit.
const maxTimeOffset = 100 * 365 * 24 * 3600

// Validate checks that the spec is consistent, one facet at a time. It
// reads nothing from the host, so it is cheap enough to run before every
// change; what only the host can answer (does this sysctl exist, does
// libseccomp know this call) the mechanism checks (isolate.Check).
func (s *Spec) Validate() error {
	for _, check := range []func(*Spec) error{
		validateNamespaces, validateUTS, validateIDMap, validateCgroup, validateCaps,
		validateUser, validateMounts, validateNet, validateSysctls, validateTime, validateRlimits,
	} {
		if err := check(s); err != nil {
			return err
		}
	}
	return nil
}

func validateNamespaces(s *Spec) error {
	seen := map[string]bool{}
	for _, n := range s.Namespaces {
		if !slices.Contains(Namespaces, n) {
			return fmt.Errorf("unknown namespace %q", n)
		}
		if seen[n] {
			return fmt.Errorf("namespace %s listed twice", n)
		}
		seen[n] = true
	}
	joined := map[string]bool{}
	for _, j := range s.Join {
		if !slices.Contains(Namespaces, j.Type) {
			return fmt.Errorf("unknown namespace %q", j.Type)
		}
		if joined[j.Type] {
			return fmt.Errorf("two namespaces of type %s to join", j.Type)
		}
		joined[j.Type] = true
		if seen[j.Type] {
			return fmt.Errorf("%s is both unshared and joined: a child enters an existing %s namespace or gets a new one; `share %s` or `join %s off`", j.Type, j.Type, j.Type, j.Type)
		}
	}
	return nil
}

func validateUTS(s *Spec) error {
	if s.Hostname == "" {
		return nil
	}
	if !s.Has("uts") {
		return ErrHostnameNeedsUTS
	}
	return ValidateHostname(s.Hostname)
}

func validateIDMap(s *Spec) error {
	if s.Map == nil {
		return nil
	}
	if !s.Has("user") {
		return ErrMapNeedsUser
	}
	switch s.Map.Mode {
	case "root", "none":
	case "id":
		if !validID(s.Map.UID) || !validID(s.Map.GID) {
			return fmt.Errorf("id map %d:%d: ids must be between 0 and 4294967294", s.Map.UID, s.Map.GID)
		}
	default:
		return fmt.Errorf("unknown id map mode %q", s.Map.Mode)
	}
	return nil
}

// validID: a uid or gid the kernel takes (not -1, which it reserves).
func validID(id int) bool { return id >= 0 && id <= 1<<32-2 }

func validateCgroup(s *Spec) error {
	c := s.Cgroup
	if c == nil {
		return nil
	}
	keys := map[string]bool{}
	for _, st := range c.Settings {
		if keys[st.Key] {
			return fmt.Errorf("cgroup key %s set twice", st.Key)
		}
		keys[st.Key] = true
		if err := cgroup.ValidateKey(st.Key); err != nil {
			return err
		}
	}
	if c.Off && (len(c.Settings) > 0 || c.Use != "" || c.Parent != "") {
		return errors.New("cgroup off gives children no cgroup, so planned limits, parent or use have nowhere to go: unset them, or `cgroup on`")
	}
	if c.Use != "" && len(c.Settings) > 0 {
		return errors.New("cgroup use puts children into an existing cgroup as it is: unset the planned limits, or `cgroup use off`")
	}
	for _, p := range []string{c.Parent, c.Use} {
		if p != "" && (!strings.HasPrefix(p, "/") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..")) {
			return fmt.Errorf("cgroup path %q: give an absolute path inside the hierarchy, such as /mygroup", p)
		}
	}
	return nil
}

func validateCaps(s *Spec) error {
	c := s.Caps
	if c == nil {
		return nil
	}
	if c.Effective&^c.Permitted != 0 {
		return fmt.Errorf("effective capabilities must be permitted too; %s are not: cap add --set permitted them first", strings.Join(capability.Names(c.Effective&^c.Permitted), ","))
	}
	if c.AmbientSet && c.Ambient&^(c.Permitted&c.Inheritable) != 0 {
		return fmt.Errorf("ambient capabilities must be permitted and inheritable; %s are not: cap add --set inheritable them first", strings.Join(capability.Names(c.Ambient&^(c.Permitted&c.Inheritable)), ","))
	}
	return nil
}

func validateUser(s *Spec) error {
	if u := s.User; u != nil && (!validID(u.UID) || !validID(u.GID)) {
		return fmt.Errorf("user %d:%d: ids must be between 0 and 4294967294", u.UID, u.GID)
	}
	return nil
}

func validateMounts(s *Spec) error {
	if (s.Rootfs != nil || len(s.Mounts) > 0) && !s.Has("mnt") {
		return ErrMountsNeedMnt
	}
	targets := map[string]bool{}
	for _, m := range s.Mounts {
		if !strings.HasPrefix(m.Target, "/") || (m.Type == "bind" && !strings.HasPrefix(m.Source, "/")) {
			return fmt.Errorf("mount %s: give absolute paths", m)
		}
		if targets[m.Target] {
			return fmt.Errorf("two mounts on %s: `mount rm %s` first", m.Target, m.Target)
		}
		targets[m.Target] = true
		if err := kernelMountNeeds(s, m); err != nil {
			return err
		}
	}
	if err := checkHidden("mask", s.Masked, s.Rootfs); err != nil {
		return err
	}
	return checkHidden("readonly", s.Readonly, s.Rootfs)
}

func validateNet(s *Spec) error {
	if s.Net != nil && !s.Net.Empty() && !s.Has("net") {
		return ErrNetNeedsNet
	}
	return nil
}

func validateSysctls(s *Spec) error {
	for _, sc := range s.Sysctls {
		ns, err := SysctlNamespace(sc.Key)
		if err != nil {
			return err
		}
		if !s.Has(ns) {
			return &NeedsNamespace{NS: ns, Says: fmt.Sprintf("sysctl %s belongs to the %s namespace, which children share with the host", sc.Key, ns), Why: "nsh never writes the host's sysctls"}
		}
	}
	return nil
}

func validateTime(s *Spec) error {
	if s.Time != (TimeOffsets{}) && !s.Has("time") {
		return ErrTimeNeedsTime
	}
	for _, off := range []int64{s.Time.Monotonic, s.Time.Boottime} {
		if off > maxTimeOffset || off < -maxTimeOffset {
			return fmt.Errorf("clock offset %ds is too large: keep it within ±100 years", off)
		}
	}
	return nil
}

func validateRlimits(s *Spec) error {
	seen := map[string]bool{}
	for _, r := range s.Rlimits {
		if _, err := LookupRlimit(r.Name); err != nil {
			return err
		}
		if seen[r.Name] {
			return fmt.Errorf("rlimit %s set twice", r.Name)
		}
		seen[r.Name] = true
		if r.Soft > r.Hard {
			return fmt.Errorf("rlimit %s: soft limit %s is above hard limit %s", r.Name, LimitText(r.Soft), LimitText(r.Hard))
		}
	}
	return nil
}

// kernelMountNeeds: sysfs and mqueue show the namespace they are mounted
// in (the net namespace's devices, the ipc namespace's queues), and in a
// user namespace the kernel mounts them only for one the child owns.
func kernelMountNeeds(s *Spec, m Mount) error {
	need := map[string]string{"sysfs": "net", "mqueue": "ipc"}[m.Type]
	if need == "" || s.Has(need) || !s.Has("user") {
		return nil
	}
	return &NeedsNamespace{NS: need, Says: fmt.Sprintf("mount %s inside a user namespace needs the child's own %s namespace", m, need), Why: "the kernel mounts " + m.Type + " only for a namespace the mounter owns"}
}
