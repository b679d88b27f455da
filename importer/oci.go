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
	"strconv"
	"strings"

	"nsh/internal/ownfile"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
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
	Spec      *isolate.Spec
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
	im := &importer{raw: top, cfg: &cfg, sp: &isolate.Spec{}, bundle: bundle}
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
	sp      *isolate.Spec
	bundle  string
	out     []Unapplied
	refused []Unapplied
}

// refuse records what nsh cannot apply and may not leave out: the child
// would get more than the config gives it (host ids, no filter).
func (im *importer) refuse(path, why string) {
	im.refused = append(im.refused, Unapplied{path, why})
	im.consume(path)
}

// describeMaps shows id maps as uid_map lists them.
func describeMaps(m []specs.LinuxIDMapping) string {
	var parts []string
	for _, x := range m {
		parts = append(parts, fmt.Sprintf("%d->%d (%d ids)", x.ContainerID, x.HostID, x.Size))
	}
	return strings.Join(parts, ", ")
}

func (im *importer) skip(path, why string) {
	im.out = append(im.out, Unapplied{path, why})
	im.consume(path)
}

// consumeKey and skipKey are consume and skip for a map's key, which may
// hold dots (linux.sysctl's net.ipv4.ping_group_range).
func (im *importer) consumeKey(mapPath, key string) {
	var cur any = im.raw
	for _, p := range splitPath(mapPath) {
		m, ok := cur.(map[string]any)
		if !ok {
			return
		}
		cur = m[p]
	}
	if m, ok := cur.(map[string]any); ok {
		delete(m, key)
	}
}

func (im *importer) skipKey(mapPath, key, why string) {
	im.out = append(im.out, Unapplied{mapPath + "." + key, why})
	im.consumeKey(mapPath, key)
}

// consume marks a path as dealt with: it is removed from the raw tree,
// and what is left at the end is listed.
func (im *importer) consume(path string) {
	var cur any = im.raw
	parts := splitPath(path)
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				delete(c, p)
				return
			}
			cur = c[p]
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n >= len(c) {
				return
			}
			if last {
				c[n] = nil
				return
			}
			cur = c[n]
		default:
			return
		}
	}
}

// splitPath turns linux.resources.devices[2] into its steps.
func splitPath(p string) []string {
	p = strings.ReplaceAll(p, "[", ".")
	p = strings.ReplaceAll(p, "]", "")
	return strings.Split(p, ".")
}

// why says, by path, why nsh leaves a field alone.
var why = []struct{ prefix, why string }{
	{"hooks", "nsh runs no hooks: spawn, then run what they would"},
	{"annotations", "metadata for the runtime's users; nothing to apply"},
	{"domainname", "nsh sets the hostname only"},
	{"process.apparmorProfile", "nsh applies no AppArmor profile"},
	{"process.selinuxLabel", "nsh applies no SELinux label"},
	{"linux.mountLabel", "nsh applies no SELinux label"},
	{"process.oomScoreAdj", "nsh does not set oom_score_adj"},
	{"process.scheduler", "nsh does not set a scheduling policy"},
	{"process.ioPriority", "nsh does not set an I/O priority"},
	{"process.execCPUAffinity", "nsh does not set CPU affinity (cgroup set cpuset.cpus limits it)"},
	{"process.consoleSize", "a terminal's size: nsh's children share nsh's terminal"},
	{"process.user.additionalGids", "nsh's user clears supplementary groups"},
	{"process.user.umask", "nsh does not set a umask"},
	{"process.user.username", "Windows only"},
	{"process.commandLine", "Windows only"},
	{"linux.devices", "device nodes: nsh's rootfs gets a fixed minimal /dev (null, zero, full, random, urandom, tty, pts, shm)"},
	{"linux.intelRdt", "nsh has no Intel RDT (resctrl) support"},
	{"linux.rootfsPropagation", "nsh makes every mount private"},
	{"linux.personality", "nsh does not set a personality"},
	{"linux.resources.network", "network classes (net_cls, net_prio) are not among nsh's cgroup keys"},
	{"linux.resources.rdma", "rdma is not among nsh's cgroup keys"},
	{"linux.resources.memory.kernel", "kernel memory limits: gone from current kernels"},
	{"linux.resources.memory.kernelTCP", "kernel memory limits: gone from current kernels"},
	{"linux.resources.memory.disableOOMKiller", "nsh leaves the OOM killer on"},
	{"linux.resources.cpu.realtime", "real-time CPU time is not among nsh's cgroup keys"},
	{"linux.resources.blockIO.leafWeight", "blkio leaf weights: not among nsh's cgroup keys"},
	{"linux.resources.blockIO.weightDevice", "per-device weights: not among nsh's cgroup keys"},
	{"solaris", "another platform"},
	{"windows", "another platform"},
	{"vm", "a virtual-machine runtime's field"},
	{"zos", "another platform"},
}

