package commands

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/plan"
)

func init() {
	later("spawn", func() {
		register(&Command{
			Name: "spawn", Group: "children",
			Usage:   []string{"spawn [CMD ARG...]", "spawn -d [--name NAME] CMD ARG...", "spawn --time [CMD ARG...]"},
			Summary: "launch a child with the session state (in the foreground, or detached with -d)",
			Example: "spawn -d --name web sleep 600",
			Help: "Without CMD: an interactive shell ($SHELL, else /bin/sh).\n" +
				"The child owns the terminal while it runs: Ctrl-C and Ctrl-Z reach it, not nsh.\n" +
				"nsh has no job control: a child stopped with Ctrl-Z is killed.\n" +
				"With unshare pid the child is PID 1 of its namespace, and the kernel ignores Ctrl-C for it\n" +
				"unless it handles SIGINT (docker run without --init is the same); nsh says so, and a\n" +
				"second Ctrl-C, or Ctrl-\\, kills it.\n" +
				"Its status becomes nsh's: the exit code, 128+N for signal N, 127 when CMD is not found, 126 when it cannot be executed.\n" +
				"-d: the child runs in the background; nsh prints @ID and its host pid, keeps its output for\n" +
				"logs, and ends it when nsh ends. --name NAME lets @NAME stand for @ID.\n" +
				"--time: then print what each part cost: the cgroup, the plan, clone and the stage's exec, the\n" +
				"stage's work, the command itself, and the cleanup (what isolation costs on this host).",
			Run: runSpawn,
			Complete: func(s *Session, args []string, partial string) []string {
				// After -d and --name NAME: the program, then its arguments.
				i := 0
				for i < len(args) && strings.HasPrefix(args[i], "-") {
					if args[i] == "--name" {
						i++
					}
					i++
				}
				switch {
				case i > len(args):
					return nil // the name itself
				case i == len(args):
					if len(args) == 0 {
						return append([]string{"-d"}, completePrograms(partial)...)
					}
					return completePrograms(partial)
				}
				return completeFiles(nil, partial)
			},
		})
	})
}

func runSpawn(s *Session, c *Command, args []string) error {
	detached, name, timed := false, "", false
flags:
	for len(args) > 0 {
		switch {
		case args[0] == "--":
			args = args[1:]
			break flags
		case args[0] == "-d":
			detached = true
			args = args[1:]
		case args[0] == "--time":
			timed = true
			args = args[1:]
		case args[0] == "--name":
			if len(args) < 2 {
				return usageError(c, "--name needs a name")
			}
			name = args[1]
			args = args[2:]
		case len(args[0]) > 1 && args[0][0] == '-':
			return usageError(c, fmt.Sprintf("unknown flag %s (put -- before a command that starts with -)", args[0]))
		default:
			break flags
		}
	}
	// time on times every foreground spawn; a detached one has no end
	// to time to.
	timed = timed || (s.Time && !detached)
	if timed && detached {
		return usageError(c, "--time times a foreground spawn, from clone to cleanup: leave out -d")
	}
	if name != "" && !detached {
		return usageError(c, "--name names a detached child: add -d")
	}
	if len(args) > 0 && args[0] == "" {
		return usageError(c, "the command is empty ('' names no program): give one, e.g. spawn sh, or nothing for the plan's process or a shell")
	}
	spec := s.Spec.Clone()
	if len(args) == 0 && len(spec.Command) > 0 {
		args = spec.Command
	}
	if err := s.verifyJoins(spec)(); err != nil {
		return err
	}
	if detached {
		s.lastSpawn, s.lastArgs = spec, args
		if len(args) == 0 {
			return usageError(c, "spawn -d needs a command: a detached child has no terminal for a shell")
		}
		if err := s.spawnDetached(name, spec, args); err != nil {
			return s.childFailed("spawn", err, spec)
		}
		return nil
	}
	if len(args) == 0 {
		args = []string{interactiveShell(spec)}
	}
	s.lastSpawn, s.lastArgs = spec, args
	files, err := s.foregroundFiles()
	if err != nil {
		return fmt.Errorf("spawn: %w", err)
	}
	defer files.keep()
	if s.Launcher != nil {
		status, err := s.Launcher.Run(spec, isolate.Options{Args: args, Stdin: files.stdin, Stdout: files.stdout, Stderr: files.stderr})
		if err != nil {
			return s.childFailed("spawn", err, spec)
		}
		s.setChildStatus(status)
		return nil
	}
	var timing *isolate.Timing
	if timed {
		timing = &isolate.Timing{}
	}
	proc, err := isolate.Launch(spec, isolate.Options{
		Args:  args,
		Stdin: files.stdin, Stdout: files.stdout, Stderr: files.stderr,
		Foreground: true, Session: files.session,
		Step:   s.stepper(),
		Notice: func(msg string) { fmt.Fprintf(s.Err, "spawn: %s\n", msg) },
		Verify: s.verifyJoins(spec),
		Timing: timing,
		Again:  s.again,
	})
	if err != nil {
		return s.childFailed("spawn", err, spec)
	}
	err = s.waitForeground("spawn", proc, spec)
	if timing != nil {
		fmt.Fprintf(s.Err, "spawn --time: %s\n", timing)
	}
	return err
}

