// Package export turns a session's plan into what other tools run: a POSIX
// sh script with util-linux and iproute2, an OCI runtime bundle's
// config.json for runc or crun, and docker run flags.
package export

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"nsh/internal/ownfile"
	"nsh/plan"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
)

var ociNamespace = map[string]specs.LinuxNamespaceType{
	"cgroup": specs.CgroupNamespace, "ipc": specs.IPCNamespace, "mnt": specs.MountNamespace,
	"net": specs.NetworkNamespace, "pid": specs.PIDNamespace, "time": specs.TimeNamespace,
	"user": specs.UserNamespace, "uts": specs.UTSNamespace,
}

// ociVersion is the runtime-spec version export oci's bundles say.
const ociVersion = "1.1.0"

// OCIJSON is OCI's config as the file holds it: indented, with a newline.
func OCIJSON(sp *plan.Spec, h plan.Host, args []string) ([]byte, []string, error) {
	b, err := OCIBundle(sp, h, "", args)
	if err != nil {
		return nil, nil, err
	}
	return b.JSON, b.Notes, nil
}

// Bundle is what export oci writes: config.json, and the directories an
// overlay root needs made first.
type Bundle struct {
	JSON  []byte
	Dirs  []string
	Notes []string
}

// OCIBundle is the config of a bundle in dir. An overlay root (if the plan
// has one) keeps its upper and work directories in the bundle: dir/upper,
// unless the plan names an upper to keep, and dir/work, with dir/rootfs the
// mount point; runc mounts an overlay on "/" as the root.
func OCIBundle(sp *plan.Spec, h plan.Host, dir string, args []string) (*Bundle, error) {
	cfg, notes, err := OCI(sp, h, args)
	if err != nil {
		return nil, err
	}
	var dirs []string
	if o := sp.Rootfs.Overlay; o != nil {
		abs := func(name string) string {
			if dir == "" {
				return name
			}
			a, _ := filepath.Abs(filepath.Join(dir, name))
			return a
		}
		upper := o.Upper
		if upper == "" {
			upper = abs("upper")
		}
		cfg.Root.Path = abs("rootfs")
		dirs = []string{cfg.Root.Path, upper, abs("work")}
		cfg.Mounts = append([]specs.Mount{{Destination: "/", Type: "overlay", Source: "overlay",
			Options: []string{"lowerdir=" + strings.Join(o.Lowers, ":"), "upperdir=" + upper, "workdir=" + abs("work")}}}, cfg.Mounts...)
		notes = append(notes, fmt.Sprintf("the overlay's upper layer is %s: unlike spawn's own, it stays after the container ends (remove it with the bundle)", upper))
	}
	// Marked, so export oci may write it again and no one else's.
	b, err := ownfile.JSON(cfg, "export oci")
	if err != nil {
		return nil, err
	}
	return &Bundle{JSON: b, Dirs: dirs, Notes: notes}, nil
}

// OCI is the config.json of a bundle that runs args as spawn would.
// Notes lists what the bundle does differently, for the user to read.
func OCI(sp *plan.Spec, h plan.Host, args []string) (*specs.Spec, []string, error) {
	if sp.Rootfs == nil {
		return nil, nil, errors.New("an OCI bundle needs a root filesystem: rootfs DIR (or rootfs --busybox DIR) first")
	}
	var notes []string
	if len(args) == 0 {
		args = sp.Command
	}
	if len(args) == 0 {
		args = []string{"/bin/sh"}
	}
	env := sp.Env
	if env == nil {
		env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}
	}
	cwd := sp.Cwd
	if cwd == "" {
		cwd = "/"
	}
	uid, gid := 0, 0
	if sp.User != nil {
		uid, gid = sp.User.UID, sp.User.GID
	}
	s := &specs.Spec{
		// The newest version whose fields nsh writes (timeOffsets are
		// 1.1's), not the Go types' own (1.2.1): crun 1.8, Debian 12's,
		// refuses a bundle newer than 1.1 ("unknown version specified").
		Version: ociVersion,
		Process: &specs.Process{
			User:            specs.User{UID: uint32(uid), GID: uint32(gid)},
			Args:            args,
			Terminal:        sp.Terminal,
			Env:             env,
			Cwd:             cwd,
			NoNewPrivileges: sp.NoNewPrivs,
		},
		Root:     &specs.Root{Path: sp.Rootfs.Dir, Readonly: sp.Rootfs.ReadOnly},
		Hostname: sp.Hostname,
		Linux:    &specs.Linux{},
	}
	f := sp.ChildCaps(h, uid)
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: capability.OCINames(f.Bounding), Effective: capability.OCINames(f.Effective), Permitted: capability.OCINames(f.Permitted),
		Inheritable: capability.OCINames(f.Inheritable), Ambient: capability.OCINames(f.Ambient),
	}
	notes = append(notes, ociNamespaces(s, sp)...)
	notes = append(notes, ociMounts(s, sp)...)
	if len(sp.Sysctls) > 0 {
		s.Linux.Sysctl = map[string]string{}
		for _, sc := range sp.Sysctls {
			s.Linux.Sysctl[sc.Key] = sc.Value
		}
	}
	if n := sp.Net; n != nil {
		if n.LoUp {
			notes = append(notes, "net up lo: runc brings lo up in a new network namespace by itself")
		}
		if len(n.Veths) > 0 {
			notes = append(notes, "net veth: an OCI runtime leaves networking to the caller (CNI, or ip link after runc create)")
		}
	}
	prof, err := sp.SeccompProfile(h)
	if err != nil {
		return nil, nil, err
	}
	s.Linux.Seccomp = prof
	for _, r := range sp.Rlimits {
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(r.Name), Soft: r.Soft, Hard: r.Hard})
	}
	res, more, err := ociResources(sp)
	if err != nil {
		return nil, nil, err
	}
	notes = append(notes, more...)
	s.Linux.Resources = res
	if sp.Cgroup != nil && sp.Cgroup.Parent != "" {
		s.Linux.CgroupsPath = sp.Cgroup.Parent + "/nsh-oci"
	}
	return s, notes, nil
}

