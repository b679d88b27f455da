package commands

import (
	"fmt"
	"strings"

	"nsh/plan"
)

func init() {
	later("process", func() {
		register(&Command{
			Name: "process", Group: "session",
			Subs: []Sub{
				{Name: "args", Usage: []string{"process args CMD ARG...", "process args off"}, Run: processEdit(processArgs), Complete: completeWords("off")},
				{Name: "env", Usage: []string{"process env KEY=VALUE...", "process env inherit"}, Run: processEdit(processEnv), Complete: completeWords("inherit")},
				{Name: "cwd", Usage: []string{"process cwd DIR", "process cwd off"}, Run: processEdit(processCwd), Complete: completeWords("off")},
				{Name: "terminal", Usage: []string{"process terminal on|off"}, Run: processEdit(processTerminal), Complete: func(s *Session, args []string, partial string) []string {
					if len(args) == 0 {
						return []string{"on", "off"}
					}
					return nil
				}},
			},
			Bare: func(s *Session) error {
				for _, l := range processLines(s.Spec) {
					fmt.Fprintln(s.Out, l)
				}
				return nil
			},
			Summary: "the child's command, environment and working directory when spawn is given none (OCI process)",
			Example: "process args /bin/sh -c 'echo $GREETING'; process env GREETING=hi PATH=/bin; spawn",
			Help: "An OCI config's process object, as import oci reads it and export oci writes it. args: what a\n" +
				"bare spawn (and export oci without CMD) runs. env: the child's whole environment, instead of\n" +
				"nsh's own (inherit). cwd: where the command starts (inside the rootfs). terminal: the config's\n" +
				"process.terminal, kept for export oci; a foreground spawn always shares nsh's terminal.",
		})
	})
}

// processEdit runs one process subcommand on a clone of the plan and
// commits it.
func processEdit(edit func(next *plan.Spec, c *Command, rest []string) error) func(*Session, *Command, []string) error {
	return func(s *Session, c *Command, rest []string) error {
		next := s.Spec.Clone()
		if err := edit(next, c, rest); err != nil {
			return err
		}
		return s.commit(next)
	}
}

func processArgs(next *plan.Spec, c *Command, rest []string) error {
	if len(rest) == 0 {
		return usageError(c, "give the command and its arguments, or off")
	}
	if len(rest) == 1 && rest[0] == "off" {
		next.Command = nil
	} else {
		next.Command = rest
	}
	return nil
}

func processEnv(next *plan.Spec, c *Command, rest []string) error {
	if len(rest) == 1 && rest[0] == "inherit" {
		next.Env = nil
		return nil
	}
	for _, kv := range rest {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("process env: %q is not KEY=VALUE: give every variable the child gets, or inherit", kv)
		}
	}
	next.Env = append([]string{}, rest...)
	return nil
}

func processCwd(next *plan.Spec, c *Command, rest []string) error {
	if len(rest) != 1 {
		return usageError(c, "give one directory, or off")
	}
	switch {
	case rest[0] == "off":
		next.Cwd = ""
	case !strings.HasPrefix(rest[0], "/"):
		return fmt.Errorf("process cwd: %q: give an absolute path (inside the rootfs when there is one)", rest[0])
	default:
		next.Cwd = rest[0]
	}
	return nil
}

func processTerminal(next *plan.Spec, c *Command, rest []string) error {
	if len(rest) != 1 || (rest[0] != "on" && rest[0] != "off") {
		return usageError(c, "process terminal takes on or off")
	}
	next.Terminal = rest[0] == "on"
	return nil
}

func processLines(sp *plan.Spec) []string {
	args := "(none: spawn runs a shell)"
	if len(sp.Command) > 0 {
		args = quoteWords(sp.Command)
	}
	env := "nsh's own (inherit)"
	if sp.Env != nil {
		env = quoteWords(sp.Env)
		if len(sp.Env) == 0 {
			env = "(empty)"
		}
	}
	cwd := sp.Cwd
	if cwd == "" {
		cwd = "/ with a rootfs, else nsh's own"
	}
	term := "off"
	if sp.Terminal {
		term = "on"
	}
	return []string{"args " + args, "env " + env, "cwd " + cwd, "terminal " + term}
}

func quoteWords(ws []string) string {
	var q []string
	for _, w := range ws {
		q = append(q, Quote(w))
	}
	return strings.Join(q, " ")
}

// saveProcess writes the commands that rebuild the process settings.
func saveProcess(b *strings.Builder, sp *plan.Spec) {
	if len(sp.Command) > 0 {
		fmt.Fprintf(b, "process args %s\n", quoteWords(sp.Command))
	}
	if sp.Env != nil {
		if len(sp.Env) == 0 {
			b.WriteString("# process env: an empty environment (no command makes one)\n")
		} else {
			fmt.Fprintf(b, "process env %s\n", quoteWords(sp.Env))
		}
	}
	if sp.Cwd != "" {
		fmt.Fprintf(b, "process cwd %s\n", Quote(sp.Cwd))
	}
	if sp.Terminal {
		b.WriteString("process terminal on\n")
	}
}
