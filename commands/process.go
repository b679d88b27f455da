package commands

import (
	"fmt"
	"strings"

	"nsh/internal/near"
	"nsh/plan"
)

func init() {
	register(&Command{
		Name: "process", Group: "session",
		Usage: []string{
			"process args CMD ARG...", "process args off", "process env KEY=VALUE...", "process env inherit",
			"process cwd DIR", "process cwd off", "process terminal on|off", "process",
		},
		Summary: "the child's command, environment and working directory when spawn is given none (OCI process)",
		Example: "process args /bin/sh -c 'echo $GREETING'; process env GREETING=hi PATH=/bin; spawn",
		Help: "An OCI config's process object, as import oci reads it and export oci writes it. args: what a\n" +
			"bare spawn (and export oci without CMD) runs. env: the child's whole environment, instead of\n" +
			"nsh's own (inherit). cwd: where the command starts (inside the rootfs). terminal: the config's\n" +
			"process.terminal, kept for export oci; a foreground spawn always shares nsh's terminal.",
		Run: runProcess,
		Complete: func(s *Session, args []string, partial string) []string {
			if len(args) == 0 {
				return []string{"args", "env", "cwd", "terminal"}
			}
			if len(args) == 1 {
				switch args[0] {
				case "terminal":
					return []string{"on", "off"}
				case "env":
					return []string{"inherit"}
				case "args", "cwd":
					return []string{"off"}
				}
			}
			return nil
		},
	})
}

func runProcess(s *Session, c *Command, args []string) error {
	if len(args) == 0 {
		for _, l := range processLines(s.Spec) {
			fmt.Fprintln(s.Out, l)
		}
		return nil
	}
	next := s.Spec.Clone()
	sub, rest := args[0], args[1:]
	switch sub {
	case "args":
		if len(rest) == 0 {
			return usageError(c, "give the command and its arguments, or off")
		}
		if len(rest) == 1 && rest[0] == "off" {
			next.Command = nil
		} else {
			next.Command = rest
		}
	case "env":
		if len(rest) == 1 && rest[0] == "inherit" {
			next.Env = nil
			break
		}
		for _, kv := range rest {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				return fmt.Errorf("process env: %q is not KEY=VALUE: give every variable the child gets, or inherit", kv)
			}
		}
		next.Env = append([]string{}, rest...)
	case "cwd":
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
	case "terminal":
		if len(rest) != 1 || (rest[0] != "on" && rest[0] != "off") {
			return usageError(c, "process terminal takes on or off")
		}
		next.Terminal = rest[0] == "on"
	default:
		return usageError(c, fmt.Sprintf("unknown subcommand %q%s", sub, near.Hint(sub, []string{"args", "env", "cwd", "terminal"})))
	}
	return s.commit(next)
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
