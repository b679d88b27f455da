package isolate

import (
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/isolate/capability"
	"nsh/isolate/seccomp/bpf"
	"nsh/plan"
)

// The child stage runs in C before the Go runtime starts (stage.c), so
// everything it does is planned here, in Go, as a program of steps: each a
// system call with its arguments, the line explain prints for it, and the
// words for its failure. The stage only interprets; it decides nothing.

// Step codes: ops.go, from ops.h, the list the stage shares.

// op is one step of the program.
type op struct {
	code byte
	args []string
	desc string // what explain prints ("" prints nothing); may span lines
	what string // what the step was, for its error
	// hint adds advice to an error with this errno.
	hint func(unix.Errno) string
}

type program struct {
	ops []op
	// lateFilters are installed just before execve (planExec).
	lateFilters []*bpf.Filter
}

// endsInExec says whether the program's last step is the command's
// plain execve: no fork before it, no probe instead of it.
func (p *program) endsInExec() bool {
	return len(p.ops) > 0 && p.ops[len(p.ops)-1].code == opExec
}

func (p *program) add(code byte, desc, what string, args ...string) *op {
	p.ops = append(p.ops, op{code: code, args: args, desc: desc, what: what})
	return &p.ops[len(p.ops)-1]
}

func u(n uint64) string { return strconv.FormatUint(n, 10) }
func i(n int) string    { return strconv.Itoa(n) }

// encode is the wire form stage.c reads: a length, an explain flag, then
// per step: code, argument count, and each argument as a length, its
// bytes and a NUL.
func (p *program) encode(explain bool) []byte {
	// Sized first and allocated once: grown by append, a 2.5 KB program
	// took ten allocations, one of each size class on its way.
	n := 1
	for _, o := range p.ops {
		n += 3
		for _, a := range o.args {
			n += 4 + len(a) + 1
		}
	}
	b := make([]byte, 4, 4+n)
	binary.LittleEndian.PutUint32(b, uint32(n))
	b = append(b, 0)
	if explain {
		b[4] = 1
	}
	for _, o := range p.ops {
		b = append(b, o.code, byte(len(o.args)), byte(len(o.args)>>8))
		for _, a := range o.args {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(a)))
			b = append(b, a...)
			b = append(b, 0)
		}
	}
	return b
}

// failure words the error of step n (1-based).
func (p *program) failure(n int, errno unix.Errno, execPath string) error {
	if n < 1 || n > len(p.ops) {
		return fmt.Errorf("the child stage failed at an unknown step: %w", errno)
	}
	o := p.ops[n-1]
	if o.code == opExec || o.code == opExecFork || o.code == opExecGuard {
		if execPath != "" {
			return &ExecError{Path: execPath, Err: errno}
		}
	}
	err := fmt.Errorf("%s: %w", o.what, errno)
	if o.hint != nil {
		if h := o.hint(errno); h != "" {
			err = fmt.Errorf("%w: %s", err, h)
		}
	}
	return err
}

// steps is what explain prints for step n; the exec step names the path
// the stage found.
func (p *program) steps(n int, execPath string) []string {
	if n < 1 || n > len(p.ops) {
		return nil
	}
	o := p.ops[n-1]
	if o.desc == "" {
		return nil
	}
	d := o.desc
	if execPath != "" {
		d = strings.Replace(d, "PATH", strconv.Quote(execPath), 1)
	}
	return strings.Split(d, "\n")
}

