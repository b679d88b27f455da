package isolate

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Attach takes hold of a process nsh did not start, to look at it and
// enter it: a pidfd is opened at once, so a pid recycled later is never
// the one entered or signalled, and every read of /proc/PID is checked
// against it afterwards (Alive). nsh changes a foreign process only when
// the user insists (the commands' --force), and never pid 1 or itself.
func Attach(pid int) (*Child, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("%d is not a pid", pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("no process with pid %d", pid)
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			// pidfd_open takes a thread group's leader only: other
			// threads get EINVAL (Debian's 6.1) or ENOENT (6.18 here).
			return nil, fmt.Errorf("pid %d is a thread, not a process (Tgid in /proc/%d/status is its process)", pid, pid)
		}
		return nil, fmt.Errorf("pidfd_open(%d): %w", pid, err)
	}
	c := &Child{Pid: pid, direct: pid, pidfd: fd, foreign: true}
	// What enters it takes on its limits, as runc exec does; those nsh
	// may not raise to (its own hard limit is lower and it lacks
	// CAP_SYS_RESOURCE) stay as nsh's.
	if l, err := ReadLimits(pid); err == nil {
		for _, r := range l {
			if CheckRaise(r) == nil {
				c.rlimits = append(c.rlimits, r)
			}
		}
	}
	if !c.Alive() {
		c.closePidfd()
		return nil, fmt.Errorf("process %d has exited", pid)
	}
	return c, nil
}

// Foreign says whether nsh did not start the process.
func (c *Child) Foreign() bool { return c.foreign }

// Detach lets go of a process taken with Attach.
func (c *Child) Detach() { c.closePidfd() }

// ownForeign is own for a process taken with Attach: the process itself,
// never pid 1 (the machine's init, or a stand-in's) and never nsh.
func (c *Child) ownForeign(pid int) error {
	if pid <= 1 || pid == os.Getpid() {
		return fmt.Errorf("refusing to act on pid %d, %s: %w", pid, untouchable(pid), ErrNotOurs)
	}
	if pid != c.Pid {
		return fmt.Errorf("refusing to act on pid %d: %w", pid, ErrNotOurs)
	}
	if !c.Alive() {
		return fmt.Errorf("process %d has exited", pid)
	}
	return nil
}
