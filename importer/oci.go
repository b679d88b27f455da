// Package importer reads what other tools wrote into a session's plan:
// an OCI runtime bundle's config.json (the runtime-spec Go types, checked
// field by field) becomes the settings nsh's commands would make.
package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"nsh/internal/ownfile"
	"nsh/plan"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"nsh/isolate/capability"
	"nsh/isolate/seccomp"
)

// Unapplied is a field of the config nsh did not make a setting of.
type Unapplied struct {
	Path string // JSON path: linux.devices, mounts[5]
	Why  string
}

func (u Unapplied) String() string { return u.Path + ": " + u.Why }

// Result is an imported plan and what of the config it leaves out.
type Result struct {
	Spec      *plan.Spec
	Unapplied []Unapplied
}

// ReadOCI reads DIR/config.json or FILE; a relative root path is taken
// from the bundle's directory, as runtimes take it.
func ReadOCI(path string) (*Result, error) {
	file := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		file = filepath.Join(path, "config.json")
	}
	b, err := ReadSmallFile(file)
	if err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, err
	}
	return OCI(b, bundle)
}

// OCI maps a config.json onto a plan. A field of the runtime spec nsh has
// a command for becomes that command's setting; any other non-empty field
// (and any name the runtime spec does not have) is listed with its path.
func OCI(b []byte, bundle string) (*Result, error) {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	top, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a config.json is a JSON object")
	}
	var cfg specs.Spec
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("not a runtime-spec config: %w", err)
	}
	im := &importer{raw: top, cfg: &cfg, sp: &plan.Spec{}, bundle: bundle}
	for _, p := range unknownPaths(top, reflect.TypeOf(cfg), "") {
		im.out = append(im.out, Unapplied{p, "not a field of the runtime spec nsh reads (" + specs.Version + "): misspelled, or newer"})
		im.consume(p)
	}
	if err := im.run(); err != nil {
		return nil, err
	}
	if len(im.refused) > 0 {
		var b strings.Builder
		b.WriteString("refused: the config asks for what nsh cannot apply and will not leave out, since the child would get more than the config gives it:")
		for _, r := range im.refused {
			fmt.Fprintf(&b, "\n  %s: %s", r.Path, r.Why)
		}
		return nil, errors.New(b.String())
	}
	im.leftovers(top, "")
	sort.SliceStable(im.out, func(i, j int) bool { return im.out[i].Path < im.out[j].Path })
	if err := im.sp.Validate(); err != nil {
		return nil, fmt.Errorf("the imported plan is not one nsh can run: %w", err)
	}
	return &Result{Spec: im.sp, Unapplied: im.out}, nil
}

type importer struct {
	raw     map[string]any
	cfg     *specs.Spec
	sp      *plan.Spec
	bundle  string
	out     []Unapplied
	refused []Unapplied
}

var nsTypes = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

func (im *importer) run() error {
	c, sp := im.cfg, im.sp
	im.consume("ociVersion")
	if l := c.Linux; l != nil {
		for i, n := range l.Namespaces {
			t, ok := nsTypes[n.Type]
			path := fmt.Sprintf("linux.namespaces[%d]", i)
			switch {
			case !ok:
				im.skip(path, fmt.Sprintf("namespace type %q: not one of the eight nsh knows", n.Type))
			case n.Path != "":
				sp.Join = append(sp.Join, plan.Join{Type: t, Path: n.Path, Ref: n.Path})
				im.consume(path)
			default:
				sp.Namespaces = append(sp.Namespaces, t)
				im.consume(path)
			}
		}
		im.idMaps()
	}
	if c.Hostname != "" {
		if sp.Has("uts") {
			sp.Hostname = c.Hostname
			im.consume("hostname")
		} else {
			im.skip("hostname", "a hostname needs a new uts namespace, which the config does not ask for")
		}
	}
	if c.Root != nil {
		dir := c.Root.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(im.bundle, dir)
		}
		if sp.Has("mnt") {
			sp.Rootfs = &plan.Rootfs{Dir: dir, ReadOnly: c.Root.Readonly}
			im.consume("root")
		} else {
			im.skip("root", "a root filesystem needs a new mount namespace, which the config does not ask for")
		}
	}
	if p := c.Process; p != nil {
		im.process(p)
	}
	im.mounts()
	if l := c.Linux; l != nil {
		im.linux(l)
	}
	return nil
}

