package commands

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"nsh/isolate"
)

// Three names for three things: a child is the session's job record (ps
// lists it), an isolate.Child is the mechanism's handle on a process (a
// pidfd), and a target is what a command resolved the user's word to.

// target is a process a command acts on: a child of the session (@ID,
// @NAME, @last, or its PID), nsh itself (self), nsh's parent (parent), or
// any process of the machine by PID. Every one but nsh itself is held by
// a pidfd from the moment it is resolved, so what a command reads of
// /proc/PID it can check was still that process afterwards (check), and
// what it signals or enters is never a recycled pid.
type target struct {
	label string
	pid   int            // 0: nsh itself (self)
	child *child         // the session's job record, or nil
	p     *isolate.Child // the pidfd; nil for nsh itself
}

// foreign says whether nsh did not start the process.
func (t *target) foreign() bool { return t.child == nil && t.pid != 0 }

// release lets go of a foreign process's pidfd.
func (t *target) release() {
	if t != nil && t.child == nil && t.p != nil {
		t.p.Detach()
	}
}

// check says, after reads of /proc/PID, whether they were of the process
// resolved: it still runs (the pidfd says so), and for parent, nsh was
// not re-parented meanwhile.
func (t *target) check() error {
	if t.label == "parent" && os.Getppid() != t.pid {
		return fmt.Errorf("nsh's parent (pid %d) ended while nsh was reading it", t.pid)
	}
	if t.p != nil && !t.p.Alive() {
		return fmt.Errorf("process %d has exited", t.pid)
	}
	return nil
}

// ref is how messages name it: @1 (web), or pid 4951 (sleep).
func (t *target) ref() string {
	if t.child != nil {
		return t.child.ref()
	}
	if t.pid == 0 {
		return "nsh itself"
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

// isProcWord says whether a word names a process: @ID, @NAME or a PID.
func isProcWord(w string) bool {
	return strings.HasPrefix(w, "@") || isPID(w)
}

// isPID says whether a word is all digits: a PID (a file named so is
// written ./1234).
func isPID(w string) bool {
	n, err := strconv.Atoi(w)
	return err == nil && n > 0 && strconv.Itoa(n) == w
}

// lookupProc resolves a process a command changes, signals or enters:
// @ID, @NAME or a PID, never nsh itself.
func (s *Session) lookupProc(word string) (*target, error) { return s.resolve(word, false) }

// resolveProcess resolves a process a command reads: self (nsh, and
// nsh's own PID), parent, @ID, @NAME or a PID. The caller releases it.
func (s *Session) resolveProcess(word string) (*target, error) { return s.resolve(word, true) }

// resolve is the one way from a word to a process. A PID that is one of
// the session's running children is that child.
func (s *Session) resolve(word string, readOnly bool) (*target, error) {
	switch {
	case readOnly && word == "self":
		return &target{label: "self"}, nil
	case readOnly && word == "parent":
		// The shell nsh was started from: a process the reader may always
		// read, for a lesson that looks at one nsh did not start.
		ppid := os.Getppid()
		if ppid == 0 {
			return nil, fmt.Errorf("nsh's parent is outside nsh's pid namespace (nsh is its PID 1): give a PID")
		}
		p, err := isolate.Attach(ppid)
		if err != nil {
			return nil, fmt.Errorf("nsh's parent: %w", err)
		}
		return &target{label: "parent", pid: ppid, p: p}, nil
	case strings.HasPrefix(word, "@"):
		c, err := s.lookupChild(word, true)
		if err != nil {
			return nil, err
		}
		return &target{label: word, pid: c.proc.Pid, child: c, p: c.proc}, nil
	}
	if !isPID(word) {
		if readOnly {
			return nil, fmt.Errorf("%q is not a process: give self, parent, @ID, @NAME (see ps) or a PID", word)
		}
		return nil, fmt.Errorf("%q is not a process: give @ID, @NAME (see ps) or a PID", word)
	}
	pid, _ := strconv.Atoi(word)
	if pid == os.Getpid() {
		if readOnly {
			return &target{label: "self"}, nil
		}
		return nil, fmt.Errorf("pid %d is nsh itself: give a child (@ID) or another process", pid)
	}
	s.mu.Lock()
	for _, c := range s.children {
		if c.proc.Pid == pid && !c.exited() {
			s.mu.Unlock()
			return &target{label: word, pid: pid, child: c, p: c.proc}, nil
		}
	}
	s.mu.Unlock()
	p, err := isolate.Attach(pid)
	if err != nil {
		return nil, fmt.Errorf("%w: give a running PID, or a child's @ID (ps lists them)", err)
	}
	return &target{label: word, pid: pid, p: p}, nil
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
func (s *Session) mayChange(what string, t *target, force bool, action string) error {
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
