package export

import (
	"fmt"
	"sort"
	"strings"

	"nsh/isolate/cgroup"
	"nsh/plan"
)

// The cgroup part of export sh is written for both kinds of host, and
// the script picks one when it runs: a script written on this hybrid
// machine runs on a pure v2 one, and the other way round. Each branch is
// the plan's settings translated for that kind (runc's rules, as spawn
// translates them), under the cgroup the script runs in.

// v2Host is a pure v2 host, as the script sees it when it runs.
var v2Host = &cgroup.Host{Mode: cgroup.V2, Hierarchies: []*cgroup.Hierarchy{{
	V2: true, Mount: "/sys/fs/cgroup", Root: "/", Self: "/",
	Controllers: []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"},
}}}

// v1Controllers are the v1 controllers a script's cgroup is made in:
// those spawn's cgroup is in (its stats, its freezer), and those a
// setting writes.
var v1Controllers = []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "pids"}

// v1Host is a v1 host with a hierarchy per controller; where the host
// mounts one (cpu,cpuacct together, or apart) the script finds at run
// time, from /proc/self/mountinfo.
var v1Host = func() *cgroup.Host {
	h := &cgroup.Host{Mode: cgroup.V1}
	for _, c := range v1Controllers {
		h.Hierarchies = append(h.Hierarchies, &cgroup.Hierarchy{Controllers: []string{c}, Mount: c, Root: "/", Self: "/"})
	}
	return h
}()

// shellCgroup writes the cgroup part: a cgroup under the one the script
// runs in, with the limits, removed at exit. It sets $movedirs, the
// cgroups the child moves into.
func shellCgroup(b *strings.Builder, sp *plan.Spec) error {
	w := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	cfg := cgroup.Config{}
	if sp.Cgroup != nil {
		cfg = *sp.Cgroup
	}
	if cfg.Off {
		w("movedirs=''   # cgroup off: the child stays in this shell's cgroup")
		w("")
		return nil
	}
	w("# 1. A cgroup of its own (cgroup-tools is often missing, so: mkdir and echo),")
	w("#    nested under this shell's own. How this host mounts cgroups is found now:")
	w("#    one unified hierarchy (v2), or one per controller (v1; a hybrid host's")
	w("#    cgroup2 mount holds no controllers and is left alone).")
	w(`cgdirs=''; movedirs=''`)
	w(`cleanup() {`)
	w(`	for d in $cgdirs; do`)
	w(`		for try in 1 2 3 4 5 6 7 8 9 10; do rmdir "$d" 2>/dev/null && break; sleep 0.1; done`)
	w(`	done`)
	w(`}`)
	w(`trap cleanup EXIT`)
	w(`# mkcg DIR: make the cgroup DIR (once: v1 controllers may share a hierarchy).`)
	w(`mkcg() { case " $cgdirs " in *" $1 "*) return;; esac; mkdir "$1"; cgdirs="$1 $cgdirs"; movedirs="$movedirs $1"; }`)
	w(`if [ -f /sys/fs/cgroup/cgroup.controllers ]; then`)
	if err := cgroupBranch(b, cfg, sp, v2Host); err != nil {
		return err
	}
	w(`else`)
	w(`	# v1: where the hierarchy of controller $1 is mounted, and this shell's cgroup in it.`)
	w(`	v1mount() { awk -v c="$1" '/ - cgroup / { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $5; exit } }' /proc/self/mountinfo; }`)
	w(`	v1self() { awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) { print $3; exit } }' /proc/self/cgroup; }`)
	w(`	# cgpath C: the new cgroup's directory in controller C's hierarchy; a host`)
	w(`	# without that hierarchy stops the script (set -e), never a mkdir elsewhere.`)
	w(`	cgpath() { m=$(v1mount "$1"); [ -n "$m" ] || { echo "no cgroup v1 hierarchy has the $1 controller here" >&2; return 1; }; echo "$m$(v1self "$1")/nsh-export-$$"; }`)
	if err := cgroupBranch(b, cfg, sp, v1Host); err != nil {
		return err
	}
	w(`fi`)
	w("")
	return nil
}

