package cgroup

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"nsh/internal/kfile"
)

// Mode is how a host mounts its cgroups.
type Mode string

const (
	V2     Mode = "v2"     // one unified hierarchy at /sys/fs/cgroup
	V1     Mode = "v1"     // one hierarchy per controller
	Hybrid Mode = "hybrid" // v1 controllers, plus cgroup2 (often without controllers)
)

// Hierarchy is one mounted hierarchy and nsh's place in it.
type Hierarchy struct {
	V2          bool
	Controllers []string // v1: the mount's controllers; v2: those available to nsh's cgroup
	Mount       string
	Root        string // the cgroup the mount shows at Mount
	Self        string // nsh's cgroup in this hierarchy
}

// Key names a hierarchy: "unified", or its v1 controllers joined by ",".
func (h *Hierarchy) Key() string {
	if h.V2 {
		return "unified"
	}
	return strings.Join(h.Controllers, ",")
}

// Dir is the directory of cgroup path in this hierarchy.
func (h *Hierarchy) Dir(path string) string {
	rel, err := filepath.Rel(h.Root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = path // the mount does not show it; best effort
	}
	return filepath.Join(h.Mount, rel)
}

func (h *Hierarchy) has(controller string) bool {
	for _, c := range h.Controllers {
		if c == controller {
			return true
		}
	}
	return false
}

// Host is what Detect found.
type Host struct {
	Mode        Mode
	Hierarchies []*Hierarchy
}

// Unified is the cgroup2 hierarchy, or nil.
func (h *Host) Unified() *Hierarchy {
	for _, x := range h.Hierarchies {
		if x.V2 {
			return x
		}
	}
	return nil
}

// V1For is the v1 hierarchy of a controller, or nil.
func (h *Host) V1For(controller string) *Hierarchy {
	for _, x := range h.Hierarchies {
		if !x.V2 && x.has(controller) {
			return x
		}
	}
	return nil
}

// For is the hierarchy that holds a controller's files: its v1 mount if
// it has one, else the unified hierarchy when the controller is there.
func (h *Host) For(controller string) (*Hierarchy, error) {
	v1 := controller
	if controller == "io" {
		v1 = "blkio" // v2's io is v1's blkio
	}
	if x := h.V1For(v1); x != nil {
		return x, nil
	}
	if u := h.Unified(); u != nil && u.has(controller) {
		return u, nil
	}
	var have []string
	for _, x := range h.Hierarchies {
		have = append(have, x.Controllers...)
	}
	sort.Strings(have)
	return nil, fmt.Errorf("controller %s is not available here (this %s host has: %s)", controller, h.Mode, strings.Join(have, " "))
}

var (
	detectOnce sync.Once
	detected   *Host
	detectErr  error
)

// Detect finds the host's cgroup mode, hierarchies and nsh's cgroups, once.
func Detect() (*Host, error) {
	detectOnce.Do(func() { detected, detectErr = detect() })
	return detected, detectErr
}

// readAhead is what the process read at its start of the two files detect
// reads (isolate's constructor, prefetch.c), taken by the first detect.
var readAhead struct{ mountinfo, self []byte }

// ReadAhead gives detection the text of /proc/self/mountinfo and
// /proc/self/cgroup as read at nsh's start, before any detection: the
// first one parses them instead of reading them again.
func ReadAhead(mountinfo, selfCgroup []byte) {
	readAhead.mountinfo, readAhead.self = mountinfo, selfCgroup
}

