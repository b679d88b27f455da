package commands

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// docs/commands.md is the registry as Markdown: it never drifts from what
// help says. NSH_UPDATE=1 writes it again.
func TestReference(t *testing.T) {
	const file = "../docs/commands.md"
	want := Reference()
	if os.Getenv("NSH_UPDATE") == "1" {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s differs from the registry: NSH_UPDATE=1 go test ./commands -run TestReference writes it again", file)
	}
}

// Every subcommand declared in a table completes, has forms of its own
// that start with its name, and a usage error for it names those forms.
func TestSubcommandTables(t *testing.T) {
	tables := 0
	for _, name := range Names() {
		c, _ := Lookup(name)
		if c.Subs == nil {
			continue
		}
		tables++
		s, _, _, _ := newTestSession()
		got, _ := s.Complete(c.Name + " ")
		var want []string
		for _, sub := range c.Subs {
			want = append(want, sub.Name)
			if len(sub.Usage) == 0 || sub.Run == nil {
				t.Errorf("%s %s has no form or no run", c.Name, sub.Name)
			}
			for _, u := range sub.Usage {
				if !strings.HasPrefix(u, c.Name+" "+sub.Name) {
					t.Errorf("%s %s: form %q does not start with its name", c.Name, sub.Name, u)
				}
			}
			err := usageError(c, "x").(*UsageError)
			err.narrow([]string{sub.Name})
			if !strings.Contains(err.Error(), sub.Usage[0]) {
				t.Errorf("%s %s: a usage error does not name its form: %v", c.Name, sub.Name, err)
			}
		}
		if o := c.Other; o != nil {
			if o.Run == nil || len(o.Usage) == 0 {
				t.Errorf("%s: its other form has no form or no run", c.Name)
			}
			for _, u := range o.Usage {
				if !strings.HasPrefix(u, c.Name) {
					t.Errorf("%s: form %q does not start with its name", c.Name, u)
				}
			}
			if o.Words != nil {
				want = append(want, o.Words(s)...)
			}
		}
		// Every subcommand's arguments complete without a panic, and
		// what they offer is something to type.
		for _, sub := range c.Subs {
			for _, line := range []string{c.Name + " " + sub.Name + " ", c.Name + " " + sub.Name + " x "} {
				cands, _ := s.Complete(line)
				for _, w := range cands {
					if strings.TrimSpace(w) == "" {
						t.Errorf("%q completes an empty word", line)
					}
				}
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s completes %v, its table has %v", c.Name, got, want)
		}
	}
	if tables == 0 {
		t.Error("no command declares a subcommand table")
	}
}
