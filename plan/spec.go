// Package plan is what a session builds and every child is made from: the
// Spec and its parts, as plain data, with the checks that need nothing
// but the plan itself. It runs no system call and links no C, so the
// exporters and the importer, which only translate plans, stay free of
// the mechanism (isolate), which launches them.
package plan

import (
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"
	"unicode"

	"github.com/opencontainers/runtime-spec/specs-go"

	"nsh/internal/near"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
	"nsh/isolate/seccomp"
)

// Namespaces lists the eight namespace types in the order the kernel's
// /proc/PID/ns directory and util-linux present them.
var Namespaces = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// CloneFlagName returns the CLONE_NEW* name of a namespace type.
func CloneFlagName(ns string) string {
	if ns == "mnt" {
		return "CLONE_NEWNS"
	}
	return "CLONE_NEW" + strings.ToUpper(ns)
}

// ParseNamespace turns a user's word into a namespace type. "mount" is
// accepted for "mnt" because util-linux spells the flag --mount.
func ParseNamespace(word string) (string, error) {
	w := strings.ToLower(word)
	if w == "mount" {
		w = "mnt"
	}
	if slices.Contains(Namespaces, w) {
		return w, nil
	}
	return "", fmt.Errorf("unknown namespace %q%s: use one of %s, or all", word, near.Hint(word, Namespaces), strings.Join(Namespaces, " "))
}

// IDMap says how ids of a new user namespace map to the caller's.
type IDMap struct {
	// Mode is "root" (the caller is root inside, like unshare -r), "id"
	// (the caller is UID:GID inside) or "none" (no map is written: the
	// child sees the overflow id, like unshare -U without -r).
	Mode string `json:"mode"`
	UID  int    `json:"uid,omitempty"`
	GID  int    `json:"gid,omitempty"`
}

// String renders the map the way the `map` command takes it.
func (m IDMap) String() string {
	switch m.Mode {
	case "id":
		return fmt.Sprintf("%d:%d", m.UID, m.GID)
	case "none":
		return "off"
	}
	return "root"
}

// TimeOffsets are the clock offsets of a new time namespace, in seconds.
type TimeOffsets struct {
	Monotonic int64 `json:"monotonic,omitempty"`
	Boottime  int64 `json:"boottime,omitempty"`
}

// Spec is everything a child is made from. The session builds it, Validate
// checks it before any command changes the session, and Launch plans from
// it the program the child stage carries out (plan.go).
type Spec struct {
	// Namespaces to create, in the order the user asked for them.
	Namespaces []string `json:"namespaces,omitempty"`
	Hostname   string   `json:"hostname,omitempty"`
	// Map is nil for the default: the caller maps to root inside.
	Map  *IDMap      `json:"map,omitempty"`
	Time TimeOffsets `json:"time,omitempty"`

	// Join lists existing namespaces children enter instead of new ones.
	Join []Join `json:"join,omitempty"`

	// Cgroup is the plan for the child's cgroup; nil is a cgroup of its
	// own with no limits.
	Cgroup *cgroup.Config `json:"cgroup,omitempty"`

	// Caps, when set, are the capability sets children run with; nil
	// leaves them as nsh's own.
	Caps *Caps `json:"caps,omitempty"`
	// User, when set, is the uid and gid children run as (supplementary
	// groups cleared), inside their user namespace if they have one.
	User       *User `json:"user,omitempty"`
	NoNewPrivs bool  `json:"noNewPrivs,omitempty"`
	// Rootfs, when set, is pivoted into (it needs a new mnt namespace).
	Rootfs *Rootfs `json:"rootfs,omitempty"`
	// Mounts are made in the child's new mount namespace.
	Mounts []Mount `json:"mounts,omitempty"`
	// Masked paths inside the rootfs are hidden from the child (a file
	// under /dev/null, a directory under an empty read-only tmpfs), and
	// Readonly ones are made read-only, as an OCI config's maskedPaths
	// and readonlyPaths are: after every mount, before pivot_root.
	Masked   []string `json:"masked,omitempty"`
	Readonly []string `json:"readonly,omitempty"`

	// Net is the network of a child with a new net namespace.
	Net *Net `json:"net,omitempty"`
	// Sysctls are written inside the child's namespaces before execve.
	Sysctls []Sysctl `json:"sysctls,omitempty"`

	// Seccomp is the children's system call filter; nil: none.
	Seccomp *seccomp.Plan `json:"seccomp,omitempty"`
	// Rlimits are set on the child stage by nsh (prlimit) before its
	// program runs, sorted by name.
	Rlimits []Rlimit `json:"rlimits,omitempty"`

	// Command is what spawn runs when given none (process args of an
	// imported config); Cwd is where it starts ("" is /, or nsh's own
	// directory without a rootfs); Terminal is the config's
	// process.terminal, which export oci keeps.
	Command  []string `json:"command,omitempty"`
	Cwd      string   `json:"cwd,omitempty"`
	Terminal bool     `json:"terminal,omitempty"`

	// Env, when not nil, is the command's whole environment; nil is
	// nsh's own.
	Env []string `json:"env"`
}

