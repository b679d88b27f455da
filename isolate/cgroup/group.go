package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"nsh/internal/kfile"
)

// Config is what a session plans for its children's cgroups.
type Config struct {
	Settings []Setting `json:"settings,omitempty"`
	// Parent is where children's cgroups are made, as a path inside each
	// hierarchy; "" is the cgroup nsh runs in.
	Parent string `json:"parent,omitempty"`
	// Use puts children into this existing cgroup as it is (cgexec -g).
	Use string `json:"use,omitempty"`
	// Off gives children no cgroup of their own: they stay in nsh's.
	Off bool `json:"off,omitempty"`
	// Devices are the plan's device rules (cgroup devices); a child
	// gets them after runc's default list when it has a rootfs
	// (EffectiveDevices).
	Devices []DeviceRule `json:"devices,omitempty"`
}

// Get returns the planned value of key.
func (c *Config) Get(key string) (string, bool) {
	for _, s := range c.Settings {
		if s.Key == key {
			return s.Value, true
		}
	}
	return "", false
}

// Group is the cgroup of one child: a directory in each hierarchy.
type Group struct {
	host     *Host
	cfg      Config // what New made it from: the next one made ahead is the same
	dirs     []groupDir
	owned    bool // nsh made it and removes it
	deferred []Deferred
}

// NoPermission: nsh may not make cgroups under Dir. The remedy (run as
// root, or in a delegated cgroup) is the language's to say.
type NoPermission struct {
	Dir string
	Err error // what the kernel said, if it was asked
}

func (e *NoPermission) Error() string {
	s := fmt.Sprintf("nsh (uid %d) may not make cgroups under %s", os.Geteuid(), e.Dir)
	if e.Err != nil {
		s = e.Err.Error() + ": " + s
	}
	return s
}

func (e *NoPermission) Unwrap() error { return e.Err }

// Delegated is how a user gets cgroups of their own to run nsh in: the
// one remedy every refusal for want of cgroup permission names.
const Delegated = "systemd-run --user --scope -p Delegate=yes nsh"

// Deferred is a write left to the child stage, right before execve: a
// pids.max below the stage's own thread count would stop its Go runtime,
// and the kernel enforces it only on fork, not on the threads already there.
type Deferred struct {
	Path, Value string
}

// Deferred lists the writes left to the child stage.
func (g *Group) Deferred() []Deferred { return g.deferred }

type groupDir struct {
	h   *Hierarchy
	dir string
}

// mkdir and rmdir are the only calls that differ between cgroupfs and a
// plain directory tree: tests of the v2 logic on a fake cgroupfs replace
// them with ones that make and drop the interface files the kernel would.
var (
	mkdir = func(dir string) error { return os.Mkdir(dir, 0o755) }
	rmdir = unix.Rmdir
)

// Step reports a kernel-facing step (explain); nil is silent.
type Step func(string)

func (s Step) say(format string, args ...any) {
	if s != nil {
		s(fmt.Sprintf(format, args...))
	}
}

func writeFile(step Step, file, value string) error {
	step.say("write %q to %s", value, file)
	// The error names the file already.
	return kfile.WriteFile(file, []byte(value))
}

// v1Always are the v1 controllers every child gets a cgroup in: enough to
// watch (memory, cpuacct, pids), limit (memory, cpu, pids) and end
// (freezer) it. cpuset and blkio need values copied or set, so they are
// used only when a setting asks.
var v1Always = []string{"memory", "cpu", "cpuacct", "pids", "freezer"}

// v2Always are the controllers a child's v2 cgroup gets where available.
var v2Always = []string{"memory", "cpu", "pids"}

