package isolate

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"nsh/internal/forkexec"
	"nsh/internal/term"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
	"nsh/isolate/seccomp/bpf"
	"nsh/plan"

	"golang.org/x/sys/unix"
)

// Options say how a child is attached to nsh.
type Options struct {
	Stdin, Stdout, Stderr *os.File
	// Foreground gives the child its own process group and makes it the
	// foreground group of the terminal on Stdin, so Ctrl-C and Ctrl-Z reach
	// the child and not nsh. Wait gives the terminal back.
	Foreground bool
	// Detached puts the child in a process group of its own, away from
	// the terminal's signals; nsh ends it when nsh ends.
	Detached bool
	// Session makes the child lead a session of its own whose
	// controlling terminal is Stdin (a terminal nsh lends it, as script(1)
	// does while it records): job control happens on that terminal.
	Session bool
	// Step, when set, is called before each kernel-facing step, in the
	// parent and in the child stage alike (explain).
	Step func(string)
	// Notice, when set, receives what the user should know while a
	// foreground child runs (why Ctrl-C did nothing, what nsh did).
	Notice func(string)
	// Verify, when set, runs once the namespace files to join are open
	// and before the child is made: it says whether they still belong to
	// the processes they were taken from.
	Verify func() error
	// Timing, when set, receives what each part of the spawn cost; the
	// last two parts arrive when Wait returns.
	Timing *Timing
	// Again says another spawn is coming (a script's later line): once
	// this child runs, the next one's cgroup is made meanwhile, with this
	// one's configuration (cgroup.MakeAhead), unless Step is set.
	Again bool

	// Args is the command; Args[0] is looked up in the child's PATH.
	Args []string
	// enter is set for a process that enters a running child: the
	// credentials and capabilities it takes on before its command;
	// filter is that child's compiled filter, which holds for it too.
	enter  *Creds
	filter *bpf.Filter
	// probe, when set, replaces the command: the child stage makes one
	// system call and reports what the kernel answered (seccomp test).
	probe *Probe
}

// ExecError is a failed execve of the command in the child stage.
type ExecError struct {
	Path string
	Err  error
}

func (e *ExecError) Error() string { return fmt.Sprintf("exec %q: %v", e.Path, e.Err) }
func (e *ExecError) Unwrap() error { return e.Err }

// Status is what a shell reports for a command that failed to start: 127
// when it was not found, 126 when it was found but could not be executed.
func (e *ExecError) Status() int {
	if errors.Is(e.Err, unix.ENOENT) {
		return 127
	}
	return 126
}

// noJobControlOnce: the note on a terminal nsh cannot hand over, once.
var noJobControlOnce sync.Once

// Child is a running child.
type Child struct {
	// Pid runs the command. It is nsh's own child, except after joining a
	// pid namespace: then nsh's child is a relay and Pid is the relay's.
	Pid    int
	direct int // nsh's child
	pidfd  int // of direct, from clone; -1 where the kernel has none

	foreground bool
	ownGroup   bool // leads a process group of its own
	tty        *os.File
	termios    *term.State
	pidInit    bool // PID 1 of a new pid namespace
	keyMu      sync.Mutex
	warned     time.Time // when Keyed last said Ctrl-C was ignored
	notice     func(string)
	step       func(string)

	group *cgroup.Group // the child's cgroup, removed once it is reaped
	// Layer is its overlay's writable layer, if its root is an overlay.
	// It outlives the child, so that what the child changed can still be
	// read: whoever holds the Child removes it (Layer.Remove).
	Layer *Layer
	links []hostLink // host ends of its veth pairs, removed likewise
	// OOMKills is how many of the child's processes the OOM killer
	// ended, known once Wait returns.
	OOMKills int
	// ForksRefused is how many forks its pids.max refused, known once
	// Wait returns.
	ForksRefused int

	// filter and rlimits are what the child was started with; a full
	// enter gives them to the entered process too, as runc exec does.
	filter  *bpf.Filter
	rlimits []plan.Rlimit
	// Probed is the kernel's answer to a probe (plan.Spec.Probe), if any.
	Probed *ProbeResult
	// foreign: a process nsh did not start, taken with Attach.
	foreign bool
	timing  *Timing
	// termSignal is the signal that ended the child, once Wait saw it:
	// a status of 128+N is also what an exit(128+N) gives.
	termSignal unix.Signal
}

func (o *Options) step(format string, args ...any) {
	if o.Step != nil {
		o.Step(fmt.Sprintf(format, args...))
	}
}