// childFailed turns a failed start into the command's outcome: like a
// shell, a command that cannot be executed is a status (127, 126), not an
// error of the script; anything else is an nsh error.
func (s *Session) childFailed(verb string, err error, spec *plan.Spec) error {
	var ee *isolate.ExecError
	if errors.As(err, &ee) {
		fmt.Fprintf(s.Err, "%s: %v%s\n", verb, ee, execHint(ee, spec))
		s.setChildStatus(ee.Status())
		if s.Interactive {
			fmt.Fprintf(s.Err, "[status %d]\n", ee.Status())
		}
		return nil
	}
	return err
}

// execHint explains an exec the kernel refused with EPERM because the
// program's file capabilities are not all in the child's bounding set
// (execve refuses to run a file-capability program it cannot honour).
func execHint(ee *isolate.ExecError, spec *plan.Spec) string {
	if spec == nil || spec.Caps == nil || !errors.Is(ee.Err, unix.EPERM) || spec.NoNewPrivs {
		return ""
	}
	path := ee.Path
	if spec.Rootfs != nil {
		path = filepath.Join(spec.Rootfs.Dir, path)
	}
	fc, ok, err := capability.GetFile(path)
	if err != nil || !ok {
		return ""
	}
	bounding := spec.Caps.Within(isolate.Available(spec)).Bounding
	missing := (fc.Permitted | fc.Inheritable) &^ bounding
	if missing == 0 {
		return ""
	}
	names := capWords(missing)
	return fmt.Sprintf(": its file capabilities (%s) are not all in the child's bounding set, which lacks %s, so the kernel refuses to run it; keep them (cap add %s), or run it without its file capabilities (cap file rm %s)",
		fc, names, names, ee.Path)
}

// waitForeground waits for a child that owns the terminal.
func (s *Session) waitForeground(verb string, proc *isolate.Child, spec *plan.Spec) error {
	s.mu.Lock()
	s.fg = proc
	s.mu.Unlock()
	// A foreground child's overlay upper goes with it: nothing can name
	// it afterwards (diff and commit take a detached child's @ID).
	defer proc.Layer.Remove()
	status, err := proc.Wait()
	s.mu.Lock()
	s.fg = nil
	s.mu.Unlock()
	switch {
	case errors.Is(err, isolate.ErrStopped):
		fmt.Fprintf(s.Err, "%s: %v\n", verb, err)
	case err != nil:
		return err
	}
	if note := pidsNote(proc, spec); note != "" {
		fmt.Fprintf(s.Err, "%s: %s\n", verb, note)
	}
	if note := oomNote(proc, spec, status); note != "" {
		fmt.Fprintf(s.Err, "%s: %s\n", verb, note)
	}
	s.setChildStatus(status)
	if s.Interactive && status != 0 {
		fmt.Fprintf(s.Err, "[status %d]\n", status)
	}
	return nil
}

func (s *Session) setChildStatus(status int) {
	s.childStatus, s.haveChild = status, true
	s.status = status
}

// verifyJoins checks, once the namespace files are open, that children
// named by @ID are still running, so their /proc files were theirs.
func (s *Session) verifyJoins(spec *plan.Spec) func() error {
	return func() error {
		for _, j := range spec.Join {
			if len(j.Ref) > 0 && j.Ref[0] == '@' {
				c, err := s.lookupChild(j.Ref, true)
				if err != nil {
					return fmt.Errorf("join %s %s: %w", j.Type, j.Ref, err)
				}
				if !c.proc.Alive() {
					return fmt.Errorf("join %s %s: the child has exited", j.Type, j.Ref)
				}
			}
		}
		return nil
	}
}

// interactiveShell is $SHELL, else /bin/sh; with a rootfs, $SHELL only
// if the rootfs has it (a busybox rootfs has no /bin/bash).
func interactiveShell(spec *plan.Spec) string {
	shell := os.Getenv("SHELL")
	if shell == "" {
		return "/bin/sh"
	}
	if spec.Rootfs != nil {
		if _, err := os.Stat(filepath.Join(spec.Rootfs.Dir, shell)); err != nil {
			return "/bin/sh"
		}
	}
	return shell
}