func (im *importer) idMaps() {
	l, sp := im.cfg.Linux, im.sp
	if len(l.UIDMappings) == 0 && len(l.GIDMappings) == 0 {
		if sp.Has("user") {
			sp.Map = &plan.IDMap{Mode: "none"}
		}
		return
	}
	one := func(m []specs.LinuxIDMapping, host int) (uint32, bool) {
		if len(m) != 1 || m[0].Size != 1 || int(m[0].HostID) != host {
			return 0, false
		}
		return m[0].ContainerID, true
	}
	u, uok := one(l.UIDMappings, os.Getuid())
	g, gok := one(l.GIDMappings, os.Getgid())
	switch {
	case !sp.Has("user"):
		im.skip("linux.uidMappings", "id maps need a new user namespace, which the config does not ask for")
		im.skip("linux.gidMappings", "id maps need a new user namespace, which the config does not ask for")
	case !uok || !gok:
		// Going on with nsh's own map would make the config's
		// "container root = host uid 100000" host root.
		why := fmt.Sprintf("nsh maps only its own ids (uid %d, gid %d) to one id inside (map root, map UID:GID), and the config maps %s; without that map the child would run as host ids the config never gave it: map the container's ids to uid %d in the config, or build the plan with map", os.Getuid(), os.Getgid(), describeMaps(l.UIDMappings), os.Getuid())
		im.refuse("linux.uidMappings", why)
		im.consume("linux.gidMappings")
		return
	case u == 0 && g == 0:
		sp.Map = &plan.IDMap{Mode: "root"}
	default:
		sp.Map = &plan.IDMap{Mode: "id", UID: int(u), GID: int(g)}
	}
	im.consume("linux.uidMappings")
	im.consume("linux.gidMappings")
}

func (im *importer) process(p *specs.Process) {
	sp := im.sp
	im.consume("process.args")
	sp.Command = append([]string(nil), p.Args...)
	if p.Env != nil {
		sp.Env = append([]string{}, p.Env...)
	}
	im.consume("process.env")
	if p.Cwd != "" && p.Cwd != "/" {
		sp.Cwd = p.Cwd
	}
	im.consume("process.cwd")
	sp.Terminal = p.Terminal
	im.consume("process.terminal")
	if p.User.UID != 0 || p.User.GID != 0 {
		sp.User = &plan.User{UID: int(p.User.UID), GID: int(p.User.GID)}
	}
	im.consume("process.user.uid")
	im.consume("process.user.gid")
	sp.NoNewPrivs = p.NoNewPrivileges
	im.consume("process.noNewPrivileges")
	if c := p.Capabilities; c != nil {
		k := &plan.Caps{AmbientSet: true}
		for _, set := range []struct {
			name  string
			names []string
			mask  *uint64
		}{{"bounding", c.Bounding, &k.Bounding}, {"effective", c.Effective, &k.Effective}, {"permitted", c.Permitted, &k.Permitted},
			{"inheritable", c.Inheritable, &k.Inheritable}, {"ambient", c.Ambient, &k.Ambient}} {
			for i, n := range set.names {
				path := fmt.Sprintf("process.capabilities.%s[%d]", set.name, i)
				cp, err := capability.Parse(n)
				if err != nil {
					im.skip(path, fmt.Sprintf("%s: not a capability this kernel knows", n))
					continue
				}
				*set.mask |= 1 << uint(cp)
				im.consume(path)
			}
		}
		// The kernel keeps an ambient capability only if it is
		// permitted and inheritable; runc raises the rest in vain.
		for i, n := range c.Ambient {
			if cp, err := capability.Parse(n); err == nil && (k.Permitted&k.Inheritable)&(1<<uint(cp)) == 0 {
				k.Ambient &^= 1 << uint(cp)
				im.out = append(im.out, Unapplied{fmt.Sprintf("process.capabilities.ambient[%d]", i), n + ": not in both the permitted and the inheritable sets, so the kernel cannot make it ambient (runc's raise fails too)"})
			}
		}
		if k.Bounding == capability.Docker && k.Permitted == capability.Docker && k.Effective == capability.Docker && k.Inheritable == 0 && k.Ambient == 0 {
			k.Preset = "docker"
		}
		sp.Caps = k
	} else {
		// No capabilities object: a runtime gives the process none.
		sp.Caps = &plan.Caps{AmbientSet: true}
	}
	for i, r := range p.Rlimits {
		path := fmt.Sprintf("process.rlimits[%d]", i)
		info, err := plan.LookupRlimit(r.Type)
		if err != nil {
			im.skip(path, fmt.Sprintf("%s: not a resource limit nsh knows", r.Type))
			continue
		}
		if r.Soft > r.Hard {
			im.skip(path, fmt.Sprintf("%s: soft %d above hard %d", r.Type, r.Soft, r.Hard))
			continue
		}
		sp.Rlimits = plan.SetRlimit(sp.Rlimits, plan.Rlimit{Name: info.Name, Soft: r.Soft, Hard: r.Hard})
		im.consume(path)
	}
}