// setnsPlan is what the stage (stage.c) joins before its program.
type setnsPlan struct {
	files     []*os.File // namespace files or pidfds, each with its flags
	flags     []int
	root, cwd *os.File
	enter     bool // entering a running process: its cgroups too
	target    int  // the process entered
}

func (p *setnsPlan) close() {
	for _, f := range append(p.files, p.root, p.cwd) {
		if f != nil {
			f.Close()
		}
	}
}

// Launch starts a child made from spec and returns once its command runs.
// A failure anywhere on the way, in nsh or in the child stage, is returned
// as an error and nothing is left running.
func Launch(spec *plan.Spec, opt Options) (*Child, error) {
	if err := Check(spec); err != nil {
		return nil, err
	}
	joins := &setnsPlan{}
	defer joins.close()
	for _, j := range spec.Join {
		f, err := OpenNamespace(j.Path, j.Type)
		if err != nil {
			return nil, fmt.Errorf("join %s %s: %w", j.Type, j.Ref, err)
		}
		if j.Ino != 0 {
			if _, ino, err := NamespaceOf(f); err != nil || ino != j.Ino {
				f.Close()
				return nil, fmt.Errorf("join %s %s: process %s is gone or is another one now (its %s namespace is no longer %s:[%d]): join it again", j.Type, j.Ref, j.Ref, j.Type, j.Type, j.Ino)
			}
		}
		joins.files = append(joins.files, f)
		joins.flags = append(joins.flags, int(cloneFlag[j.Type]))
	}
	if opt.Verify != nil {
		if err := opt.Verify(); err != nil {
			return nil, err
		}
	}
	return start(spec, opt, joins)
}

func start(spec *plan.Spec, opt Options, joins *setnsPlan) (_ *Child, err error) {
	if len(opt.Args) == 0 {
		return nil, errors.New("no command to run")
	}
	l := &launch{spec: spec, opt: &opt, joins: joins}
	defer l.close()
	if err := l.prepare(); err != nil {
		return nil, err
	}
	if err := l.stageFiles(); err != nil {
		return nil, err
	}
	if layer := l.c.Layer; layer != nil {
		defer func() {
			if err != nil {
				layer.Remove()
			}
		}()
	}
	l.terminal()
	if err := l.clone(); err != nil {
		return nil, err
	}
	return l.run()
}

// launch is one start in progress: the child as it is made, and what is
// opened for its stage, closed once the stage has it.
type launch struct {
	spec      *plan.Spec
	opt       *Options
	joins     *setnsPlan
	c         *Child
	attr      *syscall.SysProcAttr
	env       []string
	extra     []*os.File // the stage's descriptors from stageFD on
	place     []LateWrite
	late      []LateWrite
	prog      *program
	parentEnd *os.File
	childEnd  *os.File
	closers   []func()
}

func (l *launch) close() {
	for i := len(l.closers) - 1; i >= 0; i-- {
		l.closers[i]()
	}
}

// pass gives f to the stage as its next descriptor, and returns its
// number there.
func (l *launch) pass(f *os.File) int {
	l.extra = append(l.extra, f)
	return stageFD + len(l.extra) - 1
}

// prepare makes the socket the program goes over, the child's cgroup and
// the clone's attributes.
func (l *launch) prepare() error {
	spec, opt := l.spec, l.opt
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socketpair: %w", err)
	}
	l.parentEnd = os.NewFile(uintptr(fds[0]), "nsh-parent")
	l.childEnd = os.NewFile(uintptr(fds[1]), "nsh-child")
	// The child's end too, on an error before clone: clone closes it
	// otherwise (a second Close does nothing).
	l.closers = append(l.closers, func() { l.parentEnd.Close() }, func() { l.childEnd.Close() })
	if err := passCredentials(l.parentEnd); err != nil {
		l.childEnd.Close()
		return err
	}
	c := &Child{pidInit: spec.Has("pid"), notice: opt.Notice, step: opt.Step, pidfd: -1, timing: opt.Timing}
	l.c = c
	opt.Timing.start()
	l.attr = &syscall.SysProcAttr{
		Cloneflags: cloneFlags(spec),
		// The child must not outlive nsh even if nsh is killed outright.
		Pdeathsig: unix.SIGKILL,
		PidFD:     &c.pidfd,
	}
	if !l.joins.enter {
		if c.group, err = newGroup(spec, opt); err != nil {
			return err
		}
	}
	if t := opt.Timing; t != nil {
		t.Cgroup = t.mark()
	}
	if dir := c.group.UnifiedDirOrEmpty(); dir != "" {
		// The child is born in its cgroup (clone3 CLONE_INTO_CGROUP)
		// and never runs an instruction outside it.
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			c.release()
			return fmt.Errorf("open cgroup %s: %w", dir, err)
		}
		l.closers = append(l.closers, func() { unix.Close(fd) })
		l.attr.UseCgroupFD, l.attr.CgroupFD = true, fd
		opt.step("clone3 into cgroup %s (CLONE_INTO_CGROUP)", dir)
	}
	if spec.Has("user") {
		setUserMaps(spec, l.attr, opt)
	}
	return nil
}

