package commands

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func runKill(s *Session, c *Command, args []string) error {
	args, force := takeFlag(args, "--force")
	if len(args) < 1 || len(args) > 2 {
		return usageError(c, "name a child (or a PID, with --force) and at most one signal")
	}
	sig := unix.SIGTERM
	if len(args) == 2 {
		var err error
		if sig, err = ParseSignal(args[1]); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(args[0], "@") {
		if _, err := strconv.Atoi(args[0]); err != nil {
			return fmt.Errorf("kill: %q is not a child: give @ID or @NAME (see ps), or a PID with --force", args[0])
		}
	}
	t, err := s.lookupProc(args[0])
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	defer t.release()
	if err := s.mayChange("kill", t, force, "send "+unix.SignalName(sig)+" to it"); err != nil {
		return err
	}
	ignored := t.p.Ignores(sig)
	s.explain(fmt.Sprintf("pidfd_send_signal(pid %d, %s)", t.pid, unix.SignalName(sig)))
	if err := t.p.Signal(sig); err != nil {
		return fmt.Errorf("kill %s: %w", t.ref(), err)
	}
	if ignored {
		fmt.Fprintf(s.Err, "kill: %s is PID 1 of its own pid namespace and has no %s handler, so the kernel ignores the signal (as with docker run without --init); end it with `kill %s KILL`\n",
			t.ref(), unix.SignalName(sig), args[0])
	}
	return nil
}

// ParseSignal reads TERM, SIGTERM, term or 15.
func ParseSignal(w string) (unix.Signal, error) {
	if n, err := strconv.Atoi(w); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("signal %d is out of range: give 1-64", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(w)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q: give a name such as TERM, KILL, INT, HUP, or a number 1-64", w)
}