func (im *importer) linux(l *specs.Linux) {
	sp := im.sp
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ns, err := plan.SysctlNamespace(k)
		switch {
		case err != nil:
			im.skipKey("linux.sysctl", k, err.Error())
		case !sp.Has(ns):
			im.skipKey("linux.sysctl", k, fmt.Sprintf("belongs to the %s namespace, which the config shares with the host: nsh never writes the host's sysctls", ns))
		default:
			sp.Sysctls = append(sp.Sysctls, plan.Sysctl{Key: k, Value: l.Sysctl[k]})
			im.consumeKey("linux.sysctl", k)
		}
	}
	for name, off := range l.TimeOffsets {
		path := "linux.timeOffsets." + name
		switch {
		case !sp.Has("time"):
			im.skip(path, "clock offsets need a new time namespace, which the config does not ask for")
		case off.Nanosecs != 0:
			im.skip(path, "nsh's offsets are whole seconds")
		case name == "monotonic":
			sp.Time.Monotonic = off.Secs
			im.consume(path)
		case name == "boottime":
			sp.Time.Boottime = off.Secs
			im.consume(path)
		default:
			im.skip(path, "not a clock a time namespace offsets")
		}
	}
	// Hidden paths are inside the root: without one there is nothing to
	// hide them in (runc applies them in the container's root too).
	for _, x := range []struct {
		path string
		from []string
		to   *[]string
	}{{"linux.maskedPaths", l.MaskedPaths, &sp.Masked}, {"linux.readonlyPaths", l.ReadonlyPaths, &sp.Readonly}} {
		if len(x.from) == 0 {
			continue
		}
		if sp.Rootfs == nil {
			im.refuse(x.path, "they are paths inside the container's root, and nsh imports no root from this config (it asks for no mount namespace, or has no root)")
			continue
		}
		for _, p := range x.from {
			if !slices.Contains(*x.to, p) {
				*x.to = append(*x.to, p)
			}
		}
		im.consume(x.path)
	}
	if l.Seccomp != nil {
		body, err := json.Marshal(l.Seccomp)
		if err == nil {
			// Whether this host's libseccomp compiles it is the
			// mechanism's to say: the import command asks it (commands
			// refuses the import, as the child would have no filter).
			sp.Seccomp = &seccomp.Plan{Profile: body}
			im.consume("linux.seccomp")
		}
	}
	if p := l.CgroupsPath; p != "" {
		if parent, ok := strings.CutSuffix(p, "/nsh-oci"); ok && parent != "" {
			im.cgroup().Parent = parent
			im.consume("linux.cgroupsPath")
		} else {
			im.skip("linux.cgroupsPath", "nsh names each child's cgroup itself (cgroup parent PATH chooses where)")
		}
	}
	if r := l.Resources; r != nil {
		im.resources(r)
	}
}

// ReadSmallFile reads a config or a profile the user named, as package
// ownfile reads every such file: a device, a FIFO or a /proc file given
// by mistake is refused at once instead of blocking or never ending.
func ReadSmallFile(path string) ([]byte, error) {
	b, err := ownfile.ReadFile(path)
	if err != nil && strings.Contains(err.Error(), "not a regular file") {
		return nil, fmt.Errorf("%s is not a regular file: give a JSON file (a config.json, or a seccomp profile)", path)
	}
	return b, err
}