// stageFiles opens what the stage is given (its cgroup files, the
// namespaces it joins, an overlay's layer) and plans its program.
func (l *launch) stageFiles() error {
	spec, opt, c, joins := l.spec, l.opt, l.c, l.joins
	l.env = append(os.Environ(), stageEnv+"="+stageInit)
	l.extra = []*os.File{l.childEnd}
	// On v1 the stage moves itself into its cgroups, first thing
	// (cgroup.SelfPlacement). Behind a relay (joined namespaces) the
	// process that runs the command is another: nsh places both.
	if len(joins.files) == 0 {
		for _, p := range c.group.SelfPlacement() {
			f, err := openForStage(p)
			if err != nil {
				c.release()
				return err
			}
			l.closers = append(l.closers, func() { f.Close() })
			l.place = append(l.place, LateWrite{FD: l.pass(f), Path: p, Value: "0"})
		}
	}
	late, err := c.lateFiles(joins)
	if err != nil {
		c.release()
		return err
	}
	for _, lf := range late {
		l.closers = append(l.closers, func() { lf.f.Close() })
		l.late = append(l.late, LateWrite{FD: l.pass(lf.f), Path: lf.f.Name(), Value: lf.value})
	}
	if r := spec.Rootfs; r != nil && r.Overlay != nil && !joins.enter {
		if c.Layer, err = newLayer(r.Overlay); err != nil {
			c.release()
			return err
		}
		opt.step("overlay layer: upper %s, work %s (nsh's own%s)", c.Layer.Upper, c.Layer.work, map[bool]string{true: "; the upper is kept", false: ", removed with the child"}[c.Layer.Kept])
	}
	if l.prog, err = planStage(spec, opt, c.Layer); err != nil {
		c.Layer.Remove()
		c.release()
		return err
	}
	planPlacement(l.prog, l.place)
	if c.filter = opt.filter; opt.enter == nil {
		c.filter, _ = SeccompFilter(spec)
	}
	c.rlimits = spec.Rlimits
	if t := opt.Timing; t != nil {
		t.Plan = t.mark()
	}
	if len(joins.files) > 0 {
		var parts []string
		for i, f := range joins.files {
			parts = append(parts, fmt.Sprintf("%d:%d", l.pass(f), joins.flags[i]))
		}
		l.env = append(l.env, "_NSH_SETNS="+strings.Join(parts, ","))
		for _, d := range []struct {
			name string
			f    *os.File
		}{{"_NSH_SETNS_ROOT", joins.root}, {"_NSH_SETNS_CWD", joins.cwd}} {
			if d.f != nil {
				l.env = append(l.env, fmt.Sprintf("%s=%d", d.name, l.pass(d.f)))
			}
		}
	}
	return nil
}

// terminal decides the child's process group and session, and so who
// gets the terminal's signals.
func (l *launch) terminal() {
	opt, c, attr := l.opt, l.c, l.attr
	switch {
	case opt.Session:
		attr.Setsid, attr.Setctty, attr.Ctty = true, true, 0
		c.ownGroup = true
		opt.step("setsid and ioctl(TIOCSCTTY): the child leads a session whose terminal is the recording's (%s)", opt.Stdin.Name())
	case opt.Foreground && opt.Stdin != nil && isControllingTerminal(opt.Stdin):
		c.foreground = true
		c.tty = opt.Stdin
		c.termios, _ = term.Save(int(opt.Stdin.Fd()))
		attr.Setpgid = true
		attr.Foreground = true
		attr.Ctty = 0
		c.ownGroup = true
	case opt.Detached:
		attr.Setpgid = true
		c.ownGroup = true
	case opt.Foreground && opt.Stdin != nil && IsTerminal(opt.Stdin):
		// A console as /init's stdin, setsid nsh < /dev/ttyS0, some
		// service managers: a terminal, but not nsh's to give away
		// (TIOCSPGRP would fail with ENOTTY). The child shares nsh's
		// group and the terminal's signals do not reach it, as in a
		// shell without job control.
		noJobControlOnce.Do(func() {
			c.say("standard input is a terminal nsh does not control (a console, or setsid): children run without job control, so Ctrl-C and Ctrl-Z do not reach them")
		})
	}
}