// Caps are the five capability sets of a child, as masks.
type Caps struct {
	Bounding    uint64 `json:"bounding"`
	Permitted   uint64 `json:"permitted"`
	Effective   uint64 `json:"effective"`
	Inheritable uint64 `json:"inheritable"`
	Ambient     uint64 `json:"ambient"`
	// AmbientSet: the ambient set was chosen with --set ambient. Else a
	// non-root user keeps its permitted capabilities as ambient (and so
	// inheritable), so they survive its execve; Docker does not do this.
	AmbientSet bool `json:"ambientSet,omitempty"`
	// Preset names the last preset, for the prompt and save.
	Preset string `json:"preset,omitempty"`
}

// A capability plan is made against every capability the kernel has:
// what a child can hold depends on where it runs, known only once the
// plan is whole (unshare user may come after cap preset privileged).
// Inside a new user namespace the child can hold them all, up to
// cap_last_cap (as unshare -r gives); outside it, only what nsh itself
// holds. Available says which; Within applies it.

// Host is what a plan's capabilities are resolved against: the sets nsh
// itself holds, and every capability the kernel has. The mechanism reads
// them (isolate.HostCaps); the plan only computes with them.
type Host struct {
	Own Caps
	All uint64
}

// Available is what a child of spec can hold on host: its bounding set,
// and its permitted (and so effective, inheritable, ambient) sets.
func (s *Spec) Available(h Host) (bounding, permitted uint64) {
	if s.Has("user") {
		return h.All, h.All
	}
	return h.Own.Bounding, h.Own.Bounding & h.Own.Permitted
}

// ChildCaps are the five sets a child of spec running as uid holds on
// host: the plan less what it cannot hold, or, with none planned, nsh's
// own.
func (s *Spec) ChildCaps(h Host, uid int) Caps {
	c := h.Own
	c.AmbientSet, c.Preset = false, ""
	if s.Caps != nil {
		c = *s.Caps
	}
	return c.Within(s.Available(h)).Final(uid)
}

// ChildBounding is the bounding set a child of spec will have on host:
// Docker's seccomp profile opens calls by the capabilities in it.
func (s *Spec) ChildBounding(h Host) uint64 {
	if s.Caps != nil {
		return s.Caps.Within(s.Available(h)).Bounding
	}
	b, _ := s.Available(h)
	return b
}

// SeccompProfile is the filter in the runtime spec's form, resolved for
// children of spec on host; nil when there is none.
func (s *Spec) SeccompProfile(h Host) (*specs.LinuxSeccomp, error) {
	if s.Seccomp.Empty() {
		return nil, nil
	}
	return seccomp.Resolve(s.Seccomp, capability.OCINames(s.ChildBounding(h)))
}

// Within is the plan less what the child cannot hold.
func (c Caps) Within(bounding, permitted uint64) Caps {
	c.Bounding &= bounding
	c.Permitted &= permitted
	c.Effective &= permitted
	c.Inheritable &= permitted
	c.Ambient &= permitted
	return c
}

