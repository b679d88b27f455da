package isolate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Options say how a child is attached to nsh.
type Options struct {
	Stdin, Stdout, Stderr *os.File
	// Foreground gives the child its own process group and makes it the
	// foreground group of the terminal on Stdin, so Ctrl-C and Ctrl-Z reach
	// the child and not nsh. Wait gives the terminal back.
	Foreground bool
	// Step, when set, is called before each kernel-facing step, in the
	// parent and in the child stage alike (explain).
	Step func(string)
	// Notice, when set, receives what the user should know while a
	// foreground child runs (why Ctrl-C did nothing, what nsh did).
	Notice func(string)
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

// Child is a running child.
type Child struct {
	Pid        int
	proc       *os.Process
	foreground bool
	tty        *os.File
	termios    *unix.Termios
	pidInit    bool // PID 1 of a new pid namespace
	notice     func(string)
}

func (o *Options) step(format string, args ...any) {
	if o.Step != nil {
		o.Step(fmt.Sprintf(format, args...))
	}
}

// Launch starts a child made from spec and returns once its command runs.
// A failure anywhere on the way, in nsh or in the child stage, is returned
// as an error and nothing is left running.
func Launch(spec *Spec, opt Options) (*Child, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if len(spec.Args) == 0 {
		return nil, errors.New("no command to run")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parentEnd := os.NewFile(uintptr(fds[0]), "nsh-parent")
	childEnd := os.NewFile(uintptr(fds[1]), "nsh-child")
	defer parentEnd.Close()

	attr := &syscall.SysProcAttr{
		Cloneflags: spec.CloneFlags(),
		// The child must not outlive nsh even if nsh is killed outright.
		Pdeathsig: unix.SIGKILL,
	}
	if spec.Has("user") {
		setUserMaps(spec, attr, &opt)
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{stageName},
		Env:         append(os.Environ(), stageEnv+"="+stageInit),
		Stdin:       opt.Stdin,
		Stdout:      opt.Stdout,
		Stderr:      opt.Stderr,
		ExtraFiles:  []*os.File{childEnd},
		SysProcAttr: attr,
	}
	c := &Child{pidInit: spec.Has("pid"), notice: opt.Notice}
	if opt.Foreground && opt.Stdin != nil && isTerminal(opt.Stdin) {
		c.foreground = true
		c.tty = opt.Stdin
		if t, err := unix.IoctlGetTermios(int(opt.Stdin.Fd()), unix.TCGETS); err == nil {
			c.termios = t
		}
		attr.Setpgid = true
		attr.Foreground = true
		attr.Ctty = 0
	}
	opt.step("clone(%s) and execve(/proc/self/exe) as %s", cloneFlagNames(spec), stageName)

	// Pdeathsig fires when the creating thread exits; a locked thread
	// cannot be handed to another goroutine and exit under us mid-start.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	childEnd.Close()
	if err != nil {
		return nil, startError(spec, err)
	}
	c.Pid = cmd.Process.Pid
	c.proc = cmd.Process

	if err := json.NewEncoder(parentEnd).Encode(spec); err != nil {
		c.kill()
		return nil, fmt.Errorf("send spec to child stage: %w", err)
	}
	if err := readStage(parentEnd, &opt); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// readStage relays the child stage's steps until end of file (exec done)
// or an error message.
func readStage(r *os.File, opt *Options) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxMessage)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("child stage sent %q: %w", sc.Text(), err)
		}
		if m.Step != "" {
			opt.step("%s", m.Step)
			continue
		}
		var err error = errors.New(m.Error)
		if m.Errno != 0 {
			err = fmt.Errorf("%s: %w", m.Error, unix.Errno(m.Errno))
		}
		if m.Exec != "" {
			return &ExecError{Path: m.Exec, Err: unix.Errno(m.Errno)}
		}
		return err
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read from child stage: %w", err)
	}
	return nil
}

func (c *Child) kill() {
	c.proc.Kill()
	var ws unix.WaitStatus
	unix.Wait4(c.Pid, &ws, 0, nil)
	c.restoreTerminal()
	c.proc.Release()
}

func setUserMaps(spec *Spec, attr *syscall.SysProcAttr, opt *Options) {
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

func cloneFlagNames(spec *Spec) string {
	var names []string
	for _, n := range Namespaces {
		if spec.Has(n) && n != "time" {
			names = append(names, CloneFlagName(n))
		}
	}
	if len(names) == 0 {
		return "no new namespaces"
	}
	return strings.Join(names, "|")
}

// startError explains a failed clone in terms of what the user can change.
func startError(spec *Spec, err error) error {
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

// Wait waits for the child to end and returns its status as a shell would:
// the exit code, or 128+N when signal N killed it. A foreground child that
// stops (Ctrl-Z) is killed, since nsh has nobody to resume it; Wait then
// returns 128+SIGTSTP and ErrStopped.
func (c *Child) Wait() (int, error) {
	defer c.proc.Release()
	stop := c.watchInterrupts()
	defer stop()
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(c.Pid, &ws, unix.WUNTRACED, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			c.restoreTerminal()
			return 0, fmt.Errorf("wait for pid %d: %w", c.Pid, err)
		}
		switch {
		case ws.Exited():
			c.restoreTerminal()
			return ws.ExitStatus(), nil
		case ws.Signaled():
			c.restoreTerminal()
			return 128 + int(ws.Signal()), nil
		case ws.Stopped():
			sig := ws.StopSignal()
			c.restoreTerminal()
			unix.Kill(c.Pid, unix.SIGKILL)
			unix.Kill(c.Pid, unix.SIGCONT)
			unix.Wait4(c.Pid, &ws, 0, nil)
			return 128 + int(sig), ErrStopped
		}
	}
}

// ErrStopped says a foreground child was stopped and therefore killed.
var ErrStopped = errors.New("the child was stopped (Ctrl-Z); nsh has no job control, so it was killed")

// keepCapsThroughExec raises every capability as ambient in the child
// stage. A process whose uid inside its user namespace is not 0 loses its
// capabilities at execve, and the child stage is an execve of nsh: without
// this it could not set the hostname or mount anything. The stage clears
// the ambient set again before it runs the command.
func keepCapsThroughExec(attr *syscall.SysProcAttr) {
	last := lastCap()
	for c := 0; c <= last; c++ {
		attr.AmbientCaps = append(attr.AmbientCaps, uintptr(c))
	}
}

// lastCap is the kernel's highest capability number.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return unix.CAP_CHECKPOINT_RESTORE
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return unix.CAP_CHECKPOINT_RESTORE
	}
	return n
}
