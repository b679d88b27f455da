package isolate

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"nsh/internal/term"

	"golang.org/x/sys/unix"
)

// IsTerminal says whether f is a terminal (nil is not).
func IsTerminal(f *os.File) bool { return term.IsTerminal(f) }

// isControllingTerminal says whether f is the controlling terminal of
// nsh's session, which a foreground child can take over. A terminal that
// is not (nsh started by su -c, which starts a new session) cannot be
// given to a child: tcsetpgrp fails with ENOTTY, and the child then runs
// with the terminal as its stdio only.
func isControllingTerminal(f *os.File) bool {
	fg, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	// And nsh's group is its foreground group, as nsh's pid namespace
	// numbers it: as PID 1 of a pid namespace of its own in a terminal
	// (unshare -pf nsh) the foreground group is outside that namespace
	// (0 here); taking the terminal from it could not be undone, and the
	// REPL, left in the background, ended at its next read.
	return err == nil && fg > 0 && fg == unix.Getpgrp()
}

// The kernel drops every signal it would handle by default for the first
// process of a pid namespace, Ctrl-C and Ctrl-Z included (docker run
// without --init behaves the same), so a foreground `sleep 100` as PID 1
// could only be killed from elsewhere. For such a child nsh starts a
// watcher (nsh:[ttywatch]) in the child's process group: it hears the
// terminal's signals and passes them on over a pipe, and nsh explains and,
// on a second Ctrl-C or a Ctrl-\, kills the child. A helper process rather
// than nsh itself joins the group, because a session leader (nsh started
// by tmux or docker exec) cannot change its process group.
const stageWatch = "ttywatch"

// watchStage is the watcher's whole life: signals in, signal numbers out,
// until nsh closes its stdin.
func watchStage() int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGQUIT, unix.SIGTSTP)
	go func() {
		for s := range sigs {
			os.Stdout.Write([]byte{byte(s.(unix.Signal))})
		}
	}()
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			return 0
		}
	}
}

func (c *Child) say(format string, args ...any) {
	if c.notice != nil {
		c.notice(fmt.Sprintf(format, args...))
	}
}

// watchInterrupts starts the watcher for a foreground child that is PID 1
// of its pid namespace; the returned func stops it.
func (c *Child) watchInterrupts() (stop func()) {
	if !c.foreground || !c.pidInit {
		return func() {}
	}
	fail := func(err error) func() {
		c.say("the child is PID 1 of a new pid namespace: the kernel ignores Ctrl-C for it unless it handles it; Ctrl-\\ does not reach it either (%v): end it from another nsh with `enter` or when it ends itself", err)
		return func() {}
	}
	toWatch, fromNSH, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	fromWatch, toNSH, err := os.Pipe()
	if err != nil {
		toWatch.Close()
		fromNSH.Close()
		return fail(err)
	}
	w := &exec.Cmd{
		Path:   "/proc/self/exe",
		Args:   []string{"nsh:[ttywatch]"},
		Env:    append(os.Environ(), stageEnv+"="+stageWatch),
		Stdin:  toWatch,
		Stdout: toNSH,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid: true, Pgid: c.Pid, Pdeathsig: unix.SIGKILL,
		},
	}
	_, err = track(false, func() (int, error) {
		if err := w.Start(); err != nil {
			return 0, err
		}
		return w.Process.Pid, nil
	})
	toWatch.Close()
	toNSH.Close()
	if err != nil {
		fromNSH.Close()
		fromWatch.Close()
		return fail(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1)
		for {
			if _, err := fromWatch.Read(buf); err != nil {
				return
			}
			c.Keyed(unix.Signal(buf[0]))
		}
	}()
	return func() {
		fromNSH.Close() // the watcher sees end of file and exits
		w.Wait()
		untrack(w.Process.Pid)
		fromWatch.Close()
		<-done
	}
}

// Keyed is what nsh does when the user types Ctrl-C (SIGINT) or Ctrl-\
// (SIGQUIT) at this foreground child: nothing when the signal reaches it,
// and when the kernel lets it ignore the signal (PID 1 of its pid
// namespace without a handler), a note, then SIGKILL on the next Ctrl-C
// within five seconds, or at once for Ctrl-\. The terminal is nsh's
// (a watcher in the child's group tells of the key) or one nsh lends the
// child while it records (nsh reads the key itself).
func (c *Child) Keyed(s unix.Signal) {
	if !c.Ignores(s) {
		return // the child got it and acts on it itself
	}
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if s == unix.SIGQUIT || (s == unix.SIGINT && time.Since(c.warned) < 5*time.Second) {
		c.say("killing the child (SIGKILL)")
		c.Signal(unix.SIGKILL)
		return
	}
	c.warned = time.Now()
	c.say("the child is PID 1 of a new pid namespace and has no %s handler, so the kernel ignores it (as with docker run without --init); press Ctrl-C again to kill it", unix.SignalName(s))
}

// Ignores says whether the kernel drops sig sent to the child's command:
// the first process of a pid namespace gets from outside only SIGKILL,
// SIGSTOP and the signals it handles (pid_namespaces(7)).
func (c *Child) Ignores(sig unix.Signal) bool {
	if sig == unix.SIGKILL || sig == unix.SIGSTOP {
		return false
	}
	return namespaceInit(c.Pid) && !handles(c.Pid, sig)
}

// namespaceInit says whether pid is PID 1 of its own pid namespace: the
// last of its NSpid numbers, the innermost, is 1.
func namespaceInit(pid int) bool {
	f := strings.Fields(statusField(pid, "NSpid"))
	return len(f) > 1 && f[len(f)-1] == "1"
}

// handles reports whether process pid catches sig (SigCgt in its status).
func handles(pid int, sig unix.Signal) bool {
	mask, err := strconv.ParseUint(statusField(pid, "SigCgt"), 16, 64)
	return err == nil && mask&(1<<(uint(sig)-1)) != 0
}

// restoreTerminal makes nsh's process group the terminal's foreground
// group again and puts back the modes the child may have changed. nsh is a
// background group at this point, so tcsetpgrp would stop it with SIGTTOU
// unless that is ignored for the moment.
func (c *Child) restoreTerminal() {
	if !c.foreground {
		return
	}
	c.foreground = false
	fd := int(c.tty.Fd())
	signal.Ignore(unix.SIGTTOU)
	defer signal.Reset(unix.SIGTTOU)
	unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, unix.Getpgrp())
	c.termios.Restore()
}

// Terminate asks the child to end: SIGTERM, or SIGKILL at once for PID 1
// of a pid namespace that does not handle SIGTERM, since the kernel would
// drop the SIGTERM.
func (c *Child) Terminate() error {
	if c.pidInit && c.Pid == c.direct && !handles(c.Pid, unix.SIGTERM) {
		return c.SignalAll(unix.SIGKILL)
	}
	return c.SignalAll(unix.SIGTERM)
}

// Stop terminates the child and kills it if it is still there after grace.
// Someone else (Wait) reaps it.
func (c *Child) Stop(grace time.Duration) {
	c.Terminate()
	for end := time.Now().Add(grace); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if !c.Alive() {
			return
		}
	}
	c.SignalAll(unix.SIGKILL)
}