func detect() (*Host, error) {
	mi, self := readAhead.mountinfo, readAhead.self
	readAhead.mountinfo, readAhead.self = nil, nil
	var mounts []CgroupMount
	var err error
	if mi != nil {
		mounts, err = parseCgroupMounts(mi)
	} else {
		mounts, err = CgroupMounts()
	}
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	var lines []CgroupLine
	if self != nil {
		lines = parseCgroupLines(self)
	} else if lines, err = ProcessCgroups(os.Getpid()); err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	h := &Host{}
	seen := map[string]bool{}
	for _, m := range mounts {
		var x *Hierarchy
		if m.V2 {
			x = &Hierarchy{V2: true, Mount: m.Point, Root: m.Root}
		} else {
			var ctrls []string
			for _, o := range m.Options {
				if isController(o) {
					ctrls = append(ctrls, o)
				}
			}
			if len(ctrls) == 0 {
				continue // name=systemd and the like: no controller to use
			}
			x = &Hierarchy{Controllers: ctrls, Mount: m.Point, Root: m.Root}
		}
		if seen[x.Key()] {
			continue // the same hierarchy mounted twice
		}
		seen[x.Key()] = true
		for _, l := range lines {
			if (x.V2 && l.Hierarchy == 0 && l.Controllers == "") || (!x.V2 && l.Controllers == x.Key()) {
				x.Self = l.Path
			}
		}
		if x.V2 {
			b, _ := kfile.ReadFile(filepath.Join(x.Dir(x.Self), "cgroup.controllers"))
			x.Controllers = strings.Fields(string(b))
		}
		h.Hierarchies = append(h.Hierarchies, x)
	}
	var st unix.Statfs_t
	switch {
	case unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC:
		h.Mode = V2
	case h.Unified() != nil && len(h.Hierarchies) > 1:
		h.Mode = Hybrid
	case len(h.Hierarchies) > 0 && h.Unified() == nil:
		h.Mode = V1
	case h.Unified() != nil:
		h.Mode = V2
	default:
		return nil, errors.New("no cgroup hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)")
	}
	return h, nil
}

// isController tells v1 mount options that name controllers from others.
func isController(o string) bool {
	switch o {
	case "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "blkio",
		"perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc":
		return true
	}
	return false
}

// Write is one value to write to one interface file.
type Write struct {
	Hierarchy *Hierarchy
	File      string
	Value     string
}

// Writes translates settings into file writes, after runc's rules
// (libcontainer/cgroups/fs) for v1.
func (h *Host) Writes(settings []Setting) ([]Write, error) { return h.writes(settings) }

// DeviceWrites are the v1 writes of a device list, in order (export sh).
func (h *Host) DeviceWrites(rules []DeviceRule) ([]Write, error) { return h.deviceWrites(rules) }

func (h *Host) writes(settings []Setting) ([]Write, error) {
	var out []Write
	for _, s := range settings {
		w, err := h.writesFor(s, settings)
		if err != nil {
			return nil, err
		}
		out = appendWrites(out, w)
	}
	return out, nil
}

// appendWrites adds writes, each file once: v1 memory.max and
// memory.swap.max both write memory.memsw.limit_in_bytes, the same value.
func appendWrites(out, ws []Write) []Write {
	for _, w := range ws {
		dup := false
		for i := range out {
			if out[i].Hierarchy == w.Hierarchy && out[i].File == w.File {
				out[i], dup = w, true
			}
		}
		if !dup {
			out = append(out, w)
		}
	}
	return out
}

// ErrSwapNeedsMemory: on v1, swap is limited as memory + swap, so a swap
// limit needs a memory limit. A plan may name them in either order (OCI
// has none); a spawn needs both.
var ErrSwapNeedsMemory = errors.New("on cgroup v1 the swap limit is memory.memsw.limit_in_bytes = memory + swap, so it needs memory.max set too")

// writesFor is the writes of one setting; all is the whole plan, since a
// v1 swap limit depends on the memory limit.
func (h *Host) writesFor(s Setting, all []Setting) ([]Write, error) {
	x, err := h.For(Controller(s.Key))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Key, err)
	}
	if x.V2 {
		return []Write{{x, s.Key, s.Value}}, nil
	}
	get := func(key string) (string, bool) {
		for _, o := range all {
			if o.Key == key {
				return o.Value, true
			}
		}
		return "", false
	}
	w, err := v1Writes(x, s, get)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Key, err)
	}
	return w, nil
}

