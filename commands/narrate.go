package commands

import (
	"fmt"
	"strings"
)

func init() {
	later("echo note", func() {
		register(
			&Command{
				Name: "echo", Group: "teaching",
				Usage:   []string{"echo TEXT..."},
				Summary: "print TEXT (narration in scripts and demos; in a script a `#: TEXT` line says it too)",
				Example: "echo Step 1: namespaces",
				Run: func(s *Session, c *Command, args []string) error {
					fmt.Fprintln(s.Out, strings.Join(args, " "))
					return nil
				},
			},
			&Command{
				Name: "note", Group: "teaching",
				Usage:   []string{"note TEXT..."},
				Summary: "print TEXT as a note, set apart from the output around it",
				Example: "note Step 2: cgroups",
				Run: func(s *Session, c *Command, args []string) error {
					fmt.Fprintf(s.Out, "\n== %s\n", strings.Join(args, " "))
					return nil
				},
			},
		)
	})
}
