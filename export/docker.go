package export

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"nsh/internal/ownfile"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
	"nsh/plan"
)

// Docker is the docker run flags for what Docker can express of the
// session, and a list of what it cannot. Each flag is one shell word,
// quoted for sh where it needs it, and parses with the docker CLI (the
// tests run them through `docker create`); the last word is the image,
// $IMAGE or debian. A seccomp plan other than Docker's own default is
// named as seccompFile, which the caller writes (DockerSeccomp); without
// one it is listed as what the flags cannot carry.
func Docker(sp *plan.Spec, seccompFile string) (flags, cannot []string) {
	d := &dockerRun{sp: sp, seccompFile: seccompFile}
	// One function per facet of the plan, in the order the flags are
	// printed.
	for _, facet := range []func(*dockerRun){
		dockerNamespaces, dockerProcess, dockerSeccompFlag, dockerRlimits, dockerCaps,
		dockerCgroup, dockerSysctls, dockerMounts, dockerNet,
	} {
		facet(d)
	}
	image := `"${IMAGE:-debian}"`
	if r := sp.Rootfs; r != nil {
		if r.ReadOnly {
			d.add("--read-only")
		}
		image = `"${IMAGE:-nsh-rootfs}"`
		d.cannot = append(d.cannot, fmt.Sprintf("a directory as the root: make it an image first: tar -C %s -c . | docker import - nsh-rootfs", r.Dir))
	}
	d.add("--rm", "-it", image)
	for i, f := range d.flags {
		if !strings.HasPrefix(f, `"${IMAGE`) {
			d.flags[i] = q(f)
		}
	}
	return d.flags, d.cannot
}

// dockerRun is docker run's flags as they are made, and what they cannot
// say.
type dockerRun struct {
	sp          *plan.Spec
	seccompFile string
	flags       []string
	cannot      []string
}

func (d *dockerRun) add(f ...string) { d.flags = append(d.flags, f...) }
func (d *dockerRun) not(why string)  { d.cannot = append(d.cannot, why) }

// dockerNamespaces: Docker makes every namespace new unless told to
// share the host's.
func dockerNamespaces(d *dockerRun) {
	sp := d.sp
	host := map[string]string{"pid": "--pid=host", "ipc": "--ipc=host", "uts": "--uts=host", "net": "--network=host"}
	for _, n := range []string{"pid", "ipc", "uts", "net"} {
		_, joined := sp.Joined(n)
		if !sp.Has(n) && !joined {
			d.add(host[n])
		}
	}
	if !sp.Has("mnt") {
		d.not("sharing the host's mount namespace: a container always has its own")
	}
	if sp.Has("cgroup") {
		d.add("--cgroupns=private")
	} else {
		d.add("--cgroupns=host")
	}
	if sp.Has("user") {
		d.not("a user namespace per container with your own id map: Docker's userns-remap is daemon-wide")
	}
	if sp.Has("time") {
		d.not(fmt.Sprintf("a time namespace (monotonic %+ds, boottime %+ds)", sp.Time.Monotonic, sp.Time.Boottime))
	}
	for _, j := range sp.Join {
		d.not(fmt.Sprintf("joining the %s namespace %s (only another container's, with --%s=container:NAME)", j.Type, j.Ref, j.Type))
	}
	if sp.Hostname != "" {
		d.add("--hostname=" + sp.Hostname)
	}
}

func dockerProcess(d *dockerRun) {
	if u := d.sp.User; u != nil {
		d.add(fmt.Sprintf("--user=%d:%d", u.UID, u.GID))
	}
	if d.sp.NoNewPrivs {
		d.add("--security-opt=no-new-privileges")
	}
}

func dockerSeccompFlag(d *dockerRun) {
	switch p := d.sp.Seccomp; {
	case p == nil:
		// nsh's children have no filter; Docker's have its default.
		d.add("--security-opt=seccomp=unconfined")
	case p.IsDockerDefault():
		// Docker's default, which Docker resolves against the
		// container's capabilities as nsh does.
	case d.seccompFile != "":
		d.add("--security-opt=seccomp=" + d.seccompFile)
	default:
		d.not("the seccomp plan in a flag: export docker --seccomp FILE writes it as a profile for --security-opt seccomp=FILE")
	}
}

func dockerRlimits(d *dockerRun) {
	lim := func(v uint64) string {
		if v == plan.Unlimited {
			return "-1"
		}
		return strconv.FormatUint(v, 10)
	}
	for _, r := range d.sp.Rlimits {
		d.add(fmt.Sprintf("--ulimit=%s=%s:%s", r.Name, lim(r.Soft), lim(r.Hard)))
	}
}