func v1Writes(x *Hierarchy, s Setting, get func(string) (string, bool)) ([]Write, error) {
	v1max := func(v string) string {
		if v == "max" {
			return "-1"
		}
		return v
	}
	switch s.Key {
	case "memory.max":
		w := []Write{{x, "memory.limit_in_bytes", v1max(s.Value)}}
		// memory + swap follows memory: a live change of memory.max
		// keeps "swap 0" meaning no swap, and never leaves memsw below
		// the new limit (EINVAL).
		if sw, ok := get("memory.swap.max"); ok && sw != "max" {
			memsw := "-1"
			if s.Value != "max" {
				var m, swap uint64
				fmt.Sscan(s.Value, &m)
				fmt.Sscan(sw, &swap)
				memsw = fmt.Sprint(m + swap)
			}
			w = append(w, Write{x, "memory.memsw.limit_in_bytes", memsw})
		}
		return w, nil
	case "memory.low":
		return []Write{{x, "memory.soft_limit_in_bytes", v1max(s.Value)}}, nil
	case "memory.high", "memory.min":
		return nil, fmt.Errorf("cgroup v1 has no file for %s: on this host use memory.max (memory.limit_in_bytes) or memory.low (memory.soft_limit_in_bytes)", s.Key)
	case "memory.swap.max":
		if s.Value == "max" {
			return []Write{{x, "memory.memsw.limit_in_bytes", "-1"}}, nil
		}
		mem, ok := get("memory.max")
		if !ok {
			return nil, ErrSwapNeedsMemory
		}
		if mem == "max" {
			return []Write{{x, "memory.memsw.limit_in_bytes", "-1"}}, nil
		}
		var m, sw uint64
		fmt.Sscan(mem, &m)
		fmt.Sscan(s.Value, &sw)
		return []Write{{x, "memory.memsw.limit_in_bytes", fmt.Sprint(m + sw)}}, nil
	case "cpu.max":
		q, p, _ := strings.Cut(s.Value, " ")
		// The period first: the kernel checks the quota against it.
		return []Write{{x, "cpu.cfs_period_us", p}, {x, "cpu.cfs_quota_us", v1max(q)}}, nil
	case "cpu.weight":
		var w uint64
		fmt.Sscan(s.Value, &w)
		return []Write{{x, "cpu.shares", fmt.Sprint(WeightToShares(w))}}, nil
	case "io.weight":
		// The inverse of runc's ConvertBlkIOToIOWeightValue
		// (1 + (b-10)*9999/990): 1-10000 onto blkio.weight 10-1000.
		var w uint64
		fmt.Sscan(s.Value, &w)
		return []Write{{x, "blkio.weight", fmt.Sprint(IOWeightToBlkio(w))}}, nil
	case "io.max":
		f := strings.Fields(s.Value)
		files := map[string]string{"rbps": "blkio.throttle.read_bps_device", "wbps": "blkio.throttle.write_bps_device",
			"riops": "blkio.throttle.read_iops_device", "wiops": "blkio.throttle.write_iops_device"}
		var out []Write
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			if v == "max" {
				v = "0" // v1 removes a device's limit with 0
			}
			out = append(out, Write{x, files[k], f[0] + " " + v})
		}
		return out, nil
	}
	if hugetlbKey(s.Key) != "" {
		// hugetlb.2MB.max is v1's hugetlb.2MB.limit_in_bytes (runc's).
		size := strings.TrimSuffix(strings.TrimPrefix(s.Key, "hugetlb."), ".max")
		return []Write{{x, "hugetlb." + size + ".limit_in_bytes", v1max(s.Value)}}, nil
	}
	// pids.max, cpuset.cpus, cpuset.mems and any other key: the same name.
	return []Write{{x, s.Key, s.Value}}, nil
}

// IOWeightToBlkio converts io.weight (1-10000) to v1 blkio.weight
// (10-1000): the nearest inverse of runc's ConvertBlkIOToIOWeightValue,
// 1 + (b-10)*9999/990 (the v1 scale is coarser, so 100 comes back 101).
func IOWeightToBlkio(w uint64) uint64 { return 10 + ((w-1)*990+4999)/9999 }

// The v1 and v2 CPU weights, converted as runc does today
// (opencontainers/cgroups ConvertCPUSharesToCgroupV2Value, runc >= 1.3):
// a quadratic in log2(shares) through the minimums (2 <-> 1), the
// defaults (1024 <-> 100) and the maximums (262144 <-> 10000), so that
// the default maps to the default and the map is monotonic. The linear
// formula of runc before 1.3 mapped weight 100 to 2597 shares, above the
// v1 default for the v2 default. OCI bundles carry shares, and runc
// turns them into a weight with this function on v2: WeightToShares is
// its inverse, so a weight exported and run by runc comes back unchanged.

