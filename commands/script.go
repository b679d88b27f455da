package commands

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"nsh/internal/ownfile"
	"nsh/isolate"
	"nsh/lesson"
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
			Usage: []string{"expect status N", "expect status nonzero",
				"expect output contains TEXT", "expect output matches REGEX",
				"expect ns @ID differs TYPE...", "expect ns @ID shares TYPE..."},
			Summary: "fail (an nsh error) unless the last foreground child's status or output, or a child's namespaces, are as said",
			Help: "A script stops at the first expect that fails, with FILE:LINE: a lesson rendered from it is true where it was rendered.\n" +
				"output is what the last foreground child (spawn, enter) printed on stdout and stderr, in the order it wrote them.\n" +
				"A script that has an expect output gives each foreground child a terminal of nsh's for both (shown on nsh's stdout),\n" +
				"as a lesson does; the REPL leaves children your terminal, so there it is kept only while record --cast runs.\n" +
				"matches takes a Go regular expression ((?m) makes ^ and $ match at each line). ns compares a child's namespaces with nsh's own.",
			Example: "spawn hostname; expect output contains foobar",
			Run:     runExpect,
			Complete: func(s *Session, args []string, partial string) []string {
				switch {
				case len(args) == 0:
					return []string{"status", "output", "ns"}
				case len(args) == 1 && args[0] == "status":
					return []string{"0", "nonzero"}
				case len(args) == 1 && args[0] == "output":
					return []string{"contains", "matches"}
				case len(args) == 1 && args[0] == "ns":
					return s.childRefs()
				case len(args) == 2 && args[0] == "ns":
					return []string{"differs", "shares"}
				case len(args) >= 3 && args[0] == "ns":
					return isolate.Namespaces
				}
				return nil
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
			Help: "The parts, in the order they happen: cgroup (mkdir, limits), plan, clone+exec (clone with the namespaces,\n" +
				"execve of the child stage), stage (placement, mounts, hostname, capabilities, up to the command's execve),\n" +
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
}

func runSource(s *Session, args []string) error {
	if len(args) != 1 {
		c, _ := Lookup("source")
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

func runExpect(s *Session, args []string) error {
	c, _ := Lookup("expect")
	if len(args) == 0 {
		return usageError(c, "say what to expect")
	}
	switch args[0] {
	case "status":
		return expectStatus(s, c, args[1:])
	case "output":
		return expectOutput(s, c, args[1:])
	case "ns":
		return expectNS(s, c, args[1:])
	}
	return usageError(c, "say what to expect")
}

func expectStatus(s *Session, c *Command, args []string) error {
	if len(args) != 1 {
		return usageError(c, "say what to expect")
	}
	want := args[0]
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

func expectOutput(s *Session, c *Command, args []string) error {
	if len(args) < 2 || (args[0] != "contains" && args[0] != "matches") {
		return usageError(c, "say contains TEXT or matches REGEX")
	}
	how, want := args[0], strings.Join(args[1:], " ")
	var re *regexp.Regexp
	if how == "matches" {
		var err error
		if re, err = regexp.Compile(want); err != nil {
			return fmt.Errorf("expect output matches: %q is not a regular expression: %w", want, err)
		}
	}
	if !s.haveOutput {
		if !s.haveChild {
			return fmt.Errorf("expect output %s: no foreground child has run yet", how)
		}
		return fmt.Errorf("expect output %s: the last child's output was not kept: at the prompt it goes to the terminal untouched; use it in a script, or under record --cast", how)
	}
	// The text as a lesson shows it: no terminal control sequences.
	got := lesson.Clean(s.lastOutput)
	if how == "contains" && strings.Contains(got, want) || how == "matches" && re.MatchString(got) {
		return nil
	}
	return fmt.Errorf("expect output %s %q: the last child printed %s", how, want, quoteOutput(got))
}

// quoteOutput shows a child's output in an error: its end, if long.
func quoteOutput(out string) string {
	if out == "" {
		return "nothing"
	}
	if len(out) > 400 {
		out = "..." + out[len(out)-400:]
	}
	return strconv.Quote(out)
}

func expectNS(s *Session, c *Command, args []string) error {
	if len(args) < 3 || !strings.HasPrefix(args[0], "@") || (args[1] != "differs" && args[1] != "shares") {
		return usageError(c, "say @ID, differs or shares, and namespace types")
	}
	t, err := s.resolveProcess(args[0])
	if err != nil {
		return fmt.Errorf("expect ns: %w", err)
	}
	child, err := isolate.ProcessNamespaces(t.pid)
	if err != nil {
		return fmt.Errorf("expect ns: %w", err)
	}
	self, err := isolate.ProcessNamespaces(0)
	if err != nil {
		return fmt.Errorf("expect ns: %w", err)
	}
	theirs, ours := inodes(child), inodes(self)
	for _, typ := range args[2:] {
		if !slices.Contains(isolate.Namespaces, typ) {
			return usageError(c, fmt.Sprintf("%q is not a namespace type: give %s", typ, strings.Join(isolate.Namespaces, ", ")))
		}
		a, b := theirs[typ], ours[typ]
		if a == 0 || b == 0 {
			return fmt.Errorf("expect ns %s %s %s: cannot read the namespace (has the child ended?)", args[0], args[1], typ)
		}
		if (a != b) != (args[1] == "differs") {
			rel := "shares nsh's"
			if a != b {
				rel = "has its own"
			}
			return fmt.Errorf("expect ns %s %s %s: %s %s %s namespace (%s:[%d], nsh's %s:[%d])", args[0], args[1], typ, args[0], rel, typ, typ, a, typ, b)
		}
	}
	return nil
}

// onOff runs a session switch: NAME on, NAME off.
func onOff(name string, set func(s *Session, on bool)) func(*Session, []string) error {
	return func(s *Session, args []string) error {
		if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
			c, _ := Lookup(name)
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
