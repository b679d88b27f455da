package isolate

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"nsh/internal/term"
	"nsh/isolate/cgroup"
	"nsh/isolate/seccomp/bpf"
	"nsh/plan"
)

// launch is one start in progress: the child as it is made, and what is
// opened for its stage, closed once the stage has it.
type launch struct {
	spec      *plan.Spec
	opt       *Options
	joins     *setnsPlan
	c         *Child
	attr      *syscall.SysProcAttr
	extra     []*os.File // the stage's descriptors from stageFD on
	join      []stageJoin
	root, cwd int // the target's root and working directory, as the stage's descriptors; -1: none
	place     []LateWrite
	late      []LateWrite
	prog      *program
	encoded   []byte // the program as sent, once planned whole
	sent      int    // how much of it is in the socket already
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
	l.extra = []*os.File{l.childEnd}
	l.root, l.cwd = -1, -1
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
	if c.filters = opt.filters; opt.enter == nil {
		c.filters = nil
		if f, _ := SeccompFilter(spec); f != nil {
			c.filters = []*bpf.Filter{f}
		}
	}
	c.rlimits = spec.Rlimits
	if t := opt.Timing; t != nil {
		t.Plan = t.mark()
	}
	for i, f := range joins.files {
		l.join = append(l.join, stageJoin{fd: l.pass(f), flags: joins.flags[i]})
	}
	if joins.root != nil {
		l.root = l.pass(joins.root)
	}
	if joins.cwd != nil {
		l.cwd = l.pass(joins.cwd)
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
		opt.step("clone3(%s): the child runs nsh's stage, C that carries out the program below (no execve of nsh)", cloneFlagNames(spec))
		if l.untended() {
			// Explained, the stage waits for nsh to show each step, so it
			// is a copy; what an unexplained run does is said all the same.
			opt.step("  a copy of nsh, as it waits for these lines; unexplained, it would run in nsh's own memory (CLONE_VM|CLONE_VFORK, as posix_spawn's children do), nsh waiting for its execve")
		}
	} else {
		opt.step("clone3: the child runs nsh's stage, C that joins the namespaces and carries out the program below")
	}
	// Pdeathsig fires when the creating thread exits; a locked thread
	// cannot be handed to another goroutine and exit under us mid-start.
	runtime.LockOSThread()
	_, joinedPid := spec.Joined("pid")
	pid, err := track(spec.Has("pid") && !joinedPid && !joins.enter, func() (int, error) {
		return cloneStage(&stageClone{attr: attr, files: files, channel: l.parentEnd, joins: l.join, root: l.root, cwd: l.cwd, shareMemory: l.sharesMemory()})
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

// finishProgram ends the program with the command's execve, once.
func (l *launch) finishProgram() {
	if l.encoded != nil {
		return
	}
	spec := l.spec
	// Without a cgroup of nsh's own or a pid namespace, nothing of the
	// kernel's ends what the child leaves behind if nsh is killed
	// outright: a relay does (stage.c, the guard). A cgroup joined with
	// `cgroup use` is someone else's, never killed wholesale, so it
	// counts as none. A joined pid namespace has a relay and an init of
	// its own.
	_, joinedPid := spec.Joined("pid")
	guard := !l.c.group.Owned() && !spec.Has("pid") && !joinedPid && !l.joins.enter
	// The late writes' descriptors are numbered now that every extra
	// file has its place.
	planExec(l.prog, spec, l.opt, l.late, guard)
	l.encoded = l.prog.encode(l.opt.Step != nil)
}

// sendAhead puts the program in the stage's socket before the clone when
// nsh has nothing to do between the clone and the program (id maps to
// write, a relay's command to place, veths, limits, cgroups the stage
// does not enter by itself): the stage reads it as soon as it runs,
// instead of waiting while nsh finishes the clone3 call and its own
// copy-on-write faults after it. A program larger than the socket's
// buffer leaves the rest to run, after the clone: nothing blocks before
// the stage exists to read.
func (l *launch) sendAhead() {
	spec := l.spec
	if len(l.joins.files) > 0 || spec.Has("user") || len(spec.Rlimits) > 0 ||
		spec.Net != nil && len(spec.Net.Veths) > 0 ||
		l.c.group.LeftToPlace(l.attr.UseCgroupFD, len(l.place) > 0) {
		return
	}
	l.finishProgram()
	n, err := unix.SendmsgN(int(l.parentEnd.Fd()), l.encoded, nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	if err == nil {
		l.sent = n
	}
}

// sharesMemory says whether the stage may be made in nsh's memory
// (clone.h): where nsh has nothing to do between the clone and the
// command's execve, and no process but the stage can be in its
// namespaces before it. The whole program is in the socket (sendAhead:
// no id maps, relay command, veths, limits or cgroups to place), small
// enough for the stage's static memory; no step waits for nsh to show it
// (-x); the stage joins no namespace and enters no one's root; it makes
// no user namespace; and it forks no relay or time-namespace child (it
// would copy nsh's memory whole): its last step is the plain execve. And
// nsh runs as root: the stage makes nsh non-dumpable while it runs, which
// would hide nsh's own /proc files from a non-root nsh meanwhile.
func (l *launch) sharesMemory() bool { return l.opt.Step == nil && l.untended() }

// untended is sharesMemory but for the steps nsh shows: whether the stage
// would share nsh's memory were the run not explained.
func (l *launch) untended() bool {
	return os.Geteuid() == 0 && l.encoded != nil && l.sent == len(l.encoded) && len(l.encoded) <= 8<<10 &&
		!l.joins.enter && len(l.joins.files) == 0 &&
		l.root < 0 && l.cwd < 0 && !l.spec.Has("user") && l.prog.endsInExec()
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
	// Limits are set from here, as runc sets them: a stage in a new user
	// namespace could not raise a hard limit itself.
	for _, rl := range spec.Rlimits {
		opt.step("prlimit(%d, RLIMIT_%s, %s, %s)", c.Pid, strings.ToUpper(rl.Name), plan.LimitText(rl.Soft), plan.LimitText(rl.Hard))
		if err := Prlimit(c.Pid, rl); err != nil {
			c.kill()
			return nil, fmt.Errorf("rlimit %s: %w", rl.Name, err)
		}
	}
	l.finishProgram()
	// Nothing left is nothing written: the stage may have run it and
	// closed its end already, where even an empty write fails (EPIPE).
	if rest := l.encoded[l.sent:]; len(rest) > 0 {
		if _, err := l.parentEnd.Write(rest); err != nil {
			c.kill()
			return nil, fmt.Errorf("send the program to the child stage: %w", err)
		}
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
