package export

import (
	"fmt"
	"strconv"
	"strings"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
)

// Docker is the docker run flags for what Docker can express of the
// session, and a list of what it cannot.
func Docker(sp *isolate.Spec) (flags, cannot []string) {
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
	if c := sp.Caps; c != nil {
		switch {
		case c.Preset == "privileged":
			add("--privileged")
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
				add("--memory=" + dockerBytes(st.Value))
			case "memory.swap.max":
				if mem, ok := c.Get("memory.max"); ok && mem != "max" && st.Value != "max" {
					m, _ := strconv.ParseUint(mem, 10, 64)
					sw, _ := strconv.ParseUint(st.Value, 10, 64)
					add(fmt.Sprintf("--memory-swap=%d", m+sw))
				} else {
					add("--memory-swap=-1")
				}
			case "memory.low":
				add("--memory-reservation=" + dockerBytes(st.Value))
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
		if c.Use != "" {
			cannot = append(cannot, "cgroup use "+c.Use+": Docker makes its own cgroup")
		}
	}
	for _, sc := range sp.Sysctls {
		add(fmt.Sprintf("--sysctl=%s=%s", sc.Key, sc.Value))
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
			ro := ""
			if m.ReadOnly {
				ro = ":ro"
			}
			add("--volume=" + m.Source + ":" + m.Target + ro)
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
	image := "IMAGE"
	if r := sp.Rootfs; r != nil {
		if r.ReadOnly {
			add("--read-only")
		}
		image = "nsh-rootfs"
		cannot = append(cannot, fmt.Sprintf("a directory as the root: make it an image first: tar -C %s -c . | docker import - nsh-rootfs", r.Dir))
	}
	add("--rm", "-it", image)
	return flags, cannot
}

func dockerBytes(v string) string {
	if v == "max" {
		return "-1"
	}
	return v + "b"
}