// clone makes the child stage and places it in its cgroups.
func (l *launch) clone() error {
	spec, opt, c, attr, joins := l.spec, l.opt, l.c, l.attr, l.joins
	files := append([]*os.File{opt.Stdin, opt.Stdout, opt.Stderr}, l.extra...)
	if attr.Cloneflags != 0 || len(joins.files) == 0 {
		opt.step("clone(%s) and execve(/proc/self/exe) as %s", cloneFlagNames(spec), stageName)
	} else {
		opt.step("fork and execve(/proc/self/exe) as %s", stageName)
	}
	// Pdeathsig fires when the creating thread exits; a locked thread
	// cannot be handed to another goroutine and exit under us mid-start.
	runtime.LockOSThread()
	_, joinedPid := spec.Joined("pid")
	pid, err := track(spec.Has("pid") && !joinedPid && !joins.enter, func() (int, error) {
		return forkexec.Start("/proc/self/exe", []string{stageName}, l.env, files, attr)
	})
	runtime.UnlockOSThread()
	l.childEnd.Close()
	joins.close()
	if err != nil {
		c.release()
		return startError(spec, err)
	}
	c.Pid = pid
	c.direct = c.Pid
	if t := opt.Timing; t != nil {
		t.Clone = t.mark()
	}
	// Where it does not place itself, the child stage is placed now: it
	// waits for the spec before it does anything, so it is in its
	// cgroups before its command runs.
	if err := c.group.PlaceOrNil(c.Pid, attr.UseCgroupFD, len(l.place) > 0, opt.Step); err != nil {
		c.kill()
		return err
	}
	return nil
}

// run finishes what the child needs from nsh (its relay's command placed,
// its veths, its limits), sends the program and waits for its execve.
func (l *launch) run() (*Child, error) {
	spec, opt, c, joins := l.spec, l.opt, l.c, l.joins
	r := newStageReader(l.parentEnd, opt, l.prog, c)
	if len(joins.files) > 0 {
		// The process that runs the command says so, and the kernel says
		// which it is; its cgroups must hold it before its command runs.
		pid, err := r.waitHere()
		if err != nil {
			c.kill()
			return nil, err
		}
		c.Pid = pid
		if pid != c.direct {
			// Forked by the relay before it was placed.
			if err := c.group.PlaceOrNil(pid, false, false, opt.Step); err != nil {
				c.kill()
				return nil, err
			}
		}
	}
	if spec.Net != nil && len(spec.Net.Veths) > 0 {
		// The child waits for its spec, so its network is ready before
		// its command runs.
		var err error
		if c.links, err = setupVeths(c.Pid, spec.Net.Veths, opt.step); err != nil {
			c.kill()
			return nil, err
		}
	}
	// Without a cgroup of nsh's own or a pid namespace, nothing of the
	// kernel's ends what the child leaves behind if nsh is killed
	// outright: a relay does (stage.c, the guard). A cgroup joined with
	// `cgroup use` is someone else's, never killed wholesale, so it
	// counts as none. A joined pid namespace has a relay and an init of
	// its own.
	_, joinedPid := spec.Joined("pid")
	guard := !c.group.Owned() && !spec.Has("pid") && !joinedPid && !joins.enter
	// Limits are set from here, as runc sets them: a stage in a new user
	// namespace could not raise a hard limit itself.
	for _, rl := range spec.Rlimits {
		opt.step("prlimit(%d, RLIMIT_%s, %s, %s)", c.Pid, strings.ToUpper(rl.Name), plan.LimitText(rl.Soft), plan.LimitText(rl.Hard))
		if err := Prlimit(c.Pid, rl); err != nil {
			c.kill()
			return nil, fmt.Errorf("rlimit %s: %w", rl.Name, err)
		}
	}
	// The late writes' descriptors are numbered now that every extra
	// file has its place.
	planExec(l.prog, spec, opt, l.late, guard)
	if _, err := l.parentEnd.Write(l.prog.encode(opt.Step != nil)); err != nil {
		c.kill()
		return nil, fmt.Errorf("send the program to the child stage: %w", err)
	}
	here, err := r.finish()
	if here > 0 {
		c.Pid = here // the command, behind the guard
	}
	if t := opt.Timing; t != nil {
		t.Stage = t.mark()
	}
	if err == nil && opt.Again && opt.Step == nil && c.group.Owned() {
		// Its command was just exec'd and runs on the other CPU; nsh
		// would wait for it now.
		cgroup.MakeAhead(c.group, nextGroupName())
	}
	if err != nil {
		oom := c.group != nil && c.group.OOMKills() > 0
		c.kill()
		if oom {
			// The stage died before the command: say why, not "connection
			// reset by peer".
			return nil, fmt.Errorf("the child was killed by the OOM killer before its command ran: its memory limit is below what it needs to start (%v)", err)
		}
		return nil, err
	}
	return c, nil
}

