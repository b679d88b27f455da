package commands

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"nsh/internal/ownfile"
)

const maxSourceDepth = 32

func init() {
	later("source explain time exit quit", func() {
		register(
			&Command{
				Name: "source", Group: "session",
				Usage:   []string{"source FILE.nsh"},
				Summary: "run a script's commands in this session",
				Example: "source demo.nsh",
				Run:     runSource,
				Complete: func(s *Session, args []string, partial string) []string {
					return completeFiles(args, partial)
				},
			},
			&Command{
				Name: "explain", Group: "session",
				Usage:    []string{"explain on", "explain off"},
				Summary:  "print each kernel-facing step (clone flags, id maps, mounts, sethostname, execve) as it happens",
				Example:  "explain on; spawn true",
				Run:      onOff("explain", func(s *Session, on bool) { s.Explain = on }),
				Complete: completeOnOff,
			},
			&Command{
				Name: "time", Group: "session",
				Usage:   []string{"time on", "time off"},
				Summary: "print what each part of every foreground spawn cost, as spawn --time does",
				Help: "The parts, in the order they happen: cgroup (mkdir, limits), plan, clone (clone3 with the namespaces;\n" +
					"the child runs nsh's stage at once), stage (placement, mounts, hostname, capabilities, up to the command's execve),\n" +
					"command (the command itself, to its end) and cleanup. With explain on, each step is shown as well.",
				Example:  "time on; spawn true",
				Run:      onOff("time", func(s *Session, on bool) { s.Time = on }),
				Complete: completeOnOff,
			},
			&Command{
				Name: "exit", Group: "session",
				Usage:   []string{"exit [N]"},
				Summary: "leave nsh with status N (default: the last command's)",
				Example: "exit 0",
				Run:     runExit,
			},
			&Command{
				Name: "quit", Group: "session",
				Usage:   []string{"quit"},
				Summary: "leave nsh, like exit",
				Example: "quit",
				Run:     runExit,
			},
		)
	})
}

func runSource(s *Session, c *Command, args []string) error {
	if len(args) != 1 {
		return usageError(c, "name one file")
	}
	if s.depth >= maxSourceDepth {
		return fmt.Errorf("source %s: nested more than %d deep; does a script source itself?", args[0], maxSourceDepth)
	}
	src, err := ownfile.ReadFile(args[0])
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("source: %w: give the path of a script, e.g. one save wrote", err)
	}
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	s.depth++
	defer func() { s.depth-- }()
	return s.RunScript(args[0], string(src))
}

// onOff runs a session switch: NAME on, NAME off.
func onOff(name string, set func(s *Session, on bool)) func(*Session, *Command, []string) error {
	return func(s *Session, c *Command, args []string) error {
		if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
			return usageError(c, "say on or off")
		}
		set(s, args[0] == "on")
		return nil
	}
}

func completeOnOff(s *Session, args []string, partial string) []string {
	if len(args) == 0 {
		return []string{"on", "off"}
	}
	return nil
}

func runExit(s *Session, c *Command, args []string) error {
	code := s.prevStatus
	if len(args) > 1 {
		return fmt.Errorf("exit: give at most one status")
	}
	if len(args) == 1 {
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > 255 {
			return fmt.Errorf("exit: %q is not a status: give 0-255", args[0])
		}
		code = n
	}
	s.status = code
	return &ExitError{Code: code}
}

// completeFiles completes the path being typed, as the first argument.
func completeFiles(args []string, partial string) []string {
	if len(args) > 0 {
		return nil
	}
	dir, _ := filepath.Split(partial)
	entries, err := os.ReadDir(orDefault(dir, "."))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") && !strings.HasPrefix(filepath.Base(partial+"x"), ".") {
			continue
		}
		if e.IsDir() {
			name += "/"
		}
		out = append(out, dir+name)
	}
	return out
}

// completePrograms offers the programs of $PATH whose names start with
// partial, or, for a path, the files there.
func completePrograms(partial string) []string {
	if strings.Contains(partial, "/") {
		return completeFiles(nil, partial)
	}
	var out []string
	seen := map[string]bool{}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		entries, err := os.ReadDir(orDefault(dir, "."))
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if seen[name] || !strings.HasPrefix(name, partial) || e.IsDir() {
				continue
			}
			if info, err := e.Info(); err == nil && info.Mode()&0o111 != 0 || e.Type()&os.ModeSymlink != 0 {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}
