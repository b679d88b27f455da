package commands

import (
	"fmt"
	"math/bits"
	"strings"

	"nsh/isolate/capability"
	"nsh/plan"
)

func init() {
	later("show reset save", func() {
		register(
			&Command{
				Name: "show", Group: "session",
				Usage:   []string{"show"},
				Summary: "the whole planned state",
				Example: "show",
				JSON:    func(args []string) bool { return len(args) == 0 },
				Run: func(s *Session, c *Command, args []string) error {
					if len(args) > 0 {
						return usageError(c, "show takes no arguments")
					}
					if s.json {
						return s.emit(showJSON{Plan: s.Spec, Explain: s.Explain, Time: s.Time})
					}
					return printTable(s.Out, []string{"SETTING", "VALUE"}, showRows(s))
				},
			},
			&Command{
				Name: "reset", Group: "session",
				Usage:   []string{"reset"},
				Summary: "back to an empty state (running children keep running)",
				Example: "reset",
				Run: func(s *Session, c *Command, args []string) error {
					s.Spec = &plan.Spec{}
					return nil
				},
			},
			&Command{
				Name: "save", Group: "session",
				Usage:   []string{"save [-f] FILE.nsh"},
				Summary: "write a script that recreates this state; source it to get the same show",
				Example: "save demo.nsh",
				Run:     runSave,
				Complete: func(s *Session, args []string, partial string) []string {
					return completeFiles(args, partial)
				},
			},
		)
	})
}

func showRows(s *Session) [][]string {
	var rows [][]string
	for _, f := range facets {
		rows = append(rows, f.show(s, s.Spec)...)
	}
	onOff := map[bool]string{true: "on", false: "off"}
	return append(rows, []string{"explain", onOff[s.Explain]}, []string{"time", onOff[s.Time]})
}

func orNone(s string) string { return orDefault(s, "(none)") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// SaveScript renders the state as commands, facet by facet; Parse and
// the commands read it back to the same state.
func SaveScript(sp *plan.Spec) string {
	var b strings.Builder
	b.WriteString("# nsh session state: this file was written by nsh (save); `source` it or run it with nsh\nreset\n")
	for _, f := range facets {
		f.save(&b, sp)
	}
	return b.String()
}

func runSave(s *Session, c *Command, args []string) error {
	args, force := takeFlagF(args)
	if len(args) != 1 {
		return usageError(c, "name one file (-f: replace a file nsh did not write)")
	}
	if err := writeOwnFile("save", args[0], []byte(SaveScript(s.Spec)), 0o644, force); err != nil {
		return err
	}
	fmt.Fprintf(s.Err, "save: wrote %s; source %s (or nsh %s) brings this plan back\n", args[0], args[0], args[0])
	return nil
}

// saveCaps writes commands that rebuild exactly these sets: as typed
// (cap drop net_raw, from every capability or a preset) where the three
// main sets are one and the others empty, else each set in one step,
// permitted before effective so every step is valid.
func saveCaps(c *plan.Caps) string {
	if c.Preset != "" {
		return "cap preset " + c.Preset + "\n"
	}
	if m := c.Bounding; c.Permitted == m && c.Effective == m && c.Inheritable == 0 && c.Ambient == 0 && !c.AmbientSet {
		best, words := "", -1
		for _, base := range []struct {
			preset string
			m      uint64
		}{{"", capability.All()}, {"docker", capability.Docker}, {"none", 0}} {
			drop, add := base.m&^m, m&^base.m
			var b strings.Builder
			if base.preset != "" {
				b.WriteString("cap preset " + base.preset + "\n")
			}
			if drop != 0 {
				b.WriteString("cap drop " + strings.ReplaceAll(capWords(drop), ",", " ") + "\n")
			}
			if add != 0 {
				b.WriteString("cap add " + strings.ReplaceAll(capWords(add), ",", " ") + "\n")
			}
			if n := bits.OnesCount64(drop) + bits.OnesCount64(add); words < 0 || n < words {
				best, words = b.String(), n
			}
		}
		return best
	}
	var b strings.Builder
	b.WriteString("cap preset none\n")
	for _, set := range []struct {
		name string
		m    uint64
	}{{"bounding", c.Bounding}, {"permitted", c.Permitted}, {"inheritable", c.Inheritable}, {"effective", c.Effective}} {
		if set.m != 0 {
			fmt.Fprintf(&b, "cap only --set %s %s\n", set.name, capWords(set.m))
		}
	}
	if c.AmbientSet {
		fmt.Fprintf(&b, "cap only --set ambient %s\n", capWords(c.Ambient))
	}
	return b.String()
}

func capWords(m uint64) string {
	var out []string
	for _, n := range capability.Names(m) {
		out = append(out, strings.TrimPrefix(n, "cap_"))
	}
	return strings.Join(out, ",")
}

func mountWords(m plan.Mount) string {
	switch m.Type {
	case "bind":
		w := "bind " + Quote(m.Source) + " " + Quote(m.Target)
		if m.ReadOnly {
			w += " ro"
		}
		return w
	case "tmpfs":
		w := "tmpfs " + Quote(m.Target)
		if m.Options != "" {
			w += " " + m.Options
		}
		return w
	}
	return m.Type + " " + Quote(m.Target)
}