type lateFile struct {
	f     *os.File
	value string
}

// lateFiles opens what the child stage writes last: its own pids.max, or
// for enter the cgroup.procs of each cgroup of the entered child.
func (c *Child) lateFiles(joins *setnsPlan) ([]lateFile, error) {
	var paths, values []string
	if joins.enter {
		dirs, err := cgroup.DirsToJoin(joins.target)
		if err != nil {
			return nil, err
		}
		for _, d := range dirs {
			paths = append(paths, d+"/cgroup.procs")
			values = append(values, "0") // 0: the writing process
		}
	}
	if c.group != nil {
		for _, w := range c.group.Deferred() {
			paths = append(paths, w.Path)
			values = append(values, w.Value)
		}
	}
	var out []lateFile
	for i, p := range paths {
		f, err := openForStage(p)
		if err != nil {
			for _, o := range out {
				o.f.Close()
			}
			return nil, err
		}
		out = append(out, lateFile{f, values[i]})
	}
	return out, nil
}

// openForStage opens a file for the child stage to write to.
func openForStage(path string) (*os.File, error) {
	// Opened plainly: os.OpenFile would register it with Go's poller
	// (cgroup files are pollable) only for nsh to hand it on.
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

func setUserMaps(spec *plan.Spec, attr *syscall.SysProcAttr, opt *Options) {
	uid, gid := os.Getuid(), os.Getgid()
	m := spec.IDMapping()
	inside := map[string][2]int{"root": {0, 0}, "id": {m.UID, m.GID}}
	ids, ok := inside[m.Mode]
	if !ok { // "none": the child sees the overflow ids
		opt.step("user namespace without id maps: ids show as 65534 inside")
		keepCapsThroughExec(attr)
		return
	}
	if ids[0] != 0 {
		keepCapsThroughExec(attr)
	}
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: ids[0], HostID: uid, Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: ids[1], HostID: gid, Size: 1}}
	// An unprivileged writer of gid_map must deny setgroups first (user_namespaces(7)).
	attr.GidMappingsEnableSetgroups = uid == 0
	if uid != 0 {
		opt.step("write /proc/CHILD/setgroups: deny")
	}
	opt.step("write /proc/CHILD/uid_map: %d %d 1", ids[0], uid)
	opt.step("write /proc/CHILD/gid_map: %d %d 1", ids[1], gid)
}

func cloneFlagNames(spec *plan.Spec) string {
	var names []string
	for _, n := range plan.Namespaces {
		if spec.Has(n) && n != "time" && n != "cgroup" {
			names = append(names, plan.CloneFlagName(n))
		}
	}
	if len(names) == 0 {
		return "no new namespaces"
	}
	return strings.Join(names, "|")
}

// startError explains a failed clone in terms of what the user can change.
func startError(spec *plan.Spec, err error) error {
	nsList := spec.Namespaces
	if errors.Is(err, unix.EPERM) && !spec.Has("user") && os.Geteuid() != 0 {
		return fmt.Errorf("creating namespaces %s: %w: it needs CAP_SYS_ADMIN; run nsh as root, or add `unshare user` to be root in a user namespace of your own",
			strings.Join(nsList, ","), unix.EPERM)
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EUSERS) {
		return fmt.Errorf("creating namespaces %s: %w (see /proc/sys/user/max_user_namespaces and kernel.apparmor_restrict_unprivileged_userns)",
			strings.Join(nsList, ","), err)
	}
	return fmt.Errorf("start child stage: %w", err)
}

// keepCapsThroughExec raises every capability as ambient in the child
// stage. A process whose uid inside its user namespace is not 0 loses its
// capabilities at execve, and the child stage is an execve of nsh: without
// this it could not set the hostname or mount anything. The stage clears
// the ambient set again before it runs the command.
func keepCapsThroughExec(attr *syscall.SysProcAttr) {
	last := capability.Last()
	for c := 0; c <= last; c++ {
		attr.AmbientCaps = append(attr.AmbientCaps, uintptr(c))
	}
}
