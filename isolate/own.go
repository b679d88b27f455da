package isolate

import (
	"errors"
	"fmt"
	"os"
)

// nsh runs as root and acts on pids: it writes them into cgroup.procs,
// signals them, enters their namespaces and moves links into them. A pid
// is a number of one pid namespace, and a wrong one is another process
// of the host (once, the host's init). So every pid nsh acts on passes
// through own first: it is either the process clone returned to nsh
// (held by a pidfd, so never a recycled pid) or that process's own child
// (the one a relay forked into a joined pid namespace), as
// /proc/PID/status in nsh's own pid namespace says. Nothing else is
// nsh's to touch.

// ErrNotOurs is wrapped by every refusal of own.
var ErrNotOurs = errors.New("not a process nsh started")

// own checks that pid is one of this child's processes nsh may act on.
func (c *Child) own(pid int) error {
	if c.foreign {
		return c.ownForeign(pid)
	}
	if pid <= 1 || pid == os.Getpid() {
		return fmt.Errorf("refusing to act on pid %d: %w", pid, ErrNotOurs)
	}
	if pid == c.direct {
		return nil
	}
	// The direct child is not reaped before nsh is done with the child,
	// so its pid cannot have been reused, and its children's PPid is it.
	if pp := parentOf(pid); pp != c.direct {
		return fmt.Errorf("refusing to act on pid %d: its parent is %d, not nsh's child %d: %w", pid, pp, c.direct, ErrNotOurs)
	}
	return nil
}
