package commands

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"nsh/isolate"
)

// proc is a process a command acts on: a child of the session (@ID,
// @NAME) or, given as a PID, any process of the machine.
type proc struct {
	label string
	pid   int    // 0: nsh itself (self)
	child *child // the session's child, or nil
	p     *isolate.Child
}

// foreign says whether nsh did not start the process.
func (t *proc) foreign() bool { return t.child == nil }

// release lets go of a foreign process's pidfd.
func (t *proc) release() {
	if t.child == nil && t.p != nil {
		t.p.Detach()
	}
}

// ref is how messages name it: @1 (web), or pid 4951 (sleep).
func (t *proc) ref() string {
	if t.child != nil {
		return t.child.ref()
	}
	return fmt.Sprintf("pid %d (%s)", t.pid, comm(t.pid))
}

func comm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// lookupProc resolves @ID, @NAME or a PID to a running process held by a
// pidfd. A PID that is one of the session's children is that child.
func (s *Session) lookupProc(word string) (*proc, error) {
	if strings.HasPrefix(word, "@") {
		c, err := s.lookupChild(word, true)
		if err != nil {
			return nil, err
		}
		return &proc{label: word, pid: c.proc.Pid, child: c, p: c.proc}, nil
	}
	pid, err := strconv.Atoi(word)
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("%q is not a process: give @ID, @NAME (see ps) or a PID", word)
	}
	if pid == os.Getpid() {
		return nil, fmt.Errorf("pid %d is nsh itself: give a child (@ID) or another process", pid)
	}
	s.mu.Lock()
	for _, c := range s.children {
		if c.proc.Pid == pid && !c.exited() {
			s.mu.Unlock()
			return &proc{label: word, pid: pid, child: c, p: c.proc}, nil
		}
	}
	s.mu.Unlock()
	p, err := isolate.Attach(pid)
	if err != nil {
		return nil, fmt.Errorf("%w: give a running PID, or a child's @ID (ps lists them)", err)
	}
	return &proc{label: word, pid: pid, p: p}, nil
}

// takeFlag removes every flag from args, wherever it stands, and says
// whether there was one (--force, --json, --strict: words no value of a
// command can be).
func takeFlag(args []string, flag string) ([]string, bool) {
	var out []string
	found := false
	for _, a := range args {
		if a == flag {
			found = true
		} else {
			out = append(out, a)
		}
	}
	return out, found
}

// mayChange refuses a live change to a process nsh did not start unless
// the user said --force, and says what it will do when they did; pid 1,
// nsh, kernel threads and nsh's helpers are never changed
// (isolate.Untouchable).
func (s *Session) mayChange(what string, t *proc, force bool, action string) error {
	if !t.foreign() {
		return nil
	}
	if err := isolate.Untouchable(t.pid); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	// After the reads above: the pid named the process held only if it
	// still runs.
	if !t.p.Alive() {
		return fmt.Errorf("%s: process %d has exited", what, t.pid)
	}
	if !force {
		return fmt.Errorf("%s: %s was not started by nsh: add --force to %s anyway", what, t.ref(), action)
	}
	fmt.Fprintf(s.Err, "%s: --force: %s was not started by nsh; about to %s\n", what, t.ref(), action)
	return nil
}
