package isolate

// A running child: what nsh may do to it (signal, wait, end), and what it
// holds (its pidfd, cgroup, veths), released when it is reaped.

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/isolate/cgroup"
)

// Filter is the seccomp filter the child was started with, nil if none.

// Cgroup is the child's cgroup, nil when it has none.
func (c *Child) Cgroup() *cgroup.Group { return c.group }

func (c *Child) kill() {
	unix.Kill(c.direct, unix.SIGKILL)
	var ws unix.WaitStatus
	unix.Wait4(c.direct, &ws, 0, nil)
	untrack(c.direct)
	c.restoreTerminal()
	c.closePidfd()
	c.release()
}

// release removes what the child had outside itself: its veth host ends
// and its cgroup.
func (c *Child) release() {
	if len(c.links) > 0 {
		if c.step != nil {
			var names []string
			for _, l := range c.links {
				names = append(names, l.name)
			}
			c.step(fmt.Sprintf("ip link del %s (if the namespace did not take them along)", strings.Join(names, " ")))
		}
		deleteLinks(c.links)
		c.links = nil
	}
	if c.group != nil {
		if err := c.group.Remove(c.step); err != nil && c.notice != nil {
			c.notice(err.Error())
		}
		c.group = nil
	}
}

// KillAll ends the child and everything it started: through its cgroup
// where nsh made one, else its process group. In a cgroup it joined
// (`cgroup use`) nsh ends only its own child: the rest is not nsh's.
func (c *Child) KillAll() {
	if c.group.Owned() {
		c.group.Kill(c.step)
		return
	}
	c.SignalAll(unix.SIGKILL)
}

func (c *Child) closePidfd() {
	if c.pidfd >= 0 {
		unix.Close(c.pidfd)
		c.pidfd = -1
	}
}

// SignalAll sends sig to the child and to everything in its process group
// (what a shell child started), where the child leads one.
func (c *Child) SignalAll(sig unix.Signal) error {
	if !c.ownGroup {
		return c.Signal(sig)
	}
	err := unix.Kill(-c.direct, sig)
	if err == unix.ESRCH {
		return nil
	}
	c.thawFor(sig)
	return err
}

// Signal sends sig to the child (through its pidfd, so never to a
// recycled pid); a relay passes it on.
func (c *Child) Signal(sig unix.Signal) error {
	if c.foreign {
		if err := c.own(c.Pid); err != nil {
			return err
		}
		if err := Untouchable(c.Pid); err != nil {
			return err
		}
	}
	// SIGKILL and SIGSTOP cannot be relayed: behind a relay they go to
	// the command itself as well.
	reached := false
	if c.Pid != c.direct && (sig == unix.SIGKILL || sig == unix.SIGSTOP) {
		if fd, err := c.openPidfd(); err == nil {
			reached = unix.PidfdSendSignal(fd, sig, nil, 0) == nil
			unix.Close(fd)
		}
	}
	var err error
	if c.pidfd >= 0 {
		err = unix.PidfdSendSignal(c.pidfd, sig, nil, 0)
	} else {
		err = unix.Kill(c.direct, sig)
	}
	// The relay may be gone already: its command, which got the
	// signal, ended, and so did it.
	if reached && errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err == nil {
		c.thawFor(sig)
	}
	return err
}

// thawFor thaws a frozen child once sig is pending, as runc does: a
// frozen process handles no signal, and under the v1 freezer not even
// SIGKILL ends it, so a child paused with Freeze would outlive kill, and
// nsh. A stop signal leaves it frozen.
func (c *Child) thawFor(sig unix.Signal) {
	switch sig {
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, 0:
		return
	}
	if c.group.Frozen() {
		c.group.SetFrozen(false, c.step)
	}
}

// Freeze stops every process of the child where it stands (docker
// pause), through the freezer of the cgroup nsh made for it; Thaw
// resumes them. A child in no cgroup of nsh's (cgroup off, cgroup use)
// has no freezer nsh may write: cgroup.ErrNoFreezer.
func (c *Child) Freeze() error { return c.setFrozen(true) }

// Thaw resumes a frozen child.
func (c *Child) Thaw() error { return c.setFrozen(false) }

// Frozen says whether the child is frozen by its own cgroup's freezer.
func (c *Child) Frozen() bool { return c.group.Frozen() }

func (c *Child) setFrozen(on bool) error {
	if !c.Alive() {
		return errors.New("the child has exited")
	}
	return c.group.SetFrozen(on, c.step)
}

// Wait waits for the child to end and returns its status as a shell would:
// the exit code, or 128+N when signal N killed it. A foreground child that
// stops (Ctrl-Z) is killed, since nsh has nobody to resume it; Wait then
// returns 128+SIGTSTP and ErrStopped.
func (c *Child) Wait() (int, error) {
	defer untrack(c.direct)
	defer c.closePidfd()
	defer c.Layer.Release()
	defer func() {
		if c.group != nil {
			c.OOMKills = c.group.OOMKills()
			c.ForksRefused = c.group.ForksRefused()
		}
		if t := c.timing; t != nil {
			t.Command = t.mark()
		}
		c.release()
		if t := c.timing; t != nil {
			t.Cleanup = t.mark()
		}
	}()
	stop := c.watchInterrupts()
	defer stop()
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(c.direct, &ws, unix.WUNTRACED, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			c.restoreTerminal()
			return 0, fmt.Errorf("wait for pid %d: %w", c.direct, err)
		}
		switch {
		case ws.Exited():
			c.restoreTerminal()
			return ws.ExitStatus(), nil
		case ws.Signaled():
			c.restoreTerminal()
			c.termSignal = ws.Signal()
			return 128 + int(ws.Signal()), nil
		case ws.Stopped():
			sig := ws.StopSignal()
			c.restoreTerminal()
			unix.Kill(c.direct, unix.SIGKILL)
			unix.Kill(c.direct, unix.SIGCONT)
			unix.Wait4(c.direct, &ws, 0, nil)
			return 128 + int(sig), ErrStopped
		}
	}
}

// ErrStopped says a foreground child was stopped and therefore killed.
var ErrStopped = errors.New("the child was stopped (Ctrl-Z); nsh has no job control, so it was killed")
