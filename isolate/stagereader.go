package isolate

// What the child stage says while it works, and where its command runs.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// stageReader relays the child stage's messages.
type stageReader struct {
	lines *credLines
	w     *os.File // the same channel, for the ack of an exec step
	opt   *Options
	prog  *program
	child *Child
	// sender is the pid that sent the last message, as the kernel says.
	sender int
}

func newStageReader(r *os.File, opt *Options, prog *program, c *Child) *stageReader {
	return &stageReader{lines: newCredLines(r), w: r, opt: opt, prog: prog, child: c}
}

// next returns the next message that is not a step, or nil at end of file.
func (r *stageReader) next() (*message, error) {
	for {
		line, pid, err := r.lines.next()
		if err != nil || line == nil {
			return nil, err
		}
		r.sender = pid
		var m message
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("child stage sent %q: %w", line, err)
		}
		if m.Step != "" {
			r.opt.step("%s", m.Step)
			continue
		}
		if m.Op > 0 && m.Errno == 0 {
			for _, line := range r.prog.steps(m.Op, m.Exec) {
				r.opt.step("%s", line)
			}
			if m.Exec != "" {
				// Shown: the stage waits for this before its execve
				// (protocol.go), so the command prints after the line.
				if _, err := r.w.Write([]byte{1}); err != nil {
					return nil, fmt.Errorf("child stage: %w", err)
				}
			}
			continue
		}
		if m.Op > 0 {
			return nil, r.prog.failure(m.Op, unix.Errno(m.Errno), m.Exec)
		}
		if m.Error != "" {
			return nil, m.err()
		}
		return &m, nil
	}
}

// waitHere returns the pid, in nsh's pid namespace, of the process that
// runs the command.
func (r *stageReader) waitHere() (int, error) {
	m, err := r.next()
	if err != nil {
		return 0, err
	}
	if m == nil || !m.Here {
		return 0, errors.New("the child stage ended before it joined the namespaces")
	}
	// It waits for its program, so it is there to be checked: the stage
	// itself or its relay's child, nothing else.
	if err := r.child.own(r.sender); err != nil {
		return 0, fmt.Errorf("child stage: %w", err)
	}
	return r.sender, nil
}

// finish reads until end of file: the command runs. A guarded command
// says who it is on the way (here).
func (r *stageReader) finish() (here int, err error) {
	for {
		m, err := r.next()
		if err != nil || m == nil {
			return here, err
		}
		if m.Probe {
			r.child.Probed = &ProbeResult{Answered: !m.Blocked, Blocked: m.Blocked, Ret: m.Ret, Errno: unix.Errno(m.Perr)}
			continue
		}
		if m.Here {
			if err := r.child.own(r.sender); err != nil {
				// A guarded command says so just before its execve;
				// a short one may have run, ended and been reaped by
				// its relay before nsh looks. Then there is nothing to
				// act on, and the relay stays the child nsh knows.
				if _, statErr := os.Stat(fmt.Sprintf("/proc/%d", r.sender)); os.IsNotExist(statErr) {
					continue
				}
				return 0, fmt.Errorf("child stage: %w", err)
			}
			here = r.sender
		}
	}
}

func (m *message) err() error {
	if m.Exec != "" {
		return &ExecError{Path: m.Exec, Err: unix.Errno(m.Errno)}
	}
	if strings.HasPrefix(m.Error, "setns(") && unix.Errno(m.Errno) == unix.EPERM {
		return fmt.Errorf("%s: %w: the namespace belongs to a user namespace in which the child holds no privilege (it has one of its own, or nsh runs without root): join that user namespace too (join user ...), or share user", m.Error, unix.EPERM)
	}
	if m.Errno != 0 {
		return fmt.Errorf("%s: %w", m.Error, unix.Errno(m.Errno))
	}
	return errors.New(m.Error)
}
