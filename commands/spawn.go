package commands

import (
	"errors"
	"fmt"
	"os"

	"nsh/isolate"
)

func init() {
	register(&Command{
		Name: "spawn", Group: "children",
		Usage:   []string{"spawn [CMD ARG...]"},
		Summary: "launch a child with the session state in the foreground and wait for it",
		Help: "Without CMD: an interactive shell ($SHELL, else /bin/sh).\n" +
			"The child owns the terminal while it runs: Ctrl-C and Ctrl-Z reach it, not nsh.\n" +
			"nsh has no job control: a child stopped with Ctrl-Z is killed.\n" +
			"With unshare pid the child is PID 1 of its namespace, and the kernel ignores Ctrl-C for it\n" +
			"unless it handles SIGINT (docker run without --init is the same); nsh says so, and a\n" +
			"second Ctrl-C, or Ctrl-\\, kills it.\n" +
			"Its status becomes nsh's: the exit code, 128+N for signal N, 127 when CMD is not found, 126 when it cannot be executed.",
		Run: runSpawn,
	})
}

func runSpawn(s *Session, args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	} else if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		c, _ := Lookup("spawn")
		return usageError(c, fmt.Sprintf("unknown flag %s (put -- before a command that starts with -)", args[0]))
	}
	spec := s.Spec.Clone()
	spec.Args = args
	if len(args) == 0 {
		shell := os.Getenv("SHELL")
		if shell == "" {
			shell = "/bin/sh"
		}
		spec.Args = []string{shell}
	}
	status, err := s.Launcher.Run(spec, isolate.Options{
		Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr,
		Foreground: true,
		Step:       s.explain,
		Notice:     func(msg string) { fmt.Fprintf(s.Err, "spawn: %s\n", msg) },
	})
	var ee *isolate.ExecError
	switch {
	case errors.As(err, &ee):
		// Like a shell: a command that cannot run is the child's status,
		// not an error of the script.
		fmt.Fprintf(s.Err, "spawn: %v\n", ee)
		status = ee.Status()
	case errors.Is(err, isolate.ErrStopped):
		fmt.Fprintf(s.Err, "spawn: %v\n", err)
	case err != nil:
		return err
	}
	s.childStatus, s.haveChild = status, true
	s.status = status
	if s.Interactive && status != 0 && ee == nil {
		fmt.Fprintf(s.Err, "[status %d]\n", status)
	}
	return nil
}
