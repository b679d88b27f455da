package commands

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/isolate"
	"nsh/isolate/seccomp/bpf"
	"nsh/plan"
)

func init() {
	later("enter", func() {
		register(&Command{
			Name: "enter", Group: "children",
			Usage:   []string{"enter @ID|PID [CMD ARG...]", "enter --no-seccomp PID [CMD ARG...]", "enter --ns NS,NS @ID|PID [CMD ARG...]"},
			Summary: "run CMD inside a running child (like nsenter -a -t PID or docker exec)",
			Example: "enter --ns uts @web hostname",
			Help: "Without --ns: all of the child's namespaces that differ from nsh's (mount, user and pid\n" +
				"included), its cgroups, its root and working directory, its ids and capability sets,\n" +
				"its resource limits and its seccomp filter (as runc exec: entering is no way around them).\n" +
				"A PID enters any process, like nsenter -a -t PID (its limits too). A process nsh did not\n" +
				"start may run under seccomp filters nsh has no config for: nsh reads them from the process\n" +
				"(ptrace(PTRACE_SECCOMP_GET_FILTER), holding it stopped for that moment) and installs them in\n" +
				"what enters; where they cannot be read (a process already traced, a filter that hands calls\n" +
				"to a supervisor) it refuses, as what entered would escape them, unless --no-seccomp says to\n" +
				"enter without them (seccomp show PID tells).\n" +
				"With --ns: only those namespaces. CMD defaults to a shell, with the terminal.\n" +
				"The namespaces are joined through a pidfd, before nsh's Go runtime starts in the new\n" +
				"process (a multithreaded process cannot join a mount or user namespace).",
			Run: runEnter,
			Complete: func(s *Session, args []string, partial string) []string {
				// enter [--no-seccomp] [--ns T,T] @ID CMD...: a running
				// child, then a program.
				i := 0
				if len(args) > 0 && args[0] == "--no-seccomp" {
					i = 1
				}
				if len(args) >= i+2 && args[i] == "--ns" {
					i += 2
				}
				switch {
				case len(args) == 0:
					return append([]string{"--ns", "--no-seccomp"}, s.runningRefs()...)
				case len(args) == i:
					return s.runningRefs()
				case len(args) == i+1:
					return completePrograms(partial)
				}
				return completeFiles(nil, partial)
			},
		})
	})
}

func runEnter(s *Session, c *Command, args []string) error {
	args, noSeccomp := takeFlag(args, "--no-seccomp")
	var types []string
	if len(args) >= 2 && args[0] == "--ns" {
		for _, w := range strings.Split(args[1], ",") {
			ns, err := plan.ParseNamespace(w)
			if err != nil {
				return err
			}
			types = append(types, ns)
		}
		args = args[2:]
	}
	if len(args) == 0 {
		return usageError(c, "name a child")
	}
	t, err := s.lookupProc(args[0])
	if err != nil {
		return fmt.Errorf("enter: %w", err)
	}
	defer t.release()
	var copied []*bpf.Filter
	if len(types) == 0 && t.foreign() && !noSeccomp {
		if copied, err = s.copyFilters(t); err != nil {
			return fmt.Errorf("enter: %w", err)
		}
	}
	cmd := args[1:]
	if len(cmd) == 0 {
		cmd = []string{defaultShell(t.pid)}
	}
	s.lastEnter = &entered{pid: t.pid, types: types, args: cmd}
	files, err := s.foregroundFiles()
	if err != nil {
		return fmt.Errorf("enter: %w", err)
	}
	defer files.keep()
	proc, err := isolate.Enter(t.p, types, cmd, isolate.Options{
		Stdin: files.stdin, Stdout: files.stdout, Stderr: files.stderr, Session: files.session,
		Foreground:    true,
		CopiedFilters: copied,
		Step:          s.stepper(),
		Notice:        func(msg string) { fmt.Fprintf(s.Err, "enter: %s\n", msg) },
	})
	if err != nil {
		if errors.Is(err, unix.EPERM) && len(types) > 0 && !slices.Contains(types, "user") && os.Geteuid() != 0 {
			err = fmt.Errorf("%w: without root, a namespace is joined through the user namespace that owns it: add user to --ns", err)
		}
		return s.childFailed("enter", err, nil)
	}
	return s.waitForeground("enter", proc, &plan.Spec{})
}

// copyFilters reads the seccomp filters of a process nsh did not start,
// for what enters it: runc exec gives what enters a container the
// container's filter from its config; nsh takes the one the process runs
// under. Where they cannot be read, enter refuses: what entered would
// escape them. Nil: it runs under none.
func (s *Session) copyFilters(t *target) ([]*bpf.Filter, error) {
	st, err := isolate.ReadSeccompStatus(t.pid)
	if err == nil {
		err = t.check()
	}
	if err != nil || st.Mode != 2 {
		return nil, err
	}
	fs, err := isolate.CopySeccompFilters(t.p)
	if err == nil && len(fs) != st.Filters {
		err = fmt.Errorf("%w: %d read, %d in /proc/%d/status", isolate.ErrFilterNotCopied, len(fs), st.Filters, t.pid)
	}
	if err != nil {
		return nil, fmt.Errorf("%s runs under %d seccomp filters (Seccomp: 2), and %w: enter --no-seccomp %d to enter without them, or --ns NS,... to join namespaces only", t.ref(), st.Filters, err, t.pid)
	}
	s.explain(fmt.Sprintf("ptrace(PTRACE_SEIZE, %d); PTRACE_INTERRUPT; PTRACE_SECCOMP_GET_FILTER x%d; PTRACE_DETACH: its %d seccomp filters, for what enters it", t.pid, len(fs), len(fs)))
	return fs, nil
}

// defaultShell is $SHELL where the child's root has it, else /bin/sh.
func defaultShell(pid int) string {
	sh := os.Getenv("SHELL")
	if sh != "" {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/root%s", pid, sh)); err == nil {
			return sh
		}
	}
	return "/bin/sh"
}