// cgroupBranch writes one kind of host's cgroup: made, and written.
func cgroupBranch(b *strings.Builder, cfg cgroup.Config, sp *plan.Spec, h *cgroup.Host) error {
	w := func(format string, args ...any) { fmt.Fprintf(b, "\t"+format+"\n", args...) }
	writes, err := h.Writes(cfg.Settings)
	if err != nil {
		// A setting this kind of host cannot hold: the branch says so
		// and stops, as spawn would refuse it there.
		w(`echo %s >&2; exit 1`, shq(fmt.Sprintf("on a cgroup %s host: %v", h.Mode, err)))
		return nil
	}
	if cfg.Use == "" && h.Mode == cgroup.V1 {
		// The device allowlist spawn applies (runc's default with a
		// rootfs), through the v1 devices controller's files.
		dw, err := h.DeviceWrites(cgroup.EffectiveDevices(sp.Rootfs != nil, cfg.Devices))
		if err != nil && len(cfg.Devices) > 0 {
			return err
		}
		writes = append(writes, dw...)
	}
	if cfg.Use == "" && h.Mode == cgroup.V2 && (sp.Rootfs != nil || len(cfg.Devices) > 0) {
		w(`# Not here: the device allowlist. On v2 it is an eBPF program (nsh attaches one;`)
		w(`# a shell cannot): use nsh spawn, or export oci and runc.`)
	}
	used := map[*cgroup.Hierarchy]bool{}
	for _, x := range h.Hierarchies {
		if x.V2 || contains(x.Controllers, "memory", "cpu", "cpuacct", "pids", "freezer") {
			used[x] = true
		}
	}
	for _, wr := range writes {
		used[wr.Hierarchy] = true
	}
	var list []*cgroup.Hierarchy
	for x := range used {
		list = append(list, x)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Mount < list[j].Mount })
	for _, x := range list {
		v := "cg_" + strings.NewReplacer(",", "_", "-", "_").Replace(x.Key())
		if x.V2 {
			v = "cg"
		}
		written := false
		for _, wr := range writes {
			written = written || wr.Hierarchy == x
		}
		indent := ""
		if !x.V2 && !written && cfg.Use == "" && cfg.Parent == "" {
			// Only for its stats or its freezer: where the host has it.
			w(`if [ -n "$(v1mount %s)" ]; then`, x.Key())
			indent = "\t"
		}
		switch {
		case cfg.Use != "" && x.V2:
			w(`%s="%s%s"; movedirs="$movedirs $%s"   # cgroup use: as it is`, v, x.Mount, cfg.Use, v)
			continue
		case cfg.Use != "":
			w(`%s="$(v1mount %s)%s"; movedirs="$movedirs $%s"   # cgroup use: as it is`, v, x.Key(), cfg.Use, v)
			continue
		case cfg.Parent != "" && x.V2:
			w(`%s="%s%s/nsh-export-$$"`, v, x.Mount, cfg.Parent)
		case cfg.Parent != "":
			w(`%s="$(v1mount %s)%s/nsh-export-$$"`, v, x.Key(), cfg.Parent)
		case x.V2:
			w(`%s="%s$(awk -F: '$1 == 0 {print $3}' /proc/self/cgroup)/nsh-export-$$"`, v, x.Mount)
		default:
			w(indent+`%s=$(cgpath %s)`, v, x.Key())
		}
		w(indent+`mkcg "$%s"`, v)
		if indent != "" {
			w(`fi`)
		}
		if x.V2 {
			w(`# v2: the parent must pass the controllers on (cgroup.subtree_control); a cgroup`)
			w(`# that holds processes cannot, so run this from a cgroup of its own if that fails.`)
			w(`echo '+memory +cpu +pids' > "$%s/../cgroup.subtree_control" 2>/dev/null || true`, v)
		}
		if contains(x.Controllers, "cpuset") && !x.V2 {
			w(`# v1 cpusets start empty, and an empty cpuset holds no task: copy the parent's.`)
			w(`cat "$%s/../cpuset.cpus" > "$%s/cpuset.cpus"; cat "$%s/../cpuset.mems" > "$%s/cpuset.mems"`, v, v, v, v)
		}
		for _, wr := range writes {
			if wr.Hierarchy == x {
				w(`echo %s > "$%s/%s"`, shq(wr.Value), v, wr.File)
			}
		}
	}
	return nil
}