// New makes the cgroup of a child named name and writes its settings.
// Every value was checked by Parse; a write the kernel refuses removes
// what was made and returns the error.
func New(h *Host, cfg Config, name string, step Step) (*Group, error) {
	if cfg.Use != "" {
		return use(h, cfg.Use)
	}
	writes, err := h.writes(cfg.Settings)
	if err != nil {
		return nil, err
	}
	dw, err := h.deviceWrites(cfg.Devices)
	if err != nil {
		return nil, err
	}
	writes = append(writes, dw...)
	if err := startJanitor(); err != nil {
		return nil, err
	}
	g := &Group{host: h, cfg: cfg, owned: true}
	wanted := map[*Hierarchy]bool{}
	var v2ctrls []string
	// cgroup.kill (Linux 5.14) is in every non-root v2 cgroup, even one
	// without controllers, as a hybrid host's unified hierarchy is.
	killable := h.Unified() != nil && KernelAtLeast(5, 14)
	for _, c := range v1Always {
		// The v1 freezer is only for ending the group; a unified cgroup
		// with cgroup.kill does that, so it is spared (and its cost).
		if c == "freezer" && killable {
			continue
		}
		if x := h.V1For(c); x != nil {
			wanted[x] = true
		}
	}
	if u := h.Unified(); u != nil {
		wanted[u] = true
		if h.Mode == V2 {
			for _, c := range v2Always {
				if u.has(c) {
					v2ctrls = append(v2ctrls, c)
				}
			}
		}
	}
	for _, w := range writes {
		wanted[w.Hierarchy] = true
		if c := Controller(w.File); w.Hierarchy.V2 && !slices.Contains(v2ctrls, c) {
			v2ctrls = append(v2ctrls, c)
		}
	}
	var made []groupDir
	for _, x := range h.Hierarchies {
		if !wanted[x] {
			continue
		}
		parent := x.Self
		if cfg.Parent != "" {
			parent = cfg.Parent
		}
		pdir := x.Dir(parent)
		if cfg.Parent != "" {
			// A parent the user named may not exist; nsh's own cgroup
			// does (nsh is in it), and a mkdir under one that has gone
			// says so as well (missingParent).
			if st, err := os.Stat(pdir); err != nil || !st.IsDir() {
				return nil, missingParent(pdir)
			}
		}
		if x.V2 && len(v2ctrls) > 0 {
			if err := enableControllers(x, parent, v2ctrls, step); err != nil {
				return nil, err
			}
		}
		made = append(made, groupDir{x, filepath.Join(pdir, name)})
	}
	// Announced before they exist, all in one line to the janitor: a
	// SIGKILL now leaves nothing it does not know of.
	err = makeAnnounced(made, func(d groupDir) (bool, error) {
		step.say("mkdir %s", d.dir)
		if err := mkdir(d.dir); err != nil {
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
				return false, fmt.Errorf("make cgroup: %w", &NoPermission{Dir: filepath.Dir(d.dir), Err: err})
			}
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				return false, missingParent(filepath.Dir(d.dir))
			}
			return false, fmt.Errorf("make cgroup: %w", err)
		}
		g.dirs = append(g.dirs, d)
		if !d.h.V2 && d.h.has("cpuset") {
			return true, copyCpuset(filepath.Dir(d.dir), d.dir, step)
		}
		return true, nil
	})
	if err != nil {
		g.Remove(step)
		return nil, err
	}
	var now []Write
	for _, w := range writes {
		if w.File == "pids.max" {
			d := g.dirFor(w.Hierarchy)
			g.deferred = append(g.deferred, Deferred{filepath.Join(d, w.File), w.Value})
			continue
		}
		now = append(now, w)
	}
	if err := g.apply(now, step); err != nil {
		g.Remove(step)
		return nil, err
	}
	if d := g.UnifiedDir(); d != "" && len(cfg.Devices) > 0 {
		if err := attachDeviceProgram(d, cfg.Devices, step); err != nil {
			g.Remove(step)
			return nil, err
		}
	}
	return g, nil
}

// missingParent is the error for a parent cgroup that is not there.
func missingParent(dir string) error {
	return fmt.Errorf("parent cgroup %s does not exist: create it, or `cgroup parent` one that does", dir)
}

// use adopts an existing cgroup: children are placed in it, nothing is
// made or removed.
func use(h *Host, path string) (*Group, error) {
	g := &Group{host: h}
	for _, x := range h.Hierarchies {
		dir := x.Dir(path)
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			g.dirs = append(g.dirs, groupDir{x, dir})
		}
	}
	if len(g.dirs) == 0 {
		return nil, fmt.Errorf("cgroup use %s: no hierarchy has it: create it first (mkdir under /sys/fs/cgroup/...)", path)
	}
	return g, nil
}

// copyCpuset gives a new v1 cpuset cgroup its parent's cpus and mems: v1
// starts them empty, and an empty cpuset cannot hold a task.
func copyCpuset(parent, dir string, step Step) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		b, err := kfile.ReadFile(filepath.Join(parent, f))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(parent, f), err)
		}
		if err := writeFile(step, filepath.Join(dir, f), strings.TrimSpace(string(b))); err != nil {
			return err
		}
	}
	return nil
}

