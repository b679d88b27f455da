package commands

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
	"nsh/plan"
)

func init() {
	later("doctor", func() {
		register(&Command{
			Name: "doctor", Group: "teaching",
			Usage:   []string{"doctor"},
			Summary: "what this host allows (namespaces, cgroups, user namespaces, capabilities) and the fix for what it does not",
			Help: "Each namespace type is tried for real (a child running true); cgroup hierarchies are tried\n" +
				"with a mkdir and rmdir in nsh's own cgroup. Nothing is left changed.",
			Example: "doctor",
			JSON:    func(args []string) bool { return len(args) == 0 },
			Run:     runDoctor,
		})
	})
}

type check struct{ name, status, detail string }

func runDoctor(s *Session, c *Command, args []string) error {
	if len(args) > 0 {
		return usageError(c, "doctor takes no arguments")
	}
	var rows []check
	add := func(name, status, detail string) { rows = append(rows, check{name, status, detail}) }

	var u unix.Utsname
	unix.Uname(&u)
	release := unix.ByteSliceToString(u.Release[:])
	var major, minor int
	fmt.Sscanf(release, "%d.%d", &major, &minor)
	at := func(ma, mi int) bool { return major > ma || (major == ma && minor >= mi) }
	add("kernel", "ok", "Linux "+release)

	root := os.Geteuid() == 0
	for _, ns := range plan.Namespaces {
		err := tryNamespace(ns, !root)
		switch {
		case err == nil && !root && ns != "user":
			add("namespace "+ns, "ok", "with unshare user (you are not root)")
		case err == nil:
			add("namespace "+ns, "ok", "")
		case ns == "time" && !at(5, 6):
			add("namespace "+ns, "no", fmt.Sprintf("%v: time namespaces need Linux 5.6", err))
		default:
			add("namespace "+ns, "no", fmt.Sprintf("%v: %s", err, nsFix(ns, root)))
		}
	}
	if at(6, 2) {
		add("time namespace on exec", "ok", "execve enters time_for_children (Linux 6.2+)")
	} else {
		add("time namespace on exec", "warn", "Linux < 6.2: the child stage forks to enter a time namespace")
	}
	if at(5, 7) {
		add("clone3 CLONE_INTO_CGROUP", "ok", "children are born in their cgroup (Linux 5.7+)")
	} else {
		add("clone3 CLONE_INTO_CGROUP", "warn", "Linux < 5.7: children are moved into their cgroup after clone")
	}

	if root {
		if d, err := spawnCost(); err == nil {
			add("spawn cost", "ok", fmt.Sprintf("%.1f ms per spawn of true with new uts, pid and mnt namespaces and a cgroup (median of 9)", float64(d.Microseconds())/1000))
		} else {
			add("spawn cost", "warn", err.Error())
		}
	}
	userNamespaceChecks(add)
	cgroupChecks(add, root)
	containerCheck(add)

	own, err := ownCaps()
	if err == nil {
		if missing := capability.All() &^ own.Effective; missing == 0 {
			add("nsh's capabilities", "ok", "all of the kernel's")
		} else if own.Effective == 0 {
			add("nsh's capabilities", "warn", "none: run as root, or use unshare user for namespaces of your own")
		} else {
			add("nsh's capabilities", "warn", "lacks "+strings.Join(capability.Names(missing), ",")+": children cannot have them either, except inside unshare user")
		}
	}
	for _, t := range []struct{ bin, pkg, what string }{
		{"busybox", "busybox-static", "rootfs --busybox"},
		{"runc", "runc", "running export oci bundles"},
		{"setpriv", "util-linux", "export sh scripts"},
		{"ip", "iproute2", "export sh scripts with a veth"},
	} {
		if _, err := exec.LookPath(t.bin); err == nil {
			add("tool "+t.bin, "ok", "for "+t.what)
		} else {
			add("tool "+t.bin, "warn", fmt.Sprintf("missing, needed for %s: apt-get install %s", t.what, t.pkg))
		}
	}
	if s.json {
		doc := doctorJSON{Checks: []doctorCheck{}}
		for _, r := range rows {
			doc.Checks = append(doc.Checks, doctorCheck{Check: r.name, Status: r.status, Detail: r.detail})
		}
		return s.emit(doc)
	}
	var table [][]string
	for _, r := range rows {
		table = append(table, []string{r.name, r.status, r.detail})
	}
	return printTable(s.Out, []string{"CHECK", "STATUS", "DETAIL AND FIX"}, table)
}

// spawnCost measures what a spawn costs on this host.
func spawnCost() (time.Duration, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	var times []time.Duration
	for i := 0; i < 9; i++ {
		start := time.Now()
		c, err := isolate.Launch(&plan.Spec{Namespaces: []string{"uts", "pid", "mnt"}},
			isolate.Options{Args: []string{"true"}, Stdin: devnull, Stdout: devnull, Stderr: devnull})
		if err != nil {
			return 0, err
		}
		c.Wait()
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2], nil
}