func dockerCaps(d *dockerRun) {
	sp, c := d.sp, d.sp.Caps
	if c == nil {
		d.not("nsh's own capability sets: Docker starts from its default 14 (cap preset docker shows them)")
		return
	}
	switch {
	case c.Preset == "privileged":
		// Not --privileged: that also gives every device and turns
		// seccomp and AppArmor off, far more than nsh's every
		// capability.
		d.add("--cap-add=ALL")
	case c.Preset == "docker":
	default:
		// Relative to Docker's default 14, as --cap-drop/--cap-add are,
		// or from none (--cap-drop=ALL, then each one kept) where that
		// says it in fewer flags: cap only X is --cap-drop=ALL
		// --cap-add=X, as Docker's documentation writes it.
		flag := func(prefix string, m uint64) (out []string) {
			for _, n := range capability.Names(m) {
				out = append(out, prefix+strings.ToUpper(strings.TrimPrefix(n, "cap_")))
			}
			return out
		}
		relative := append(flag("--cap-drop=", capability.Docker&^c.Bounding), flag("--cap-add=", c.Bounding&^capability.Docker)...)
		fromNone := append([]string{"--cap-drop=ALL"}, flag("--cap-add=", c.Bounding)...)
		if len(fromNone) < len(relative) || c.Bounding == 0 {
			d.add(fromNone...)
		} else {
			d.add(relative...)
		}
		if c.Effective != c.Bounding || c.Permitted != c.Bounding || c.Inheritable != 0 {
			d.not("permitted, effective or inheritable sets that differ from the bounding set")
		}
	}
	if sp.User != nil && sp.User.UID != 0 && c.Final(sp.User.UID).Ambient != 0 {
		d.not("ambient capabilities for a non-root user: Docker gives a non-root user none")
	}
}

func dockerCgroup(d *dockerRun) {
	c := d.sp.Cgroup
	if c == nil {
		return
	}
	for _, st := range c.Settings {
		if flags, ok := dockerLimit(c, st); ok {
			d.add(flags...)
		} else if len(flags) > 0 {
			d.not(flags[0])
		} else {
			d.not(st.Key + " " + st.Value)
		}
	}
	if c.Parent != "" {
		d.add("--cgroup-parent=" + c.Parent)
	}
	// Docker applies runc's default device list itself; the plan's own
	// allow rules go on top, its deny rules it cannot take.
	for _, r := range c.Devices {
		if r.Allow {
			d.add("--device-cgroup-rule=" + r.String())
		} else {
			d.not("cgroup devices " + r.Text() + ": docker takes allow rules only (--device-cgroup-rule)")
		}
	}
	if c.Use != "" {
		d.not("cgroup use " + c.Use + ": Docker makes its own cgroup")
	}
}

// dockerLimit is the flags for one cgroup setting; not ok, the reason
// Docker cannot take it (none: a key it has no flag for).
func dockerLimit(c *cgroup.Config, st cgroup.Setting) (flags []string, ok bool) {
	switch st.Key {
	case "memory.max":
		// "max" is Docker's default; -1 is not a size to it.
		if st.Value != "max" {
			return []string{"--memory=" + st.Value + "b"}, true
		}
		return nil, true
	case "memory.swap.max":
		if mem, ok := c.Get("memory.max"); ok && mem != "max" && st.Value != "max" {
			m, _ := strconv.ParseUint(mem, 10, 64)
			sw, _ := strconv.ParseUint(st.Value, 10, 64)
			return []string{fmt.Sprintf("--memory-swap=%d", m+sw)}, true
		}
		return []string{"--memory-swap=-1"}, true
	case "memory.low":
		if st.Value != "max" {
			return []string{"--memory-reservation=" + st.Value + "b"}, true
		}
		return nil, true
	case "io.weight":
		w, _ := strconv.ParseUint(st.Value, 10, 64)
		return []string{fmt.Sprintf("--blkio-weight=%d", cgroup.IOWeightToBlkio(w))}, true
	case "memory.swappiness":
		return []string{"--memory-swappiness=" + st.Value}, true
	case "io.max":
		fl, err := dockerIOMax(st.Value)
		if err != nil {
			return []string{fmt.Sprintf("io.max %s: %v", st.Value, err)}, false
		}
		return fl, true
	case "cpu.max":
		q, p, _ := strings.Cut(st.Value, " ")
		if q != "max" {
			return []string{"--cpu-period=" + p, "--cpu-quota=" + q}, true
		}
		return nil, true
	case "cpu.weight":
		w, _ := strconv.ParseUint(st.Value, 10, 64)
		return []string{fmt.Sprintf("--cpu-shares=%d", cgroup.WeightToShares(w))}, true
	case "pids.max":
		if st.Value == "max" {
			return []string{"--pids-limit=-1"}, true
		}
		return []string{"--pids-limit=" + st.Value}, true
	case "cpuset.cpus":
		return []string{"--cpuset-cpus=" + st.Value}, true
	case "cpuset.mems":
		return []string{"--cpuset-mems=" + st.Value}, true
	}
	return nil, false
}