// apply writes in an order the kernel accepts. On v1 the memory limit
// may never exceed memory+swap, so, as runc's setMemoryAndSwap does,
// memory+swap goes first when it is unlimited or above the current
// memory limit (it grows), else second.
func (g *Group) apply(writes []Write, step Step) error {
	rank := func(w Write) int {
		if w.File != "memory.memsw.limit_in_bytes" {
			return 1
		}
		if g.memswFirst(w.Value) {
			return 0
		}
		return 2
	}
	sort.SliceStable(writes, func(i, j int) bool { return rank(writes[i]) < rank(writes[j]) })
	for _, w := range writes {
		d := g.dirFor(w.Hierarchy)
		if d == "" {
			return fmt.Errorf("%s: the child has no cgroup in that hierarchy", w.File)
		}
		// Asked per hierarchy, for every write: a process at the root of
		// one hierarchy may be below it in another, and the root's files
		// are the machine's (v1's root memory.swappiness is vm.swappiness).
		if filepath.Clean(d) == filepath.Clean(w.Hierarchy.Mount) {
			return fmt.Errorf("%s: the process is in the root cgroup of %s, whose files are the whole machine's: nsh never writes them", w.File, w.Hierarchy.Mount)
		}
		file := filepath.Join(d, w.File)
		if _, err := os.Stat(file); err != nil {
			return fmt.Errorf("%s: no such interface file here (%w); known keys: %s", w.File, err, strings.Join(KnownKeys(), " "))
		}
		if err := writeFile(step, file, w.Value); err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("%w (the kernel refused %q)", err, w.Value)
			}
			return err
		}
	}
	return nil
}

// memswFirst says whether a new v1 memory+swap limit must be written
// before the memory limit: it is unlimited, or above the current memory
// limit (runc's rule).
func (g *Group) memswFirst(v string) bool {
	x := g.host.V1For("memory")
	if x == nil {
		return false
	}
	if v == "-1" {
		return true
	}
	cur, err := kfile.ReadFile(filepath.Join(g.dirFor(x), "memory.limit_in_bytes"))
	if err != nil {
		return false
	}
	a, _ := strconv.ParseUint(strings.TrimSpace(string(cur)), 10, 64)
	b, _ := strconv.ParseUint(v, 10, 64)
	return a < b
}

func (g *Group) dirFor(x *Hierarchy) string {
	for _, d := range g.dirs {
		if d.h == x {
			return d.dir
		}
	}
	return ""
}

// Set changes a running child's settings live.
func (g *Group) Set(settings []Setting, all []Setting, step Step) error {
	var writes []Write
	for _, s := range settings {
		w, err := g.host.writesFor(s, append(settingsWithout(all, s.Key), s))
		if err != nil {
			return err
		}
		writes = append(writes, w...)
	}
	return g.apply(writes, step)
}

// UnifiedDir is the child's v2 cgroup, to clone the child straight into
// (CLONE_INTO_CGROUP); "" where there is none.
func (g *Group) UnifiedDir() string {
	for _, d := range g.dirs {
		if d.h.V2 {
			return d.dir
		}
	}
	return ""
}

// SelfPlacement lists the files a child writes "0" to, itself, to enter
// the group's v1 cgroups: each hierarchy's tasks file. The kernel moves
// the writing thread without taking cgroup_threadgroup_rwsem, whose write
// side waits for an RCU grace period, as nsh's write of the child's pid
// into cgroup.procs would. A child stage is one thread (C, before any runtime), so
// its thread is the whole process, and no pid is written at all.
func (g *Group) SelfPlacement() []string {
	if g == nil {
		return nil
	}
	var out []string
	for _, d := range g.dirs {
		if !d.h.V2 {
			out = append(out, filepath.Join(d.dir, "tasks"))
		}
	}
	return out
}

// Place moves pid into the group's cgroups, except the unified one when
// skipUnified (the child was cloned into it) and the v1 ones when skipV1
// (the child moves itself: SelfPlacement).
func (g *Group) Place(pid int, skipUnified, skipV1 bool, step Step) error {
	for _, d := range g.dirs {
		if d.h.V2 && skipUnified || !d.h.V2 && skipV1 {
			continue
		}
		if err := movePid(d.dir, pid, step); err != nil {
			return err
		}
	}
	return nil
}