// ociNamespaces: the plan's new and joined namespaces, its id map and
// clock offsets.
func ociNamespaces(s *specs.Spec, sp *plan.Spec) (notes []string) {
	for _, n := range sp.Namespaces {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: ociNamespace[n]})
	}
	for _, j := range sp.Join {
		if strings.HasPrefix(j.Ref, "@") {
			notes = append(notes, fmt.Sprintf("join %s %s: a child of this session; the bundle gets a new %s namespace path only if you give one", j.Type, j.Ref, j.Type))
			continue
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: ociNamespace[j.Type], Path: j.Path})
	}
	if sp.Has("user") {
		m := sp.IDMapping()
		inside := map[string][2]uint32{"root": {0, 0}, "id": {uint32(m.UID), uint32(m.GID)}}
		if ids, ok := inside[m.Mode]; ok {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: ids[0], HostID: uint32(os.Getuid()), Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: ids[1], HostID: uint32(os.Getgid()), Size: 1}}
		}
	}
	if sp.Has("time") {
		notes = append(notes, "the time namespace: runc before 1.2 does not know it (\"namespace time does not exist\"); crun 1.8 and runc 1.2 do")
	}
	if sp.Has("time") && sp.Time != (plan.TimeOffsets{}) {
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
			"monotonic": {Secs: sp.Time.Monotonic}, "boottime": {Secs: sp.Time.Boottime},
		}
	}
	return notes
}

// ociMounts: the runtime's own mounts, the plan's, and its masked and
// read-only paths.
func ociMounts(s *specs.Spec, sp *plan.Spec) (notes []string) {
	s.Mounts = defaultMounts()
	for _, m := range sp.Mounts {
		switch m.Type {
		case "proc":
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Target, Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}})
		case "sysfs":
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Target, Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}})
		case "mqueue":
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Target, Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}})
		case "tmpfs":
			opts := []string{"nosuid", "nodev"}
			if m.Options != "" {
				opts = append(opts, strings.Split(m.Options, ",")...)
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		case "bind":
			opts := []string{"rbind"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: opts})
		}
	}
	s.Linux.MaskedPaths = append([]string(nil), sp.Masked...)
	s.Linux.ReadonlyPaths = append([]string(nil), sp.Readonly...)
	return notes
}

// defaultMounts are the mounts of runc's own `runc spec` template that
// spawn makes in a rootfs itself: /proc, and /dev with its devpts and
// shm. The template's /dev/mqueue and /sys are written only when the plan
// mounts them (mount mqueue, mount sysfs), so the bundle's container
// is the child spawn makes.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
	}
}