// planStage is what the child stage does, in order: the work of the
// namespaces, then the user and capabilities, then the command.
func planStage(spec *plan.Spec, opt *Options, layer *Layer) (*program, error) {
	p := &program{}
	if spec.Has("cgroup") {
		// Now, in its own cgroup: that cgroup becomes the root it sees.
		p.add(opUnshare, "unshare(CLONE_NEWCGROUP)", "unshare(CLONE_NEWCGROUP)", u(unix.CLONE_NEWCGROUP))
	}
	if spec.Has("mnt") {
		// Without this, mounts made below would propagate back to the
		// host's shared mounts (systemd makes / shared).
		p.add(opMount, "mount(none, /, MS_REC|MS_PRIVATE)", "make mounts private: mount(none, /, MS_REC|MS_PRIVATE)",
			"", "/", "", u(unix.MS_REC|unix.MS_PRIVATE), "")
	}
	if spec.Hostname != "" {
		p.add(opSethostname, fmt.Sprintf("sethostname(%q)", spec.Hostname), fmt.Sprintf("sethostname %q", spec.Hostname), spec.Hostname)
	}
	// Sysctls before the root, as runc writes them before its read-only
	// paths: a namespaced sysctl belongs to the writer's namespaces,
	// whichever /proc/sys it is written through, and the child's own
	// /proc/sys is read-only once runc's lists are applied.
	for _, sc := range spec.Sysctls {
		p.add(opWrite, fmt.Sprintf("write %q to %s", sc.Value, plan.SysctlPath(sc.Key)), fmt.Sprintf("sysctl %s=%q", sc.Key, sc.Value), plan.SysctlPath(sc.Key), sc.Value)
	}
	switch {
	case spec.Rootfs != nil:
		planRootfs(p, spec, layer)
	case spec.Has("mnt"):
		if spec.Has("pid") {
			// A fresh /proc shows the new pid namespace; the old one
			// would still list the host's processes.
			p.add(opMount, "mount(proc, /proc, proc, MS_NOSUID|MS_NODEV|MS_NOEXEC)", "mount a fresh /proc",
				"proc", "/proc", "proc", u(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC), "")
		}
		planMounts(p, spec, "")
	}
	if spec.Net != nil && spec.Net.LoUp {
		p.add(opLinkUp, "ioctl(SIOCSIFFLAGS, lo, IFF_UP)", "bring lo up", "lo")
	}
	if spec.Has("time") {
		p.add(opUnshare, "unshare(CLONE_NEWTIME)", "unshare(CLONE_NEWTIME)", u(unix.CLONE_NEWTIME))
		if spec.Time != (plan.TimeOffsets{}) {
			offsets := fmt.Sprintf("monotonic %d 0\nboottime %d 0\n", spec.Time.Monotonic, spec.Time.Boottime)
			o := p.add(opWrite, fmt.Sprintf("write /proc/self/timens_offsets: monotonic %+ds, boottime %+ds", spec.Time.Monotonic, spec.Time.Boottime),
				"set clock offsets: write /proc/self/timens_offsets", "/proc/self/timens_offsets", offsets)
			o.hint = func(e unix.Errno) string {
				if e != unix.ERANGE {
					return ""
				}
				var ts unix.Timespec
				unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
				return fmt.Sprintf("a negative offset may not take a clock below zero, and this host's monotonic clock is at %ds", ts.Sec)
			}
		}
	}
	// Capabilities raised only to get the stage through its own execve
	// (keepCapsThroughExec) must not reach the command.
	if opt.enter == nil && spec.Has("user") && spec.IDMapping().Mode != "root" {
		p.add(opPrctl, "", "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", i(unix.PR_CAP_AMBIENT), i(unix.PR_CAP_AMBIENT_CLEAR_ALL), "0")
		p.add(opClearInh, "", "capset(inh=0)")
	}
	if err := planSeccomp(p, spec, opt); err != nil {
		return nil, err
	}
	if opt.enter != nil {
		planCreds(p, opt.enter)
	} else if err := planPrivileges(p, spec); err != nil {
		return nil, err
	}
	return p, nil
}