// Final is the sets the child stage applies for a child running as uid.
func (c Caps) Final(uid int) Caps {
	if uid != 0 && !c.AmbientSet {
		c.Ambient = c.Permitted
		c.Inheritable |= c.Ambient
	}
	return c
}

// User is who children run as.
type User struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// Sysctl is one namespaced sysctl for children.
type Sysctl struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Join is an existing namespace for children to enter.
type Join struct {
	Type string `json:"type"`
	// Path is a namespace file: a pin, or /proc/PID/ns/TYPE of a child.
	Path string `json:"path"`
	// Ref is what the user named: the file, @ID, or a PID.
	Ref string `json:"ref"`
	// Ino, for a PID's namespace, is the namespace it had when joined:
	// a child never enters another one through a recycled pid.
	Ino uint64 `json:"ino,omitempty"`
}

// Joined returns the join of type ns, if any.
func (s *Spec) Joined(ns string) (Join, bool) {
	for _, j := range s.Join {
		if j.Type == ns {
			return j, true
		}
	}
	return Join{}, false
}

// Has reports whether the spec creates a new namespace of type ns.
func (s *Spec) Has(ns string) bool {
	for _, n := range s.Namespaces {
		if n == ns {
			return true
		}
	}
	return false
}

// Clone returns a deep copy, so a command can change the copy and keep the
// original when validation fails. Unexported fields (the compiled filter,
// a cache of the plan it was compiled for) are left out. It copies by
// reflection rather than through JSON: every command that changes the
// session clones, and encoding/json's first use (building its encoders)
// cost about a millisecond of each one-shot run.
func (s *Spec) Clone() *Spec {
	var c Spec
	copyValue(reflect.ValueOf(&c).Elem(), reflect.ValueOf(s).Elem())
	return &c
}

// copyValue deep-copies src into dst, which is settable and zero.
func copyValue(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if !src.IsNil() {
			p := reflect.New(src.Type().Elem())
			copyValue(p.Elem(), src.Elem())
			dst.Set(p)
		}
	case reflect.Struct:
		t := src.Type()
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() {
				copyValue(dst.Field(i), src.Field(i))
			}
		}
	case reflect.Slice:
		if !src.IsNil() {
			n := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
			for i := 0; i < src.Len(); i++ {
				copyValue(n.Index(i), src.Index(i))
			}
			dst.Set(n)
		}
	case reflect.Array:
		for i := 0; i < src.Len(); i++ {
			copyValue(dst.Index(i), src.Index(i))
		}
	case reflect.Map:
		if !src.IsNil() {
			n := reflect.MakeMapWithSize(src.Type(), src.Len())
			for it := src.MapRange(); it.Next(); {
				v := reflect.New(src.Type().Elem()).Elem()
				copyValue(v, it.Value())
				n.SetMapIndex(it.Key(), v)
			}
			dst.Set(n)
		}
	case reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		// Plain data only: TestCloneDeep fails on a field like this.
		panic("isolate: Spec.Clone cannot copy a " + src.Type().String())
	default:
		dst.Set(src)
	}
}

// IDMapping is the map in force: the default when user is new and none
// was set.
func (s *Spec) IDMapping() IDMap {
	if s.Map != nil {
		return *s.Map
	}
	return IDMap{Mode: "root"}
}

// Validation errors name the setting and how to fix it; the command layer
// prefixes the command.
var (
	ErrHostnameNeedsUTS = errors.New("setting a hostname needs a new uts namespace: run `unshare uts` first (nsh never changes the host's name)")
	ErrMapNeedsUser     = errors.New("an id map needs a new user namespace: run `unshare user` first")
	ErrTimeNeedsTime    = errors.New("clock offsets need a new time namespace: run `unshare time` first")
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
		return errors.New("a rootfs and mounts need a new mnt namespace: `unshare mnt` first (nsh never changes the host's mounts)")
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
	}
	if err := checkHidden("mask", s.Masked, s.Rootfs); err != nil {
		return err
	}
	return checkHidden("readonly", s.Readonly, s.Rootfs)
}