// tryNamespace launches /bin/true in a new namespace of type ns.
func tryNamespace(ns string, withUser bool) error {
	spec := &plan.Spec{Namespaces: []string{ns}, Cgroup: &cgroup.Config{Off: true}}
	if withUser && ns != "user" {
		spec.Namespaces = append([]string{"user"}, ns)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	c, err := isolate.Launch(spec, isolate.Options{Args: []string{"true"}, Stdin: devnull, Stdout: devnull, Stderr: devnull})
	if err != nil {
		return err
	}
	if st, err := c.Wait(); err != nil || st != 0 {
		return fmt.Errorf("the child exited %d", st)
	}
	return nil
}

func nsFix(ns string, root bool) string {
	if !root {
		return "without root a namespace needs a user namespace: see the user namespace lines below"
	}
	return fmt.Sprintf("the kernel lacks CONFIG_%s_NS, or a security module forbids it", strings.ToUpper(map[string]string{"mnt": "mount"}[ns]+ns))
}

func readSysctl(key string) (string, bool) {
	b, err := os.ReadFile(plan.SysctlPath(key))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func userNamespaceChecks(add func(string, string, string)) {
	if v, ok := readSysctl("user.max_user_namespaces"); ok {
		if v == "0" {
			add("user.max_user_namespaces", "no", "0: no user namespaces at all; fix: sysctl -w user.max_user_namespaces=15000")
		} else {
			add("user.max_user_namespaces", "ok", v)
		}
	}
	if v, ok := readSysctl("kernel.unprivileged_userns_clone"); ok {
		if v == "0" {
			add("kernel.unprivileged_userns_clone", "no", "0: only root may make user namespaces; fix: sysctl -w kernel.unprivileged_userns_clone=1")
		} else {
			add("kernel.unprivileged_userns_clone", "ok", v)
		}
	}
	if v, ok := readSysctl("kernel.apparmor_restrict_unprivileged_userns"); ok {
		if v == "1" {
			add("apparmor userns restriction", "no", "1: unprivileged user namespaces are refused; fix: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for nsh with 'userns,'")
		} else {
			add("apparmor userns restriction", "ok", v)
		}
	} else {
		add("apparmor userns restriction", "ok", "not present on this kernel")
	}
}

func cgroupChecks(add func(string, string, string), root bool) {
	h, err := cgroup.Detect()
	if err != nil {
		add("cgroups", "no", err.Error())
		return
	}
	add("cgroup mode", "ok", string(h.Mode))
	for _, x := range h.Hierarchies {
		name := "cgroup " + x.Key()
		if x.V2 {
			name = "cgroup2 " + x.Mount
		}
		dir := x.Dir(x.Self)
		probe := filepath.Join(dir, "nsh-doctor-"+strconv.Itoa(os.Getpid()))
		err := os.Mkdir(probe, 0o755)
		if err == nil {
			unix.Rmdir(probe)
		}
		ctrls := strings.Join(x.Controllers, " ")
		if ctrls == "" {
			ctrls = "no controllers"
		}
		switch {
		case err == nil:
			add(name, "ok", fmt.Sprintf("%s; writable at %s", ctrls, dir))
		case !root && x.V2:
			add(name, "no", fmt.Sprintf("%s; %s is not delegated to you: run nsh as %s", ctrls, dir, cgroup.Delegated))
		default:
			add(name, "no", fmt.Sprintf("%s; cannot make a cgroup in %s: %v", ctrls, dir, err))
		}
	}
	if !root {
		if u := h.Unified(); u != nil {
			var st syscall.Stat_t
			if syscall.Stat(u.Dir(u.Self), &st) == nil && int(st.Uid) == os.Getuid() {
				add("cgroup delegation", "ok", "your cgroup is yours")
			} else {
				add("cgroup delegation", "warn", "your cgroup is not yours: "+cgroup.Delegated)
			}
		}
	}
}

// containerCheck says whether nsh itself seems to run in a container,
// where some of the above are the container runtime's choices.
func containerCheck(add func(string, string, string)) {
	var signs []string
	for _, f := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(f); err == nil {
			signs = append(signs, f)
		}
	}
	if b, err := os.ReadFile("/proc/1/cgroup"); err == nil {
		for _, w := range []string{"docker", "kubepods", "containerd", "lxc", "libpod"} {
			if strings.Contains(string(b), w) {
				signs = append(signs, "/proc/1/cgroup mentions "+w)
			}
		}
	}
	if comm, err := os.ReadFile("/proc/1/comm"); err == nil {
		c := strings.TrimSpace(string(comm))
		if c != "systemd" && c != "init" && c != "sinit" && c != "runit" && c != "openrc-init" {
			signs = append(signs, "PID 1 is "+c+", not an init")
		}
	}
	if len(signs) == 0 {
		add("inside a container", "ok", "no sign of one")
	} else {
		add("inside a container", "warn", "perhaps: "+strings.Join(signs, "; ")+": the runtime may limit namespaces and cgroups")
	}
}