// planSeccomp places the filter where runc does: with no_new_privs, as
// the last step before execve, so that nothing but the command runs
// under it; without, now, while the stage still holds CAP_SYS_ADMIN,
// which the kernel requires then and the capabilities below may drop.
func planSeccomp(p *program, spec *plan.Spec, opt *Options) error {
	fs := opt.filters
	if opt.enter == nil {
		f, err := SeccompFilter(spec)
		if err != nil {
			return err
		}
		fs = nil
		if f != nil {
			fs = []*bpf.Filter{f}
		}
	}
	if len(fs) == 0 {
		return nil
	}
	nnp := spec.NoNewPrivs
	if opt.enter != nil {
		nnp = opt.enter.NoNewPrivs
	}
	if nnp {
		p.lateFilters = fs
		return nil
	}
	for _, f := range fs {
		o := p.add(opSeccomp, "seccomp(SECCOMP_SET_MODE_FILTER): "+f.Summary(), "install the seccomp filter", "now", string(f.BPF))
		o.hint = func(e unix.Errno) string {
			if e == unix.EACCES {
				return fmt.Sprintf("without no_new_privs a filter needs CAP_SYS_ADMIN, which nsh (uid %d) lacks: nonewprivs on", os.Getuid())
			}
			return ""
		}
	}
	return nil
}

// planPlacement starts the program with the stage's writes that move it
// into its cgroups, before anything it does is charged or counted, and
// before its cgroup namespace is made (that takes the cgroup it is in as
// its root).
func planPlacement(p *program, place []LateWrite) {
	if len(place) == 0 {
		return
	}
	first := &program{}
	for _, w := range place {
		first.add(opWriteFD, fmt.Sprintf("write %q to %s", w.Value, w.Path), "enter cgroup: write "+w.Path, i(w.FD), w.Value)
	}
	p.ops = append(first.ops, p.ops...)
}

// planExec ends the program: the late writes (see Deferred in package
// cgroup), then execve of the command, looked up in the child's PATH.
func planExec(p *program, spec *plan.Spec, opt *Options, late []LateWrite, guard bool) {
	for _, w := range late {
		p.add(opWriteFD, fmt.Sprintf("write %q to %s", w.Value, w.Path), "write "+w.Path, i(w.FD), w.Value)
	}
	env := spec.Env
	if env == nil {
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "_NSH_") {
				env = append(env, kv)
			}
		}
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	if spec.Cwd != "" {
		p.add(opChdir, fmt.Sprintf("chdir(%q)", spec.Cwd), "chdir "+spec.Cwd+" (process cwd)", spec.Cwd)
	}
	for _, f := range p.lateFilters {
		p.add(opSeccomp, "seccomp(SECCOMP_SET_MODE_FILTER): "+f.Summary()+", just before execve", "install the seccomp filter", "exec", string(f.BPF))
	}
	if pr := opt.probe; pr != nil {
		args := []string{i(pr.Nr)}
		for _, a := range pr.Args {
			args = append(args, u(a))
		}
		p.add(opProbe, fmt.Sprintf("syscall(%s, %s)", pr.Name, pr.ArgsText()), "probe "+pr.Name, args...)
		return
	}
	code, desc := byte(opExec), fmt.Sprintf("execve(PATH, %q)", opt.Args)
	if spec.Has("time") && !kernelAtLeast(6, 2) {
		// Before 6.2 only forked children enter a new time namespace.
		code, desc = opExecFork, fmt.Sprintf("fork and execve(PATH, %q) (kernel < 6.2: only children enter a new time namespace)", opt.Args)
	}
	if guard {
		code, desc = opExecGuard, fmt.Sprintf("fork and execve(PATH, %q); nsh:[relay] stays its parent and subreaper, and ends it and what it leaves if nsh dies (no cgroup, no pid namespace to do it)", opt.Args)
	}
	args := append([]string{path, i(len(opt.Args))}, opt.Args...)
	p.add(code, desc, "execve", append(args, env...)...)
}