// ociResources maps the cgroup plan to linux.resources; the spec's
// memory.swap is memory+swap, like v1.
func ociResources(sp *plan.Spec) (*specs.LinuxResources, []string, error) {
	var rules []cgroup.DeviceRule
	if sp.Cgroup != nil {
		rules = sp.Cgroup.Devices
	}
	devices := ociDevices(cgroup.EffectiveDevices(sp.Rootfs != nil, rules))
	if sp.Cgroup == nil || len(sp.Cgroup.Settings) == 0 {
		if len(devices) == 0 {
			return nil, nil, nil
		}
		return &specs.LinuxResources{Devices: devices}, nil, nil
	}
	r := &specs.LinuxResources{Devices: devices}
	var notes []string
	i64 := func(v string) *int64 {
		if v == "max" {
			n := int64(-1)
			return &n
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return &n
	}
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	for _, st := range sp.Cgroup.Settings {
		switch st.Key {
		case "memory.max":
			mem().Limit = i64(st.Value)
		case "memory.low":
			mem().Reservation = i64(st.Value)
		case "memory.swap.max":
			memMax, ok := sp.Cgroup.Get("memory.max")
			if !ok || memMax == "max" || st.Value == "max" {
				mem().Swap = i64("max")
				continue
			}
			sum := *i64(memMax) + *i64(st.Value)
			mem().Swap = &sum
		case "cpu.max":
			// "max" is the default: left out, as crun refuses a quota
			// of -1 (runc takes it).
			q, p, _ := strings.Cut(st.Value, " ")
			period, _ := strconv.ParseUint(p, 10, 64)
			if q == "max" && period == 100000 {
				continue
			}
			cpu().Period = &period
			if q != "max" {
				cpu().Quota = i64(q)
			}
		case "cpu.weight":
			w, _ := strconv.ParseUint(st.Value, 10, 64)
			shares := cgroup.WeightToShares(w)
			cpu().Shares = &shares
		case "cpuset.cpus":
			cpu().Cpus = st.Value
		case "cpuset.mems":
			cpu().Mems = st.Value
		case "pids.max":
			// No limit is the default: left out, as crun refuses a
			// limit of -1 (runc takes it).
			if st.Value != "max" {
				r.Pids = &specs.LinuxPids{Limit: *i64(st.Value)}
			}
		case "io.weight":
			w, _ := strconv.ParseUint(st.Value, 10, 64)
			if r.BlockIO == nil {
				r.BlockIO = &specs.LinuxBlockIO{}
			}
			bw := uint16(cgroup.IOWeightToBlkio(w))
			r.BlockIO.Weight = &bw
		case "memory.swappiness":
			n, _ := strconv.ParseUint(st.Value, 10, 64)
			mem().Swappiness = &n
		case "io.max":
			// blockIO, not unified: runc refuses unified on v1.
			if r.BlockIO == nil {
				r.BlockIO = &specs.LinuxBlockIO{}
			}
			ociIOMax(r.BlockIO, st.Value)
		default:
			if r.Unified == nil {
				r.Unified = map[string]string{}
			}
			r.Unified[st.Key] = st.Value
			notes = append(notes, fmt.Sprintf("%s: in linux.resources.unified, which runtimes apply only on cgroup v2", st.Key))
		}
	}
	return r, notes, nil
}

// ociDevices is the device allowlist as linux.resources.devices: the
// same rules, in the same order, that spawn writes (runc appends its
// own default list to them, which changes nothing).
func ociDevices(rules []cgroup.DeviceRule) []specs.LinuxDeviceCgroup {
	var out []specs.LinuxDeviceCgroup
	for _, r := range rules {
		d := specs.LinuxDeviceCgroup{Allow: r.Allow, Access: r.Access}
		if r.Type != "a" {
			d.Type = r.Type
		}
		if r.Major >= 0 {
			n := int64(r.Major)
			d.Major = &n
		}
		if r.Minor >= 0 {
			n := int64(r.Minor)
			d.Minor = &n
		}
		out = append(out, d)
	}
	return out
}

// ociIOMax adds "MAJ:MIN rbps=N wbps=N riops=N wiops=N" to blockIO's
// throttle lists ("max" is no limit, and no entry).
func ociIOMax(b *specs.LinuxBlockIO, v string) {
	f := strings.Fields(v)
	if len(f) < 2 {
		return
	}
	maj, min, _ := strings.Cut(f[0], ":")
	major, _ := strconv.ParseInt(maj, 10, 64)
	minor, _ := strconv.ParseInt(min, 10, 64)
	for _, kv := range f[1:] {
		k, n, _ := strings.Cut(kv, "=")
		rate, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			continue
		}
		d := specs.LinuxThrottleDevice{Rate: rate}
		d.Major, d.Minor = major, minor
		switch k {
		case "rbps":
			b.ThrottleReadBpsDevice = append(b.ThrottleReadBpsDevice, d)
		case "wbps":
			b.ThrottleWriteBpsDevice = append(b.ThrottleWriteBpsDevice, d)
		case "riops":
			b.ThrottleReadIOPSDevice = append(b.ThrottleReadIOPSDevice, d)
		case "wiops":
			b.ThrottleWriteIOPSDevice = append(b.ThrottleWriteIOPSDevice, d)
		}
	}
}