// SharesToWeight converts v1 cpu.shares (2-262144) to cpu.weight
// (1-10000), as runc does.
func SharesToWeight(s uint64) uint64 {
	switch {
	case s == 0:
		return 0
	case s <= 2:
		return 1
	case s >= 262144:
		return 10000
	}
	l := math.Log2(float64(s))
	return uint64(math.Ceil(math.Pow(10, (l*l+125*l)/612-7.0/34)))
}

// WeightToShares converts cpu.weight (1-10000) to v1 cpu.shares: the
// most shares runc converts to that weight, which puts the defaults
// (100 -> 1024) and the ends (1 -> 2, 10000 -> 262144) where runc does.
func WeightToShares(w uint64) uint64 {
	lo, hi := uint64(2), uint64(262144)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if SharesToWeight(mid) <= w {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// Describe says, for each setting, which file it lands in on this host
// and with what value, for `cgroup show`.
func (h *Host) Describe(settings []Setting) []string {
	var out []string
	for _, s := range settings {
		ws, err := h.writesFor(s, settings)
		if err != nil {
			out = append(out, "refused here: "+err.Error())
			continue
		}
		var parts []string
		for _, w := range ws {
			parts = append(parts, fmt.Sprintf("%s = %s", w.File, w.Value))
		}
		version := "v1 "
		if ws[0].Hierarchy.V2 {
			version = "v2 "
		}
		out = append(out, version+strings.Join(parts, ", "))
	}
	return out
}

// Check says whether settings can be applied on this host: each maps to
// files, and a key nsh does not know names a file that exists in nsh's
// own cgroup (where a child's will have it too).
func (h *Host) Check(settings []Setting) error {
	var ws []Write
	for _, s := range settings {
		w, err := h.writesFor(s, settings)
		// Not yet: memory.max may come next.
		if errors.Is(err, ErrSwapNeedsMemory) {
			continue
		}
		if err != nil {
			return err
		}
		ws = appendWrites(ws, w)
	}
	for _, w := range ws {
		// A v1 hierarchy's cgroups below its root all have its
		// controller's files, nsh's own included, so a known key's file
		// is looked for there too: one the kernel does not offer
		// (blkio.weight without the BFQ scheduler) is refused now, not at
		// the next spawn. A root cgroup lacks the limits (pids.max), and
		// on v2 a known key's file exists only below a cgroup that
		// enabled the controller, which nsh does for its children.
		if (isKnown(w.File) || isV1Translation(w.File)) && (w.Hierarchy.V2 || w.Hierarchy.Self == "/") {
			continue
		}
		dir := w.Hierarchy.Dir(w.Hierarchy.Self)
		if _, err := os.Stat(filepath.Join(dir, w.File)); err != nil && (!w.Hierarchy.V2 || w.Hierarchy.Self != "/") {
			return fmt.Errorf("%s: no such interface file in %s: this kernel's controller does not offer it, so no child could get it; known keys: %s", w.File, dir, strings.Join(KnownKeys(), " "))
		}
	}
	return nil
}

func isKnown(key string) bool {
	for _, k := range Known {
		if k.Key == key {
			return true
		}
	}
	return false
}

func isV1Translation(file string) bool {
	switch file {
	case "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
		"cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares", "blkio.weight":
		return true
	}
	if strings.HasPrefix(file, "hugetlb.") && strings.HasSuffix(file, ".limit_in_bytes") {
		return true
	}
	return strings.HasPrefix(file, "blkio.throttle.")
}

func settingsWithout(settings []Setting, key string) []Setting {
	var out []Setting
	for _, s := range settings {
		if s.Key != key {
			out = append(out, s)
		}
	}
	return out
}

// KernelAtLeast says whether the running kernel is major.minor or newer.
func KernelAtLeast(major, minor int) bool {
	ma, mi := kernelVersion()
	return ma > major || (ma == major && mi >= minor)
}

// kernelVersion is the running kernel's major.minor, read once: every
// spawn asks (0.0 if uname fails).
var kernelVersion = sync.OnceValues(func() (major, minor int) {
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	}
	return major, minor
})