func planRootfs(p *program, spec *plan.Spec, layer *Layer) {
	root := spec.Rootfs.Dir
	has := func(rel string) bool { return isDirIn(root, rel) }
	if layer != nil {
		// The overlay is mounted in the child's own mount namespace
		// only: the host never sees it, and it goes with the child.
		root, has = layer.merged, layer.has
		opts := layer.options(spec.Has("user"))
		o := p.add(opMount, "mount(overlay, "+root+", overlay, "+opts+")", "mount the overlay root on "+root,
			"overlay", root, "overlay", "0", opts)
		o.hint = func(e unix.Errno) string {
			switch {
			case e == unix.EPERM && spec.Has("user"):
				return "this kernel does not let a user namespace mount overlayfs (Linux 5.11 or later does): run nsh as root, or use a plain rootfs"
			case e == unix.EINVAL || e == unix.ENODEV:
				return "the kernel refused the overlay: overlayfs must be available (modprobe overlay), and the upper layer must be on a filesystem that can hold one (tmpfs and ext4 can, overlayfs cannot; dmesg says which)"
			case e == unix.EBUSY:
				return "the upper layer is in use by another child's overlay: give each child an upper of its own"
			}
			return ""
		}
	}
	p.add(opMount, fmt.Sprintf("mount(--bind %s %s)", root, root), "bind the rootfs on itself", root, root, "", u(unix.MS_BIND|unix.MS_REC), "")
	// Opened after the bind, so that it is the new mount's root; every
	// path below is resolved inside it.
	p.add(opRootFD, "", "open the rootfs "+root, root)
	in := func(rel string) string { return filepath.Join(root, rel) }
	if has("proc") {
		o := p.add(opMountIn, fmt.Sprintf("mount(proc, %s, proc)", in("proc")), "mount a fresh /proc in the rootfs",
			"proc", "proc", "proc", u(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC), "")
		if spec.Has("user") && !spec.Has("pid") {
			o.hint = func(e unix.Errno) string {
				if e == unix.EPERM {
					return "a fresh /proc in a new user namespace needs a new pid namespace too: unshare pid"
				}
				return ""
			}
		}
	}
	if has("dev") {
		// A minimal /dev: the usual character devices bind-mounted from
		// the host (mknod is refused in a user namespace, a bind is not),
		// a private devpts and a /dev/shm.
		p.add(opMountIn, fmt.Sprintf("mount(tmpfs, %s, mode=755)", in("dev")), "mount a tmpfs on "+in("dev"), "tmpfs", "dev", "tmpfs", u(unix.MS_NOSUID|unix.MS_STRICTATIME), "mode=755,size=65536k")
		for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
			t := "dev/" + name
			p.add(opCreateIn, "", "create "+in(t), t, "438")
			p.add(opMountIn, fmt.Sprintf("mount(--bind /dev/%s %s)", name, in(t)), "bind /dev/"+name, "/dev/"+name, t, "", u(unix.MS_BIND), "")
		}
		p.add(opMkdirIn, "", "mkdir "+in("dev/pts"), "dev/pts", "493")
		p.add(opMountIn, fmt.Sprintf("mount(devpts, %s, newinstance)", in("dev/pts")), "mount devpts", "devpts", "dev/pts", "devpts", u(unix.MS_NOSUID|unix.MS_NOEXEC), "newinstance,ptmxmode=0666,mode=0620")
		p.add(opSymlinkIn, "", "symlink ptmx", "pts/ptmx", "dev/ptmx")
		p.add(opMkdirIn, "", "mkdir "+in("dev/shm"), "dev/shm", "1023")
		// A planned mount on /dev/shm (Docker's 64 MiB one, imported)
		// takes the place of this one rather than stacking on it.
		if !slices.ContainsFunc(spec.Mounts, func(m plan.Mount) bool { return path.Clean(m.Target) == "/dev/shm" }) {
			p.add(opMountIn, fmt.Sprintf("mount(tmpfs, %s)", in("dev/shm")), "mount /dev/shm", "shm", "dev/shm", "tmpfs", u(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC), "mode=1777,size=65536k")
		}
		for _, l := range [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}} {
			p.add(opSymlinkIn, "", "symlink "+l[1], l[0], "dev/"+l[1])
		}
	}
	planMounts(p, spec, root)
	for _, m := range spec.Masked {
		p.add(opMaskIn, fmt.Sprintf("mask %s: mount(--bind /dev/null %s) over a file, mount(tmpfs, %s, MS_RDONLY) over a directory, nothing where there is none", m, in(m), in(m)),
			"mask "+m, m)
	}
	for _, r := range spec.Readonly {
		p.add(opReadonlyIn, fmt.Sprintf("readonly %s: mount(--bind %s %s), then remount it read-only", r, in(r), in(r)),
			"make "+r+" read-only", r)
	}
	if spec.Rootfs.ReadOnly {
		p.add(opMount, fmt.Sprintf("mount(remount %s read-only)", root), "remount the rootfs read-only", "", root, "", u(uint64(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|lockedFlags(root))), "")
	}
	// pivot_root needs a mount point; the old root, stacked on the new
	// one by pivot_root(".", "."), is detached at once. Never chroot
	// alone: a chroot can be escaped and the host's mounts stay reachable.
	p.add(opChdir, "", "chdir "+root, root)
	p.add(opPivot, fmt.Sprintf("pivot_root(\".\", \".\") in %s, then umount2(\".\", MNT_DETACH)", root), "pivot_root into "+root, ".", ".")
	p.add(opUmount, "", "detach the old root", ".", i(unix.MNT_DETACH))
	p.add(opChdir, "", "chdir /", "/")
}