func dockerSysctls(d *dockerRun) {
	for _, sc := range d.sp.Sysctls {
		d.add(fmt.Sprintf("--sysctl=%s=%s", sc.Key, sc.Value))
	}
	// Docker masks runc's list itself, and takes no other.
	for _, b := range d.sp.BeyondRunc() {
		d.not(b + ": Docker hides and protects its own list of paths (runc's) and takes no other")
	}
}

func dockerMounts(d *dockerRun) {
	for _, m := range d.sp.Mounts {
		switch m.Type {
		case "tmpfs":
			opt := ""
			if m.Options != "" {
				opt = ":" + m.Options
			}
			d.add("--tmpfs=" + m.Target + opt)
		case "bind":
			// --mount, not --volume: a path may hold a colon. Its value
			// is CSV, so a field with a comma or a quote is quoted.
			spec := "type=bind," + csvField("source="+m.Source) + "," + csvField("target="+m.Target)
			if m.ReadOnly {
				spec += ",readonly"
			}
			d.add("--mount=" + spec)
		case "proc", "sysfs", "mqueue":
			// Docker mounts each at its usual place itself.
			if usual := map[string]string{"proc": "/proc", "sysfs": "/sys", "mqueue": "/dev/mqueue"}[m.Type]; m.Target != usual {
				d.not("a " + m.Type + " mount at " + m.Target + " (Docker mounts one at " + usual + " only)")
			}
		}
	}
}

func dockerNet(d *dockerRun) {
	sp := d.sp
	if n := sp.Net; n != nil {
		for _, v := range n.Veths {
			d.not(fmt.Sprintf("a veth with fixed addresses %s <-> %s (use a docker network: docker network create --subnet)", v.HostAddr, v.ChildAddr))
		}
		if sp.Has("net") && len(n.Veths) == 0 {
			d.add("--network=none")
		}
	} else if sp.Has("net") {
		d.add("--network=none")
	}
}

// DockerSeccomp is the plan's filter as a Docker seccomp profile (JSON),
// resolved for the plan's capabilities; nil when Docker's own default or
// no filter is what the flags say.
func DockerSeccomp(sp *plan.Spec, h plan.Host) ([]byte, error) {
	p := sp.Seccomp
	if p == nil || p.IsDockerDefault() {
		return nil, nil
	}
	prof, err := sp.SeccompProfile(h)
	if err != nil || prof == nil {
		return nil, err
	}
	return ownfile.JSON(prof, "export docker --seccomp): docker run --security-opt seccomp=THIS-FILE")
}

// csvField quotes one field of a CSV value (docker's --mount).
func csvField(f string) string {
	if !strings.ContainsAny(f, ",\"\n") {
		return f
	}
	return `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
}

// dockerIOMax turns "MAJ:MIN rbps=N wbps=N riops=N wiops=N" into docker's
// --device-{read,write}-{bps,iops}=PATH:N flags; docker names a device by
// its path, found through /sys/dev/block/MAJ:MIN.
func dockerIOMax(v string) ([]string, error) {
	f := strings.Fields(v)
	if len(f) < 2 {
		return nil, fmt.Errorf("no limits")
	}
	b, err := os.ReadFile("/sys/dev/block/" + f[0] + "/uevent")
	dev := ""
	for _, l := range strings.Split(string(b), "\n") {
		if n, ok := strings.CutPrefix(l, "DEVNAME="); ok {
			dev = "/dev/" + n
		}
	}
	if err != nil || dev == "" {
		return nil, fmt.Errorf("docker names a device by its path, and this host has no block device %s", f[0])
	}
	flag := map[string]string{"rbps": "--device-read-bps", "wbps": "--device-write-bps", "riops": "--device-read-iops", "wiops": "--device-write-iops"}
	var out []string
	for _, kv := range f[1:] {
		k, n, _ := strings.Cut(kv, "=")
		if n == "max" || flag[k] == "" {
			continue // max: docker's default
		}
		out = append(out, flag[k]+"="+dev+":"+n)
	}
	return out, nil
}
