package cgroup

import (
	"bytes"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Usage is a group's live figures against its limits, as top shows them.
// A figure the host does not keep is -1; a limit of -1 is none.
type Usage struct {
	MemCurrent, MemPeak, MemLimit int64 // bytes
	OOMKills                      int64
	CPUUsec                       int64   // CPU time used, microseconds
	CPULimit                      float64 // cores (cpu.max quota/period), -1: none
	Throttled                     int64   // periods throttled
	ThrottledUsec                 int64   // time throttled, microseconds
	PidsCurrent, PidsLimit        int64
	ForksRefused                  int64 // forks pids.max refused
}

// usageFrom names the files some figures came from, which differ between
// v1 and v2 (cgroup stat shows them).
type usageFrom struct{ mem, peak, oom, cpu string }

// usageReader reads small cgroup files into one buffer, keeping each file
// open: top reads ten files per child every second, and opening a cgroup
// file costs several times reading an open one again (pread at 0, which
// makes the kernel render it anew).
type usageReader struct {
	buf [512]byte
	fds map[string]int
}

func (r *usageReader) read(file string) []byte {
	fd, ok := r.fds[file]
	if !ok {
		var err error
		if fd, err = unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return nil
		}
		if r.fds == nil {
			r.fds = map[string]int{}
		}
		r.fds[file] = fd
	}
	n, err := unix.Pread(fd, r.buf[:], 0)
	if err != nil || n <= 0 {
		return nil
	}
	return r.buf[:n]
}

func (r *usageReader) close() {
	for f, fd := range r.fds {
		unix.Close(fd)
		delete(r.fds, f)
	}
}

// Watcher reads a group's Usage again and again, its files kept open.
// Close it when done; an open file does not keep a removed cgroup alive
// (rmdir succeeds, later reads fail and give -1).
type Watcher struct {
	g *Group
	r usageReader
}

// Watch starts reading the group's usage repeatedly.
func (g *Group) Watch() *Watcher { return &Watcher{g: g} }

// Usage is the group's figures now.
func (w *Watcher) Usage() Usage { return w.g.usage(&w.r, &usageFrom{}) }

// Close closes the files.
func (w *Watcher) Close() { w.r.close() }

func (r *usageReader) int(file string) int64 {
	b := bytes.TrimSpace(r.read(file))
	if len(b) == 0 {
		return -1
	}
	if string(b) == "max" {
		return -1
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// keyed finds "key value" in a flat keyed file (cpu.stat, memory.events).
func (r *usageReader) keyed(file, key string) int64 {
	b := r.read(file)
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		k, v, ok := bytes.Cut(line, []byte{' '})
		if ok && string(k) == key {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// v1NoLimit: memory.limit_in_bytes says "no limit" with a huge number.
const v1NoLimit = 1 << 62

// Usage reads the group's figures from whichever hierarchy holds each
// controller on this host (v1 files translated, as everywhere in nsh).
func (g *Group) Usage() Usage {
	r := &usageReader{}
	defer r.close()
	return g.usage(r, &usageFrom{})
}

func (g *Group) usage(r *usageReader, from *usageFrom) Usage {
	u := Usage{MemCurrent: -1, MemPeak: -1, MemLimit: -1, OOMKills: -1, CPUUsec: -1, CPULimit: -1, Throttled: -1, ThrottledUsec: -1,
		PidsCurrent: -1, PidsLimit: -1, ForksRefused: -1}
	uni := g.UnifiedDir()
	if x := g.host.V1For("memory"); x != nil {
		*from = usageFrom{mem: "memory.usage_in_bytes", peak: "memory.max_usage_in_bytes", oom: "memory.oom_control", cpu: from.cpu}
		d := g.dirFor(x)
		u.MemCurrent = r.int(filepath.Join(d, "memory.usage_in_bytes"))
		u.MemPeak = r.int(filepath.Join(d, "memory.max_usage_in_bytes"))
		if u.MemLimit = r.int(filepath.Join(d, "memory.limit_in_bytes")); u.MemLimit >= v1NoLimit {
			u.MemLimit = -1
		}
		u.OOMKills = r.keyed(filepath.Join(d, "memory.oom_control"), "oom_kill")
	} else if uni != "" {
		*from = usageFrom{mem: "memory.current", peak: "memory.peak", oom: "memory.events", cpu: from.cpu}
		u.MemCurrent = r.int(filepath.Join(uni, "memory.current"))
		u.MemPeak = r.int(filepath.Join(uni, "memory.peak"))
		u.MemLimit = r.int(filepath.Join(uni, "memory.max"))
		u.OOMKills = r.keyed(filepath.Join(uni, "memory.events"), "oom_kill")
	}
	if x := g.host.V1For("cpuacct"); x != nil {
		from.cpu = "cpuacct.usage"
		if ns := r.int(filepath.Join(g.dirFor(x), "cpuacct.usage")); ns >= 0 {
			u.CPUUsec = ns / 1000
		}
	} else if uni != "" {
		from.cpu = "cpu.stat"
		u.CPUUsec = r.keyed(filepath.Join(uni, "cpu.stat"), "usage_usec")
	}
	if x := g.host.V1For("cpu"); x != nil {
		d := g.dirFor(x)
		q, p := r.int(filepath.Join(d, "cpu.cfs_quota_us")), r.int(filepath.Join(d, "cpu.cfs_period_us"))
		if q > 0 && p > 0 {
			u.CPULimit = float64(q) / float64(p)
		}
		st := filepath.Join(d, "cpu.stat")
		u.Throttled = r.keyed(st, "nr_throttled")
		if ns := r.keyed(st, "throttled_time"); ns >= 0 {
			u.ThrottledUsec = ns / 1000
		}
	} else if uni != "" {
		if b := bytes.Fields(r.read(filepath.Join(uni, "cpu.max"))); len(b) == 2 && string(b[0]) != "max" {
			q, _ := strconv.ParseFloat(string(b[0]), 64)
			p, _ := strconv.ParseFloat(string(b[1]), 64)
			if p > 0 {
				u.CPULimit = q / p
			}
		}
		st := filepath.Join(uni, "cpu.stat")
		u.Throttled = r.keyed(st, "nr_throttled")
		u.ThrottledUsec = r.keyed(st, "throttled_usec")
	}
	pd := uni
	if x := g.host.V1For("pids"); x != nil {
		pd = g.dirFor(x)
	}
	if pd != "" {
		u.PidsCurrent = r.int(filepath.Join(pd, "pids.current"))
		u.PidsLimit = r.int(filepath.Join(pd, "pids.max"))
		u.ForksRefused = r.keyed(filepath.Join(pd, "pids.events"), "max")
	}
	return u
}
