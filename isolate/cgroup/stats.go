package cgroup

// What a group uses and holds now, read from its files: cgroup stat,
// cgroup show @ID, draw cgroup and top read these.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"nsh/internal/kfile"
)

// OOMKills is how many of the group's processes the OOM killer ended.
func (g *Group) OOMKills() int {
	if x := g.host.V1For("memory"); x != nil {
		d := g.dirFor(x)
		if d == "" { // a cgroup joined with `cgroup use` that memory lacks
			return 0
		}
		return max(0, int(readKeyed(filepath.Join(d, "memory.oom_control"), "oom_kill")))
	}
	if d := g.UnifiedDir(); d != "" {
		return int(readKeyed(filepath.Join(d, "memory.events"), "oom_kill"))
	}
	return 0
}

// ForksRefused is how many forks pids.max refused in the group
// (pids.events max, v1 and v2 alike).
func (g *Group) ForksRefused() int {
	if _, set := g.cfg.Get("pids.max"); g.owned && !set {
		// A group nsh made with no pids.max has "max": its own limit
		// refuses nothing, and the note is about that limit. (One
		// read less after each such spawn.)
		return 0
	}
	dir := ""
	if x := g.host.V1For("pids"); x != nil {
		dir = g.dirFor(x)
	} else {
		dir = g.UnifiedDir()
	}
	if dir == "" {
		return 0
	}
	return max(0, int(readKeyed(filepath.Join(dir, "pids.events"), "max")))
}

// readKeyed reads "key value" lines (memory.events, cpu.stat).
func readKeyed(file, key string) int64 {
	b, err := kfile.ReadFile(file)
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, " ")
		if k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return -1
}

// Stat is one line of `cgroup stat`.
type Stat struct {
	Name, Value, File string
	// Limit is what the figure is held under ("64M", "0.20 cores",
	// "max"), "" for a count that has none.
	Limit string
	// Key and Raw are the figure for programs (--json): a stable name
	// and the number as the file has it (bytes, microseconds, counts).
	Key string
	Raw int64
}

// statKeys are the JSON names of Stats' figures.
var statKeys = map[string]string{
	"memory current": "memory_current_bytes", "memory peak": "memory_peak_bytes", "OOM kills": "oom_kills",
	"cpu usage": "cpu_usage_usec", "cpu throttled": "cpu_throttled_usec", "throttled periods": "cpu_nr_throttled", "pids current": "pids_current",
	"forks refused": "forks_refused",
}

// Stats reads the group's live usage: memory current and peak, OOM kills,
// CPU time, pids current and forks refused by pids.max, each with the file
// it came from on this host (Usage decides which).
func (g *Group) Stats() []Stat {
	r := &usageReader{}
	defer r.close()
	var from usageFrom
	u := g.usage(r, &from)
	var out []Stat
	add := func(name string, v int64, file string, format func(int64) string, limit string) {
		if v >= 0 {
			out = append(out, Stat{Name: name, Value: format(v), File: file, Key: statKeys[name], Raw: v, Limit: limit})
		}
	}
	bytes := func(v int64) string {
		return FormatSize(strconv.FormatInt(v, 10)) + " (" + strconv.FormatInt(v, 10) + ")"
	}
	plain := func(v int64) string { return strconv.FormatInt(v, 10) }
	// Time as top shows it, in seconds; periods said as periods.
	secs := func(v int64) string { return fmt.Sprintf("%.2fs", float64(v)/1e6) }
	periods := func(v int64) string { return strconv.FormatInt(v, 10) + " periods" }
	memLimit, cpuLimit, pidsLimit := "max", "max", "max"
	if u.MemLimit >= 0 {
		memLimit = FormatSize(strconv.FormatInt(u.MemLimit, 10))
	}
	if u.CPULimit >= 0 {
		cpuLimit = fmt.Sprintf("%.2f cores", u.CPULimit)
	}
	if u.PidsLimit >= 0 {
		pidsLimit = strconv.FormatInt(u.PidsLimit, 10)
	}
	add("memory current", u.MemCurrent, from.mem, bytes, memLimit)
	add("memory peak", u.MemPeak, from.peak, bytes, memLimit)
	add("OOM kills", u.OOMKills, from.oom, plain, "")
	add("cpu usage", u.CPUUsec, from.cpu, secs, cpuLimit)
	add("cpu throttled", u.ThrottledUsec, "cpu.stat", secs, "")
	add("throttled periods", u.Throttled, "cpu.stat", periods, "")
	add("pids current", u.PidsCurrent, "pids.current", plain, pidsLimit)
	add("forks refused", u.ForksRefused, "pids.events", plain, "")
	return out
}

// Live reads the group's limits as its files hold them now: for each
// known key, the file it lands in on this host and its contents.
func (g *Group) Live() []Stat {
	var out []Stat
	for _, k := range Known {
		x, err := g.host.For(Controller(k.Key))
		if err != nil {
			continue
		}
		files := []string{k.Key}
		if !x.V2 {
			ws, err := v1Writes(x, Setting{k.Key, "max"}, func(key string) (string, bool) {
				if key == "memory.max" {
					return "max", true
				}
				return "", false
			})
			if err != nil || len(ws) == 0 {
				continue
			}
			files = nil
			for _, w := range ws {
				files = append(files, w.File)
			}
		}
		d := g.dirFor(x)
		if d == "" {
			continue
		}
		for _, f := range files {
			b, err := kfile.ReadFile(filepath.Join(d, f))
			if err != nil {
				continue
			}
			v := strings.Join(strings.Fields(string(b)), " ")
			if v == "" {
				v = "(empty)"
			}
			out = append(out, Stat{Name: k.Key, Value: v, File: filepath.Join(d, f)})
		}
	}
	return out
}

// Place is where a group is in one hierarchy: the hierarchy's name
// ("unified" or its v1 controllers) and the cgroup's path from its root.
type Place struct {
	Hierarchy string
	V2        bool
	Path      string // "/", "/nsh-812-4026531836-1", ...
}

// Places lists where the group is, hierarchy by hierarchy.
func (g *Group) Places() []Place {
	var out []Place
	for _, d := range g.dirs {
		rel, err := filepath.Rel(d.h.Mount, d.dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = d.dir
		}
		out = append(out, Place{Hierarchy: d.h.Key(), V2: d.h.V2, Path: filepath.Join("/", d.h.Root, rel)})
	}
	return out
}
