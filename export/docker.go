package export

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"nsh/internal/ownfile"
	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
)

// Docker is the docker run flags for what Docker can express of the
// session, and a list of what it cannot. Each flag is one shell word,
// quoted for sh where it needs it, and parses with the docker CLI (the
// tests run them through `docker create`); the last word is the image,
// $IMAGE or debian. A seccomp plan other than Docker's own default is
// named as seccompFile, which the caller writes (DockerSeccomp); without
// one it is listed as what the flags cannot carry.
func Docker(sp *isolate.Spec, seccompFile string) (flags, cannot []string) {
	defer func() {
		for i, f := range flags {
			if !strings.HasPrefix(f, `"${IMAGE`) {
				flags[i] = q(f)
			}
		}
	}()
	add := func(f ...string) { flags = append(flags, f...) }
	// Docker makes every namespace new unless told to share the host's.
	host := map[string]string{"pid": "--pid=host", "ipc": "--ipc=host", "uts": "--uts=host", "net": "--network=host"}
	for _, n := range []string{"pid", "ipc", "uts", "net"} {
		_, joined := sp.Joined(n)
		if !sp.Has(n) && !joined {
			add(host[n])
		}
	}
	if !sp.Has("mnt") {
		cannot = append(cannot, "sharing the host's mount namespace: a container always has its own")
	}
	if sp.Has("cgroup") {
		add("--cgroupns=private")
	} else {
		add("--cgroupns=host")
	}
	if sp.Has("user") {
		cannot = append(cannot, "a user namespace per container with your own id map: Docker's userns-remap is daemon-wide")
	}
	if sp.Has("time") {
		cannot = append(cannot, fmt.Sprintf("a time namespace (monotonic %+ds, boottime %+ds)", sp.Time.Monotonic, sp.Time.Boottime))
	}
	for _, j := range sp.Join {
		cannot = append(cannot, fmt.Sprintf("joining the %s namespace %s (only another container's, with --%s=container:NAME)", j.Type, j.Ref, j.Type))
	}
	if sp.Hostname != "" {
		add("--hostname=" + sp.Hostname)
	}
	if u := sp.User; u != nil {
		add(fmt.Sprintf("--user=%d:%d", u.UID, u.GID))
	}
	if sp.NoNewPrivs {
		add("--security-opt=no-new-privileges")
	}
	switch p := sp.Seccomp; {
	case p == nil:
		// nsh's children have no filter; Docker's have its default.
		add("--security-opt=seccomp=unconfined")
	case p.IsDockerDefault():
		// Docker's default, which Docker resolves against the
		// container's capabilities as nsh does.
	case seccompFile != "":
		add("--security-opt=seccomp=" + seccompFile)
	default:
		cannot = append(cannot, "the seccomp plan in a flag: export docker --seccomp FILE writes it as a profile for --security-opt seccomp=FILE")
	}
	for _, r := range sp.Rlimits {
		lim := func(v uint64) string {
			if v == isolate.Unlimited {
				return "-1"
			}
			return strconv.FormatUint(v, 10)
		}
		add(fmt.Sprintf("--ulimit=%s=%s:%s", r.Name, lim(r.Soft), lim(r.Hard)))
	}
	if c := sp.Caps; c != nil {
		switch {
		case c.Preset == "privileged":
			// Not --privileged: that also gives every device and
			// turns seccomp and AppArmor off, far more than nsh's
			// every capability.
			add("--cap-add=ALL")
		case c.Preset == "docker":
		default:
			// Relative to Docker's default 14, as --cap-drop/--cap-add are.
			if c.Bounding == 0 {
				add("--cap-drop=ALL")
			} else {
				for _, n := range capability.Names(capability.Docker &^ c.Bounding) {
					add("--cap-drop=" + strings.ToUpper(strings.TrimPrefix(n, "cap_")))
				}
				for _, n := range capability.Names(c.Bounding &^ capability.Docker) {
					add("--cap-add=" + strings.ToUpper(strings.TrimPrefix(n, "cap_")))
				}
			}
			if c.Effective != c.Bounding || c.Permitted != c.Bounding || c.Inheritable != 0 {
				cannot = append(cannot, "permitted, effective or inheritable sets that differ from the bounding set")
			}
		}
		if sp.User != nil && sp.User.UID != 0 && c.Final(sp.User.UID).Ambient != 0 {
			cannot = append(cannot, "ambient capabilities for a non-root user: Docker gives a non-root user none")
		}
	} else {
		cannot = append(cannot, "nsh's own capability sets: Docker starts from its default 14 (cap preset docker shows them)")
	}
	if c := sp.Cgroup; c != nil {
		for _, st := range c.Settings {
			switch st.Key {
			case "memory.max":
				// "max" is Docker's default; -1 is not a size to it.
				if st.Value != "max" {
					add("--memory=" + st.Value + "b")
				}
			case "memory.swap.max":
				if mem, ok := c.Get("memory.max"); ok && mem != "max" && st.Value != "max" {
					m, _ := strconv.ParseUint(mem, 10, 64)
					sw, _ := strconv.ParseUint(st.Value, 10, 64)
					add(fmt.Sprintf("--memory-swap=%d", m+sw))
				} else {
					add("--memory-swap=-1")
				}
			case "memory.low":
				if st.Value != "max" {
					add("--memory-reservation=" + st.Value + "b")
				}
			case "io.weight":
				w, _ := strconv.ParseUint(st.Value, 10, 64)
				add(fmt.Sprintf("--blkio-weight=%d", cgroup.IOWeightToBlkio(w)))
			case "memory.swappiness":
				add("--memory-swappiness=" + st.Value)
			case "io.max":
				fl, err := dockerIOMax(st.Value)
				if err != nil {
					cannot = append(cannot, fmt.Sprintf("io.max %s: %v", st.Value, err))
				}
				add(fl...)
			case "cpu.max":
				q, p, _ := strings.Cut(st.Value, " ")
				if q != "max" {
					add("--cpu-period="+p, "--cpu-quota="+q)
				}
			case "cpu.weight":
				w, _ := strconv.ParseUint(st.Value, 10, 64)
				add(fmt.Sprintf("--cpu-shares=%d", cgroup.WeightToShares(w)))
			case "pids.max":
				if st.Value == "max" {
					add("--pids-limit=-1")
				} else {
					add("--pids-limit=" + st.Value)
				}
			case "cpuset.cpus":
				add("--cpuset-cpus=" + st.Value)
			case "cpuset.mems":
				add("--cpuset-mems=" + st.Value)
			default:
				cannot = append(cannot, st.Key+" "+st.Value)
			}
		}
		if c.Parent != "" {
			add("--cgroup-parent=" + c.Parent)
		}
		// Docker applies runc's default device list itself; the plan's
		// own allow rules go on top, its deny rules it cannot take.
		for _, r := range c.Devices {
			if r.Allow {
				add("--device-cgroup-rule=" + r.String())
			} else {
				cannot = append(cannot, "cgroup devices "+r.Text()+": docker takes allow rules only (--device-cgroup-rule)")
			}
		}
		if c.Use != "" {
			cannot = append(cannot, "cgroup use "+c.Use+": Docker makes its own cgroup")
		}
	}
	for _, sc := range sp.Sysctls {
		add(fmt.Sprintf("--sysctl=%s=%s", sc.Key, sc.Value))
	}
	// Docker masks runc's list itself, and takes no other.
	for _, b := range sp.BeyondRunc() {
		cannot = append(cannot, b+": Docker hides and protects its own list of paths (runc's) and takes no other")
	}
	for _, m := range sp.Mounts {
		switch m.Type {
		case "tmpfs":
			opt := ""
			if m.Options != "" {
				opt = ":" + m.Options
			}
			add("--tmpfs=" + m.Target + opt)
		case "bind":
			// --mount, not --volume: a path may hold a colon. Its value
			// is CSV, so a field with a comma or a quote is quoted.
			spec := "type=bind," + csvField("source="+m.Source) + "," + csvField("target="+m.Target)
			if m.ReadOnly {
				spec += ",readonly"
			}
			add("--mount=" + spec)
		case "proc":
			if m.Target != "/proc" {
				cannot = append(cannot, "a second proc mount at "+m.Target)
			}
		}
	}
	if n := sp.Net; n != nil {
		for _, v := range n.Veths {
			cannot = append(cannot, fmt.Sprintf("a veth with fixed addresses %s <-> %s (use a docker network: docker network create --subnet)", v.HostAddr, v.ChildAddr))
		}
		if sp.Has("net") && len(n.Veths) == 0 {
			add("--network=none")
		}
	} else if sp.Has("net") {
		add("--network=none")
	}
	image := `"${IMAGE:-debian}"`
	if r := sp.Rootfs; r != nil {
		if r.ReadOnly {
			add("--read-only")
		}
		image = `"${IMAGE:-nsh-rootfs}"`
		cannot = append(cannot, fmt.Sprintf("a directory as the root: make it an image first: tar -C %s -c . | docker import - nsh-rootfs", r.Dir))
	}
	add("--rm", "-it", image)
	return flags, cannot
}

// DockerSeccomp is the plan's filter as a Docker seccomp profile (JSON),
// resolved for the plan's capabilities; nil when Docker's own default or
// no filter is what the flags say.
func DockerSeccomp(sp *isolate.Spec) ([]byte, error) {
	p := sp.Seccomp
	if p == nil || p.IsDockerDefault() {
		return nil, nil
	}
	prof, err := sp.SeccompProfile()
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
