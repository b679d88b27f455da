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
	Env []string `json:"env" jsonschema:"nullable"`
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
// original when validation fails. Unexported fields are left out. It
// copies by reflection rather than through JSON: every command that
// changes the session clones, and encoding/json's first use builds its
// encoders, a cost a one-shot run would pay for nothing.
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