// isDirIn says whether rel is a directory inside root, resolved as the
// child stage will resolve it: symlinks followed inside root only.
func isDirIn(root, rel string) bool {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// planPrivileges gives the child the spec's user, capabilities and
// no_new_privs, in runc's order: no_new_privs, the bounding set while
// still root, keep capabilities across the change of ids, the ids, then
// the capability sets, ambient last.
func planPrivileges(p *program, spec *plan.Spec) error {
	if spec.NoNewPrivs {
		p.add(opPrctl, "prctl(PR_SET_NO_NEW_PRIVS, 1)", "prctl(PR_SET_NO_NEW_PRIVS)", i(unix.PR_SET_NO_NEW_PRIVS), "1", "0")
	}
	uid := os.Getuid()
	if spec.User != nil {
		uid = spec.User.UID
	}
	var caps *plan.Caps
	if spec.Caps != nil {
		c := spec.Caps.Within(Available(spec)).Final(uid)
		caps = &c
		if err := planBounding(p, c.Bounding, spec.Has("user")); err != nil {
			return err
		}
	}
	if u := spec.User; u != nil {
		if caps != nil {
			p.add(opPrctl, "prctl(PR_SET_KEEPCAPS, 1)", "prctl(PR_SET_KEEPCAPS)", i(unix.PR_SET_KEEPCAPS), "1", "0")
		}
		planIDs(p, u.UID, u.GID, nil)
		if caps != nil {
			p.add(opPrctl, "prctl(PR_SET_KEEPCAPS, 0)", "prctl(PR_SET_KEEPCAPS)", i(unix.PR_SET_KEEPCAPS), "0", "0")
		}
	}
	if caps != nil {
		planCaps(p, caps.Effective, caps.Permitted, caps.Inheritable, caps.Ambient)
	}
	return nil
}

// planBounding drops, one by one, the capabilities the child's bounding
// set would have and keep lacks: nsh's own, or all in a new user namespace.
func planBounding(p *program, keep uint64, newUserNS bool) error {
	have := capability.All()
	if !newUserNS {
		c, err := OwnCreds()
		if err == nil {
			have = c.Bounding
		}
		if err == nil && c.Effective&(1<<unix.CAP_SETPCAP) == 0 && have&^keep != 0 {
			return fmt.Errorf("the bounding set shrinks only with CAP_SETPCAP, which nsh (uid %d) does not hold: add unshare user to shape children's capabilities", os.Getuid())
		}
	}
	for cp := 0; cp < 64; cp++ {
		if bit := uint64(1) << uint(cp); have&bit != 0 && keep&bit == 0 {
			p.add(opPrctl, fmt.Sprintf("prctl(PR_CAPBSET_DROP, %s)", capability.Name(cp)), "prctl(PR_CAPBSET_DROP, "+capability.Name(cp)+")",
				i(unix.PR_CAPBSET_DROP), i(cp), "0")
		}
	}
	return nil
}

// planIDs clears supplementary groups (or sets groups) and sets the ids;
// a change of ids clears the parent-death signal, so it is set again.
func planIDs(p *program, uid, gid int, groups []int) {
	var gs []string
	for _, g := range groups {
		gs = append(gs, i(g))
	}
	p.add(opSetgroups, fmt.Sprintf("setgroups(%v), setresgid(%d), setresuid(%d)", groupsText(groups), gid, uid), "setgroups", gs...)
	idHint := func(e unix.Errno) string {
		switch e {
		case unix.EINVAL:
			return "the id is not mapped in the child's user namespace (see map)"
		case unix.EPERM:
			return fmt.Sprintf("changing ids needs CAP_SETUID and CAP_SETGID, which nsh (uid %d) lacks: run nsh as root, or unshare user first (and map the id: map %d)", os.Getuid(), uid)
		}
		return ""
	}
	p.add(opSetresgid, "", fmt.Sprintf("setresgid(%d)", gid), i(gid)).hint = idHint
	p.add(opSetresuid, "", fmt.Sprintf("setresuid(%d)", uid), i(uid)).hint = idHint
	p.add(opPrctl, "", "prctl(PR_SET_PDEATHSIG)", i(unix.PR_SET_PDEATHSIG), i(int(unix.SIGKILL)), "0")
}

func groupsText(groups []int) string {
	if len(groups) == 0 {
		return "[]"
	}
	return fmt.Sprint(groups)
}

func planCaps(p *program, eff, prm, inh, amb uint64) {
	o := p.add(opCapset, fmt.Sprintf("capset(eff=%#x, prm=%#x, inh=%#x)", eff, prm, inh), "capset", u(eff), u(prm), u(inh))
	o.hint = func(e unix.Errno) string {
		if e == unix.EPERM {
			return "nsh's child stage does not hold all of " + capability.Decode(prm)
		}
		return ""
	}
	var raise []string
	for _, n := range capability.Names(amb) {
		raise = append(raise, fmt.Sprintf("prctl(PR_CAP_AMBIENT_RAISE, %s)", n))
	}
	p.add(opAmbient, strings.Join(raise, "\n"), "raise ambient capabilities", u(amb))
}

// planCreds takes on an entered child's credentials (enter).
func planCreds(p *program, c *Creds) {
	// Entering: the joined user namespace gives the stage every capability,
	// so nothing stops the drops.
	planBounding(p, c.Bounding, true)
	p.add(opPrctl, "prctl(PR_SET_KEEPCAPS, 1)", "prctl(PR_SET_KEEPCAPS)", i(unix.PR_SET_KEEPCAPS), "1", "0")
	planIDs(p, c.UID, c.GID, c.Groups)
	p.add(opPrctl, "", "prctl(PR_SET_KEEPCAPS)", i(unix.PR_SET_KEEPCAPS), "0", "0")
	planCaps(p, c.Effective, c.Permitted, c.Inheritable, c.Ambient)
	if c.NoNewPrivs {
		p.add(opPrctl, "prctl(PR_SET_NO_NEW_PRIVS, 1)", "prctl(PR_SET_NO_NEW_PRIVS)", i(unix.PR_SET_NO_NEW_PRIVS), "1", "0")
	}
}

// LateWrite is a value for the child stage to write to descriptor FD.
type LateWrite struct {
	FD    int    `json:"fd"`
	Path  string `json:"path"`
	Value string `json:"value"`
}
