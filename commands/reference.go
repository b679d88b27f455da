package commands

import (
	"fmt"
	"strings"
)

// Reference is the command reference for the repository's readers
// (docs/commands.md), built from the registry, topic by topic in help's
// order, so it says what help says and never drifts from it.
func Reference() string {
	var b strings.Builder
	b.WriteString("# Command reference\n\n")
	b.WriteString("Every command of nsh, topic by topic, as `help TOPIC` and `help CMD` show them.\n")
	b.WriteString("Generated from nsh's command registry (`NSH_UPDATE=1 go test ./commands -run TestReference`\n")
	b.WriteString("writes it again; the test fails when it drifts). Scripts use the same commands, one per\n")
	b.WriteString("line or separated by `;`; [docs/lessons.md](lessons.md) has what a lesson adds.\n\n")
	for _, g := range topics() {
		fmt.Fprintf(&b, "- [%s](#%s)\n", g, g)
	}
	for _, g := range topics() {
		fmt.Fprintf(&b, "\n## %s\n", g)
		for _, name := range order {
			c := registry[name]
			if c.Group != g {
				continue
			}
			summary := strings.TrimSuffix(c.Summary, ".")
			summary = strings.ToUpper(summary[:1]) + summary[1:]
			fmt.Fprintf(&b, "\n### %s\n\n%s.\n\n```\n", c.Name, summary)
			for _, u := range c.Usage {
				b.WriteString(u + "\n")
			}
			b.WriteString("```\n")
			help := c.Help
			if c.HelpFunc != nil {
				help = c.HelpFunc()
			}
			if help != "" {
				fmt.Fprintf(&b, "\n```text\n%s\n```\n", strings.TrimRight(help, "\n"))
			}
			if c.Example != "" {
				fmt.Fprintf(&b, "\nExample: `%s`\n", c.Example)
			}
		}
	}
	return b.String()
}