func whyFor(path string) string {
	for _, w := range why {
		if strings.HasPrefix(path, w.prefix) {
			return w.why
		}
	}
	return "nsh has no command for it"
}

// leftovers lists what no mapping consumed: each subtree once, at the
// highest path that holds nothing consumed.
func (im *importer) leftovers(v any, path string) {
	if empty(v) {
		return
	}
	if whole(v) || whyFor(path) != "nsh has no command for it" {
		im.out = append(im.out, Unapplied{path, whyFor(path)})
		return
	}
	switch c := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(c))
		for k := range c {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			im.leftovers(c[k], p)
		}
	case []any:
		for i, e := range c {
			im.leftovers(e, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// whole says whether nothing was consumed below v: then v is listed as
// one field. Consuming removes keys and nils array elements, so a
// partly consumed tree has a nil element or a map that is not the
// config's whole object; a leaf is always whole.
func whole(v any) bool {
	switch c := v.(type) {
	case map[string]any:
		return false
	case []any:
		for _, e := range c {
			if e == nil {
				return false
			}
		}
		return true
	}
	return true
}

// empty says whether a value says nothing: false, 0, "", [], {}, null.
func empty(v any) bool {
	switch c := v.(type) {
	case nil:
		return true
	case bool:
		return !c
	case float64:
		return c == 0
	case string:
		return c == ""
	case []any:
		for _, e := range c {
			if !empty(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range c {
			if !empty(e) {
				return false
			}
		}
		return true
	}
	return false
}

// unknownPaths lists the names in v that type t (through its json tags)
// does not have, with their paths: linux.resources.memroy.
func unknownPaths(v any, t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	switch c := v.(type) {
	case map[string]any:
		if t.Kind() == reflect.Map {
			for k, e := range c {
				out = append(out, unknownPaths(e, t.Elem(), path+"."+k)...)
			}
			return out
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		for k, e := range c {
			p := k
			if path != "" {
				p = path + "." + k
			}
			ft, ok := fields[k]
			if !ok {
				out = append(out, p)
				continue
			}
			out = append(out, unknownPaths(e, ft, p)...)
		}
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return nil
		}
		for i, e := range c {
			out = append(out, unknownPaths(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	sort.Strings(out)
	return out
}

func collectFields(t reflect.Type, into map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectFields(ft, into)
				continue
			}
		}
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
	}
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
				sp.Join = append(sp.Join, isolate.Join{Type: t, Path: n.Path, Ref: n.Path})
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
			sp.Rootfs = &isolate.Rootfs{Dir: dir, ReadOnly: c.Root.Readonly}
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
			sp.Map = &isolate.IDMap{Mode: "none"}
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
		sp.Map = &isolate.IDMap{Mode: "root"}
	default:
		sp.Map = &isolate.IDMap{Mode: "id", UID: int(u), GID: int(g)}
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
		sp.User = &isolate.User{UID: int(p.User.UID), GID: int(p.User.GID)}
	}
	im.consume("process.user.uid")
	im.consume("process.user.gid")
	sp.NoNewPrivs = p.NoNewPrivileges
	im.consume("process.noNewPrivileges")
	if c := p.Capabilities; c != nil {
		k := &isolate.Caps{AmbientSet: true}
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
		sp.Caps = &isolate.Caps{AmbientSet: true}
	}
	for i, r := range p.Rlimits {
		path := fmt.Sprintf("process.rlimits[%d]", i)
		info, err := isolate.LookupRlimit(r.Type)
		if err != nil {
			im.skip(path, fmt.Sprintf("%s: not a resource limit nsh knows", r.Type))
			continue
		}
		if r.Soft > r.Hard {
			im.skip(path, fmt.Sprintf("%s: soft %d above hard %d", r.Type, r.Soft, r.Hard))
			continue
		}
		sp.Rlimits = isolate.SetRlimit(sp.Rlimits, isolate.Rlimit{Name: info.Name, Soft: r.Soft, Hard: r.Hard})
		im.consume(path)
	}
}

// defaultMounts are what runtimes mount in every container and nsh's
// spawn makes itself in a rootfs (/proc, and its own minimal /dev).
var defaultMounts = []specs.Mount{
	{Destination: "/proc", Type: "proc", Source: "proc"},
	{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
	{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
	{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
	{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
}

func (im *importer) mounts() {
	sp := im.sp
	for i, m := range im.cfg.Mounts {
		path := fmt.Sprintf("mounts[%d]", i)
		if slices_containsMount(defaultMounts, m) {
			im.consume(path)
			continue
		}
		if !sp.Has("mnt") {
			im.skip(path, "mounts need a new mount namespace, which the config does not ask for")
			continue
		}
		opts := map[string]bool{}
		for _, o := range m.Options {
			opts[o] = true
		}
		switch {
		case m.Type == "overlay" && m.Destination == "/" && sp.Rootfs != nil:
			// export oci's overlay root: the lowers are the plan's; an
			// upper outside the bundle was one the user kept.
			o := &isolate.Overlay{}
			for _, opt := range m.Options {
				if v, ok := strings.CutPrefix(opt, "lowerdir="); ok {
					o.Lowers = strings.Split(v, ":")
				} else if v, ok := strings.CutPrefix(opt, "upperdir="); ok && filepath.Dir(v) != filepath.Clean(im.bundle) {
					o.Upper = v
				}
			}
			if len(o.Lowers) == 0 {
				im.skip(path, "an overlay root without lowerdir")
				continue
			}
			sp.Rootfs = &isolate.Rootfs{Dir: o.Lowers[0], Overlay: o}
		case m.Type == "proc":
			sp.Mounts = append(sp.Mounts, isolate.Mount{Type: "proc", Target: m.Destination})
		case m.Type == "tmpfs":
			var rest []string
			for _, o := range m.Options {
				if o != "nosuid" && o != "nodev" {
					rest = append(rest, o)
				}
			}
			sp.Mounts = append(sp.Mounts, isolate.Mount{Type: "tmpfs", Target: m.Destination, Options: strings.Join(rest, ",")})
		case m.Type == "bind" || opts["bind"] || opts["rbind"]:
			if !filepath.IsAbs(m.Source) {
				im.skip(path, fmt.Sprintf("a bind of %q: give binds absolute sources", m.Source))
				continue
			}
			sp.Mounts = append(sp.Mounts, isolate.Mount{Type: "bind", Source: m.Source, Target: m.Destination, ReadOnly: opts["ro"]})
		case m.Type == "mqueue" && m.Destination == "/dev/mqueue":
			im.skip(path, "/dev/mqueue: spawn does not mount it (POSIX message queues still work through the ipc namespace)")
			continue
		case m.Type == "sysfs" && m.Destination == "/sys":
			im.skip(path, "/sys: spawn does not mount sysfs in a rootfs (mount bind /sys /sys ro would show the host's)")
			continue
		default:
			im.skip(path, fmt.Sprintf("a %s mount on %s: nsh mounts proc, tmpfs and binds", m.Type, m.Destination))
			continue
		}
		im.consume(path)
	}
}

func slices_containsMount(list []specs.Mount, m specs.Mount) bool {
	for _, d := range list {
		if reflect.DeepEqual(d, m) {
			return true
		}
	}
	return false
}

func (im *importer) linux(l *specs.Linux) {
	sp := im.sp
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ns, err := isolate.SysctlNamespace(k)
		switch {
		case err != nil:
			im.skipKey("linux.sysctl", k, err.Error())
		case !sp.Has(ns):
			im.skipKey("linux.sysctl", k, fmt.Sprintf("belongs to the %s namespace, which the config shares with the host: nsh never writes the host's sysctls", ns))
		default:
			sp.Sysctls = append(sp.Sysctls, isolate.Sysctl{Key: k, Value: l.Sysctl[k]})
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
			sp.Seccomp = &seccomp.Plan{Profile: body}
			if _, err := sp.SeccompFilter(); err != nil {
				// Without it the child would have no filter at all.
				sp.Seccomp = nil
				im.refuse("linux.seccomp", err.Error()+": nsh cannot compile the profile, and runs no child without the filter the config asks for")
			} else {
				im.consume("linux.seccomp")
			}
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

func (im *importer) cgroup() *cgroup.Config {
	if im.sp.Cgroup == nil {
		im.sp.Cgroup = &cgroup.Config{}
	}
	return im.sp.Cgroup
}

func (im *importer) set(path, key, value string) {
	if err := im.setting(key, value); err != nil {
		im.skip(path, err.Error())
		return
	}
	im.consume(path)
}

// setKey is set for a value under a map key with dots (unified).
func (im *importer) setKey(mapPath, mapKey, key, value string) {
	if err := im.setting(key, value); err != nil {
		im.skipKey(mapPath, mapKey, err.Error())
		return
	}
	im.consumeKey(mapPath, mapKey)
}

func (im *importer) setting(key, value string) error {
	c := im.cgroup()
	if _, ok := c.Get(key); ok {
		return fmt.Errorf("%s set twice", key)
	}
	if err := cgroup.ValidateKey(key); err != nil {
		return err
	}
	c.Settings = append(c.Settings, cgroup.Setting{Key: key, Value: value})
	return nil
}

func num(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

func (im *importer) resources(r *specs.LinuxResources) {
	const base = "linux.resources"
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			im.set(base+".memory.limit", "memory.max", num(*m.Limit))
		}
		if m.Reservation != nil {
			im.set(base+".memory.reservation", "memory.low", num(*m.Reservation))
		}
		if m.Swap != nil {
			// memory+swap, as v1 counts it.
			switch {
			case *m.Swap < 0:
				im.set(base+".memory.swap", "memory.swap.max", "max")
			case m.Limit != nil && *m.Limit >= 0 && *m.Swap >= *m.Limit:
				im.set(base+".memory.swap", "memory.swap.max", strconv.FormatInt(*m.Swap-*m.Limit, 10))
			default:
				im.skip(base+".memory.swap", "memory+swap without a memory limit below it: give memory.limit too")
			}
		}
		if m.Swappiness != nil {
			im.set(base+".memory.swappiness", "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10))
		}
	}
	if c := r.CPU; c != nil {
		if c.Quota != nil || c.Period != nil {
			period := uint64(100000)
			if c.Period != nil {
				period = *c.Period
			}
			q := "max"
			if c.Quota != nil && *c.Quota > 0 {
				q = strconv.FormatInt(*c.Quota, 10)
			}
			im.set(base+".cpu.quota", "cpu.max", q+" "+strconv.FormatUint(period, 10))
			im.consume(base + ".cpu.period")
		}
		if c.Shares != nil {
			im.set(base+".cpu.shares", "cpu.weight", strconv.FormatUint(weightFor(*c.Shares), 10))
		}
		if c.Cpus != "" {
			im.set(base+".cpu.cpus", "cpuset.cpus", c.Cpus)
		}
		if c.Mems != "" {
			im.set(base+".cpu.mems", "cpuset.mems", c.Mems)
		}
	}
	if p := r.Pids; p != nil {
		im.set(base+".pids.limit", "pids.max", num(p.Limit))
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil {
			im.set(base+".blockIO.weight", "io.weight", strconv.FormatUint(ioWeightFor(uint64(*b.Weight)), 10))
		}
		im.ioMax(b)
	}
	for i, h := range r.HugepageLimits {
		im.set(fmt.Sprintf("%s.hugepageLimits[%d]", base, i), "hugetlb."+h.Pagesize+".max", strconv.FormatUint(h.Limit, 10))
	}
	ukeys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		ukeys = append(ukeys, k)
	}
	sort.Strings(ukeys)
	for _, k := range ukeys {
		im.setKey(base+".unified", k, k, r.Unified[k])
	}
	im.devices(r.Devices)
}

// weightFor is the cpu.weight whose shares (as export and runc convert
// it) are these, so that a weight exported comes back the same.
func weightFor(shares uint64) uint64 {
	w := cgroup.SharesToWeight(shares)
	for c := max(w, 2) - 1; c <= w+2; c++ {
		if cgroup.WeightToShares(c) == shares {
			return c
		}
	}
	return w
}

// ioWeightFor is an io.weight with this blkio weight; many share one,
// and the roundest is the likeliest to have been typed (300, not 299).
func ioWeightFor(blkio uint64) uint64 {
	best, bestScore := uint64(0), -1
	for w := uint64(1); w <= 10000; w++ {
		if cgroup.IOWeightToBlkio(w) != blkio {
			continue
		}
		score := 0
		for _, m := range []uint64{10, 50, 100, 1000} {
			if w%m == 0 {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = w, score
		}
	}
	if best == 0 {
		return 100
	}
	return best
}

// ioMax gathers blockIO's throttle lists into one io.max per device.
func (im *importer) ioMax(b *specs.LinuxBlockIO) {
	const base = "linux.resources.blockIO."
	type dev struct{ major, minor int64 }
	var order []dev
	limits := map[dev][]string{}
	for _, l := range []struct {
		name string
		key  string
		list []specs.LinuxThrottleDevice
	}{{"throttleReadBpsDevice", "rbps", b.ThrottleReadBpsDevice}, {"throttleWriteBpsDevice", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "riops", b.ThrottleReadIOPSDevice}, {"throttleWriteIOPSDevice", "wiops", b.ThrottleWriteIOPSDevice}} {
		for i, t := range l.list {
			d := dev{t.Major, t.Minor}
			if _, ok := limits[d]; !ok {
				order = append(order, d)
			}
			limits[d] = append(limits[d], fmt.Sprintf("%s=%d", l.key, t.Rate))
			im.consume(fmt.Sprintf("%s%s[%d]", base, l.name, i))
		}
	}
	for _, d := range order {
		v := fmt.Sprintf("%d:%d %s", d.major, d.minor, strings.Join(limits[d], " "))
		c := im.cgroup()
		c.Settings = append(c.Settings, cgroup.Setting{Key: "io.max", Value: v})
	}
}

// devices takes the device allowlist: runc's own default list (which
// spawn gives every child with a rootfs) or runc spec's deny-all (on
// which runc puts that list) is no rule of the plan's; the rest are.
func (im *importer) devices(list []specs.LinuxDeviceCgroup) {
	var rules []cgroup.DeviceRule
	for _, d := range list {
		r := cgroup.DeviceRule{Allow: d.Allow, Type: d.Type, Major: -1, Minor: -1, Access: d.Access}
		if r.Type == "" {
			r.Type = "a"
		}
		if d.Major != nil {
			r.Major = int(*d.Major)
		}
		if d.Minor != nil {
			r.Minor = int(*d.Minor)
		}
		rules = append(rules, r)
	}
	def := cgroup.DefaultDevices()
	switch {
	case len(rules) >= len(def) && reflect.DeepEqual(rules[:len(def)], def):
		rules = rules[len(def):]
	case len(rules) > 0 && !rules[0].Allow && rules[0].Type == "a" && rules[0].Major == -1 && rules[0].Minor == -1:
		rules = rules[1:]
	}
	if len(rules) > 0 {
		im.cgroup().Devices = rules
	}
	im.consume("linux.resources.devices")
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