// Procs lists the pids in the child's cgroup.
func (g *Group) Procs() ([]int, error) {
	d := g.primary()
	b, err := kfile.ReadFile(filepath.Join(d, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// primary is the directory whose cgroup.procs is the whole group: the
// unified one where the mode is v2, else memory's, else the first.
func (g *Group) primary() string {
	if g.host.Mode == V2 {
		if d := g.UnifiedDir(); d != "" {
			return d
		}
	}
	if x := g.host.V1For("memory"); x != nil {
		if d := g.dirFor(x); d != "" {
			return d
		}
	}
	if len(g.dirs) > 0 {
		return g.dirs[0].dir
	}
	return ""
}

// Dirs lists the group's directories.
func (g *Group) Dirs() []string {
	var out []string
	for _, d := range g.dirs {
		out = append(out, d.dir)
	}
	return out
}

// Files lists the interface files of each of the group's directories.
func (g *Group) Files() (map[string][]string, error) {
	out := map[string][]string{}
	for _, d := range g.dirs {
		ents, err := os.ReadDir(d.dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !e.IsDir() {
				out[d.dir] = append(out[d.dir], e.Name())
			}
		}
	}
	return out, nil
}

// Owned says whether nsh made the group (and so may kill, freeze, change
// and remove it); a cgroup joined with `cgroup use` is someone else's.
func (g *Group) Owned() bool { return g != nil && g.owned }

// Kill ends every process in the group, grandchildren included:
// cgroup.kill on v2, else freeze, SIGKILL each, thaw (v1 freezer), else
// SIGKILL each. A group nsh did not make is never touched: its other
// processes are not nsh's.
func (g *Group) Kill(step Step) {
	if !g.owned {
		return
	}
	if d := g.UnifiedDir(); d != "" && !holdsInit(d) {
		if _, err := os.Stat(filepath.Join(d, "cgroup.kill")); err == nil {
			writeFile(step, filepath.Join(d, "cgroup.kill"), "1")
			return
		}
	}
	var freezer string
	if x := g.host.V1For("freezer"); x != nil {
		freezer = g.dirFor(x)
	}
	if freezer != "" {
		writeFile(step, filepath.Join(freezer, "freezer.state"), "FROZEN")
		defer writeFile(step, filepath.Join(freezer, "freezer.state"), "THAWED")
	}
	for _, d := range g.dirs {
		b, _ := kfile.ReadFile(filepath.Join(d.dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			// Only nsh's children are placed here; pid 1 and nsh itself
			// would be a bug's doing and are never signalled.
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
}

// holdsInit says whether pid 1 is in dir's cgroup.procs. Only a bug
// could have put it there; such a cgroup is not killed wholesale.
func holdsInit(dir string) bool {
	return slices.Contains(readFields(filepath.Join(dir, "cgroup.procs")), "1")
}

// Remove kills what is left in the group and removes its directories,
// retrying while the kernel still sees them busy.
func (g *Group) Remove(step Step) error {
	if !g.owned {
		return nil
	}
	var firstErr error
	var gone []string
	killed := false
	for i := len(g.dirs) - 1; i >= 0; i-- {
		d := g.dirs[i].dir
		step.say("rmdir %s", d)
		// The child was reaped, and its group is empty as a rule: the
		// rmdir itself says whether anything is left (EBUSY), without
		// a read of cgroup.procs before each removal.
		err := rmdir(d)
		if errors.Is(err, unix.EBUSY) && !killed {
			killed = true
			if procs, _ := g.Procs(); len(procs) > 0 {
				g.Kill(step)
			}
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			err = rmdirRetry(d)
		} else {
			err = nil
		}
		if err != nil {
			// Left announced: the janitor tries again when nsh ends.
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		gone = append(gone, d)
	}
	janitorDel(gone)
	g.dirs = nil
	return firstErr
}

// rmdirRetry removes a cgroup directory; EBUSY lasts until the last task
// has left, which takes a moment after a kill.
func rmdirRetry(dir string) error {
	delay := time.Millisecond
	for deadline := time.Now().Add(3 * time.Second); ; delay *= 2 {
		err := rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(min(delay, 100*time.Millisecond))
	}
}

// UnifiedDirOrEmpty is UnifiedDir, also for a child without a group.
func (g *Group) UnifiedDirOrEmpty() string {
	if g == nil {
		return ""
	}
	return g.UnifiedDir()
}

// LeftToPlace says whether Place with the same skips would move a
// process at all (false for a child without a group).
func (g *Group) LeftToPlace(skipUnified, skipV1 bool) bool {
	if g == nil {
		return false
	}
	for _, d := range g.dirs {
		if !(d.h.V2 && skipUnified || !d.h.V2 && skipV1) {
			return true
		}
	}
	return false
}

// PlaceOrNil is Place, doing nothing for a child without a group.
func (g *Group) PlaceOrNil(pid int, skipUnified, skipV1 bool, step Step) error {
	if g == nil {
		return nil
	}
	return g.Place(pid, skipUnified, skipV1, step)
}