func validateNet(s *Spec) error {
	if s.Net != nil && !s.Net.Empty() && !s.Has("net") {
		return errors.New("network settings are for a new net namespace: `unshare net` first (nsh never changes the host's links)")
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
			return fmt.Errorf("sysctl %s belongs to the %s namespace, which children share with the host: `unshare %s` first (nsh never writes the host's sysctls)", sc.Key, ns, ns)
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

// ValidateHostname accepts what sethostname(2) accepts, less what would
// only confuse: empty names, spaces and control characters.
func ValidateHostname(name string) error {
	if name == "" {
		return errors.New("empty hostname: give a name such as foobar")
	}
	if len(name) > 64 {
		return fmt.Errorf("hostname %q is %d bytes long: the kernel allows at most 64", name, len(name))
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("hostname %q contains a space or control character: use letters, digits, '-' and '.'", name)
		}
	}
	return nil
}

// ipcSysctls are the kernel.* sysctls that belong to an ipc namespace.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.msg_next_id": true,
	"kernel.sem": true, "kernel.sem_next_id": true, "kernel.shmall": true, "kernel.shmmax": true,
	"kernel.shmmni": true, "kernel.shm_next_id": true, "kernel.shm_rmid_forced": true,
}

// SysctlNamespace says which namespace a sysctl belongs to, refusing the
// ones that belong to the whole host. Whether it exists here is the
// mechanism's to say (isolate.Check).
func SysctlNamespace(key string) (string, error) {
	if key == "" || strings.ContainsAny(key, "/ ") || strings.Contains(key, "..") || strings.HasPrefix(key, ".") {
		return "", fmt.Errorf("bad sysctl key %q: write it with dots, e.g. net.ipv4.ping_group_range", key)
	}
	var ns string
	switch {
	case strings.HasPrefix(key, "net."):
		ns = "net"
	case key == "kernel.hostname" || key == "kernel.domainname":
		ns = "uts"
	case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
		ns = "ipc"
	case strings.HasPrefix(key, "user."):
		ns = "user"
	default:
		return "", fmt.Errorf("sysctl %s is not namespaced: it would change the whole host, which nsh never does (namespaced ones are net.*, kernel.hostname, kernel.domainname, ipc's kernel.msg*/sem/shm*, fs.mqueue.*, user.*)", key)
	}
	return ns, nil
}

// SysctlPath is the /proc/sys file of a key.
func SysctlPath(key string) string {
	return "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
}

// RuncMasked and RuncReadonly are runc's defaults (runc spec), which
// Docker, podman and crun share: what a root child with a rootfs must not
// read (kernel memory, keys, timers) or write (sysctls, sysrq).
var (
	RuncMasked = []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}
	RuncReadonly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// BeyondRunc lists the masked and read-only paths of the plan that
// runc's defaults (which Docker and Kubernetes runtimes apply by
// themselves) do not have.
func (s *Spec) BeyondRunc() []string {
	var out []string
	for _, p := range s.Masked {
		if !slices.Contains(RuncMasked, p) {
			out = append(out, "mask "+p)
		}
	}
	for _, p := range s.Readonly {
		if !slices.Contains(RuncReadonly, p) {
			out = append(out, "readonly "+p)
		}
	}
	return out
}

// checkHidden checks masked or read-only paths: absolute, clean, once
// each, and with a rootfs to be inside.
func checkHidden(what string, paths []string, root *Rootfs) error {
	if len(paths) == 0 {
		return nil
	}
	if root == nil {
		return fmt.Errorf("%s: its paths are inside the child's rootfs: plan `rootfs DIR` first, or `%s off`", what, what)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" {
			return fmt.Errorf("%s %q: give a clean absolute path below / (as the child sees it), e.g. /proc/kcore", what, p)
		}
		if seen[p] {
			return fmt.Errorf("%s %s: listed twice", what, p)
		}
		seen[p] = true
	}
	return nil
}
