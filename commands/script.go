package commands

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const maxSourceDepth = 32

func init() {
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
			Name: "expect", Group: "session",
			Usage:   []string{"expect status N", "expect status nonzero"},
			Summary: "fail (an nsh error) unless the last foreground child's status matches",
			Example: "spawn false; expect status 1",
			Run:     runExpect,
			Complete: func(s *Session, args []string, partial string) []string {
				switch len(args) {
				case 0:
					return []string{"status"}
				case 1:
					return []string{"0", "nonzero"}
				}
				return nil
			},
		},
		&Command{
			Name: "explain", Group: "session",
			Usage:   []string{"explain on", "explain off"},
			Summary: "print each kernel-facing step (clone flags, id maps, mounts, sethostname, execve) as it happens",
			Example: "explain on; spawn true",
			Run:     runExplain,
			Complete: func(s *Session, args []string, partial string) []string {
				if len(args) == 0 {
					return []string{"on", "off"}
				}
				return nil
			},
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
}

func runSource(s *Session, args []string) error {
	if len(args) != 1 {
		c, _ := Lookup("source")
		return usageError(c, "name one file")
	}
	if s.depth >= maxSourceDepth {
		return fmt.Errorf("source %s: nested more than %d deep; does a script source itself?", args[0], maxSourceDepth)
	}
	src, err := os.ReadFile(args[0])
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

func runExpect(s *Session, args []string) error {
	c, _ := Lookup("expect")
	if len(args) != 2 || args[0] != "status" {
		return usageError(c, "say what to expect")
	}
	want := args[1]
	if want != "nonzero" {
		if n, err := strconv.Atoi(want); err != nil || n < 0 || n > 255 {
			return usageError(c, fmt.Sprintf("%q is not a status: give 0-255 or nonzero", want))
		}
	}
	if !s.haveChild {
		return fmt.Errorf("expect status %s: no foreground child has run yet", want)
	}
	got := s.childStatus
	ok := (want == "nonzero" && got != 0) || want == strconv.Itoa(got)
	if !ok {
		return fmt.Errorf("expect status %s: the last child's status was %d", want, got)
	}
	return nil
}

func runExplain(s *Session, args []string) error {
	c, _ := Lookup("explain")
	if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
		return usageError(c, "say on or off")
	}
	s.Explain = args[0] == "on"
	return nil
}

func runExit(s *Session, args []string) error {
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
