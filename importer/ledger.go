package importer

// The ledger of an import: every member of the config is consumed by what
// applies it, skipped with the reason, or refused; what is left is listed
// as unapplied, so nothing is dropped without a word.

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

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
