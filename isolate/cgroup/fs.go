// Package cgroup makes, limits, watches and removes the cgroups of nsh's
// children on cgroup v2, v1 and hybrid hosts. Keys are v2 file names; on
// v1 they are translated to the v1 files by runc's rules.
package cgroup

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"

	"golang.org/x/sys/unix"

	"nsh/internal/kfile"
)

// CgroupMount is one mounted cgroup hierarchy, from /proc/self/mountinfo.
type CgroupMount struct {
	Point string // where it is mounted
	Root  string // the cgroup shown at Point
	V2    bool
	// Options of a v1 mount: its controllers, or name=systemd.
	Options []string
}

// CgroupMounts lists the cgroup hierarchies mounted in nsh's mount
// namespace, from /proc/self/mountinfo as moby/sys/mountinfo reads it
// (octal escapes and optional fields included). The file is read in one
// go and handed to its parser: mountinfo.GetMounts also stats
// /proc/thread-self, locks the thread and reads through Go's poller (the
// file is pollable), which took twice the parsing's time at a first call.
// nsh's threads all share one mount namespace, so /proc/self is the view
// thread-self would give.
func CgroupMounts() ([]CgroupMount, error) {
	b, err := kfile.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseCgroupMounts(b)
}

// parseCgroupMounts is CgroupMounts of mountinfo's text.
func parseCgroupMounts(b []byte) ([]CgroupMount, error) {
	infos, err := mountinfo.GetMountsFromReader(bytes.NewReader(b), mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, err
	}
	var out []CgroupMount
	for _, m := range infos {
		out = append(out, CgroupMount{
			Point:   m.Mountpoint,
			Root:    m.Root,
			V2:      m.FSType == "cgroup2",
			Options: strings.Split(m.VFSOptions, ","),
		})
	}
	return out, nil
}

// CgroupLine is one line of /proc/PID/cgroup.
type CgroupLine struct {
	Hierarchy   int
	Controllers string // "memory", "cpu,cpuacct", "name=systemd", "" for v2
	Path        string
}

// ProcessCgroups reads /proc/PID/cgroup.
func ProcessCgroups(pid int) ([]CgroupLine, error) {
	b, err := kfile.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return nil, err
	}
	return parseCgroupLines(b), nil
}

// parseCgroupLines is ProcessCgroups of the file's text.
func parseCgroupLines(b []byte) []CgroupLine {
	var out []CgroupLine
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		h, _ := strconv.Atoi(parts[0])
		out = append(out, CgroupLine{Hierarchy: h, Controllers: parts[1], Path: parts[2]})
	}
	return out
}

// Dir is the directory of cgroup l under the mounts, "" when its
// hierarchy is not mounted here.
func (l CgroupLine) Dir(mounts []CgroupMount) string {
	for _, m := range mounts {
		if l.Hierarchy == 0 && l.Controllers == "" {
			if !m.V2 {
				continue
			}
		} else if m.V2 || !hasAll(m.Options, strings.Split(l.Controllers, ",")) {
			continue
		}
		rel, err := filepath.Rel(m.Root, l.Path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // this mount shows another part of the hierarchy
		}
		return filepath.Join(m.Point, rel)
	}
	return ""
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// DirsToJoin lists the cgroups of target that nsh is not in: those a
// process entering target must move into.
func DirsToJoin(target int) ([]string, error) {
	theirs, err := ProcessCgroups(target)
	if err != nil {
		return nil, fmt.Errorf("read cgroups of pid %d: %w", target, err)
	}
	mine, err := ProcessCgroups(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("read nsh's cgroups: %w", err)
	}
	mounts, err := CgroupMounts()
	if err != nil {
		return nil, fmt.Errorf("find cgroup mounts: %w", err)
	}
	var dirs []string
	for _, t := range theirs {
		same := false
		for _, m := range mine {
			same = same || (m.Hierarchy == t.Hierarchy && m.Controllers == t.Controllers && m.Path == t.Path)
		}
		if dir := t.Dir(mounts); !same && dir != "" {
			// What enters a frozen cgroup stops there, nsh's stage
			// before the command: nsh would wait for good.
			if frozen(dir) {
				return nil, fmt.Errorf("pid %d's cgroup %s is frozen: what entered it would stop there; thaw it first (cgroup.freeze 0, or freezer.state THAWED)", target, dir)
			}
			dirs = append(dirs, dir)
		}
	}
	return dirs, nil
}

// frozen says whether dir's cgroup is frozen, by its own freezer or an
// ancestor's: cgroup.events on v2, freezer.state on v1.
func frozen(dir string) bool {
	if b, err := kfile.ReadFile(filepath.Join(dir, "cgroup.events")); err == nil {
		return slices.Contains(strings.Split(string(b), "\n"), "frozen 1")
	}
	b, err := kfile.ReadFile(filepath.Join(dir, "freezer.state"))
	st := strings.TrimSpace(string(b))
	return err == nil && (st == "FROZEN" || st == "FREEZING")
}

// movePid writes pid to dir's cgroup.procs.
func movePid(dir string, pid int, step func(string)) error {
	if pid <= 1 {
		// The host's (or the stand-in's) init is never nsh's to move.
		return fmt.Errorf("move pid %d into %s: refused: nsh moves only processes it started", pid, dir)
	}
	procs := filepath.Join(dir, "cgroup.procs")
	if step != nil {
		step(fmt.Sprintf("write %d to %s", pid, procs))
	}
	if err := kfile.WriteFile(procs, []byte(strconv.Itoa(pid))); err != nil {
		return fmt.Errorf("move pid %d into %s: %w", pid, dir, err)
	}
	return nil
}

var namePrefix = sync.OnceValue(func() string {
	var st unix.Stat_t
	ns := uint64(0)
	if unix.Stat("/proc/self/ns/pid", &st) == nil {
		ns = st.Ino
	}
	return fmt.Sprintf("nsh-%d-%d", os.Getpid(), ns)
})

// NamePrefix starts the name of every cgroup this nsh makes:
// nsh-PID-PIDNS, its pid and its pid namespace's inode. A pid alone
// is not unique: two nsh in different pid namespaces (containers, or
// tests below a stand-in init) may have the same one under one parent.
func NamePrefix() string { return namePrefix() }

// OfProcess is the cgroups pid is in, in each hierarchy h knows, as a
// group nsh did not make: it reads them, and changes them only when told
// to (cgroup set --force); it never removes them.
func OfProcess(h *Host, pid int) (*Group, error) {
	lines, err := ProcessCgroups(pid)
	if err != nil {
		return nil, fmt.Errorf("read cgroups of pid %d: %w", pid, err)
	}
	g := &Group{host: h}
	for _, x := range h.Hierarchies {
		for _, l := range lines {
			if (x.V2 && l.Hierarchy == 0 && l.Controllers == "") || (!x.V2 && l.Controllers == x.Key()) {
				dir := x.Dir(l.Path)
				if st, err := os.Stat(dir); err == nil && st.IsDir() {
					g.dirs = append(g.dirs, groupDir{x, dir})
				}
			}
		}
	}
	if len(g.dirs) == 0 {
		return nil, fmt.Errorf("pid %d is in no cgroup nsh can see", pid)
	}
	return g, nil
}

// AtRoot says whether every directory of the group is its hierarchy's
// root: a root cgroup has no limits to set.
func (g *Group) AtRoot() bool {
	for _, d := range g.dirs {
		if filepath.Clean(d.dir) != filepath.Clean(d.h.Mount) {
			return false
		}
	}
	return true
}
