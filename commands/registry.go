// Package commands is the nsh language: the session state, one registry of
// commands that drives dispatch, help and completion, and the script runner.
// It never touches the terminal; children are started through a Launcher.
package commands

import (
	"fmt"
	"sort"
	"strings"

	"nsh/internal/near"
)

// Command is one verb of the language.
type Command struct {
	Name    string
	Group   string   // heading in `help`
	Usage   []string // one line per form
	Summary string
	Help    string // longer text for `help NAME`
	Example string // one line that shows it at work
	Run     func(s *Session, args []string) error
	// Complete returns candidates for the word after args.
	Complete func(s *Session, args []string, partial string) []string
	// JSON says which forms print a report that --json (anywhere among
	// the arguments) turns into one JSON document (docs/json.md); nil:
	// none does.
	JSON func(args []string) bool
	// HelpFunc, when set, builds Help when it is asked for: a text made
	// from a table would be built at every start of nsh, one-shots
	// included.
	HelpFunc func() string
}

var (
	registry = map[string]*Command{}
	order    []string
	groups   []string
)

// register is called from each command file's init.
func register(cmds ...*Command) {
	for _, c := range cmds {
		if _, dup := registry[c.Name]; dup {
			panic("command registered twice: " + c.Name)
		}
		registry[c.Name] = c
		order = append(order, c.Name)
		known := false
		for _, g := range groups {
			known = known || g == c.Group
		}
		if !known {
			groups = append(groups, c.Group)
		}
	}
}

// Lookup finds a command by name.
func Lookup(name string) (*Command, bool) {
	c, ok := registry[name]
	return c, ok
}

// Names returns every command name, sorted.
func Names() []string {
	names := append([]string(nil), order...)
	sort.Strings(names)
	return names
}

func unknownCommand(name string) error {
	near := near.Words(name, Names())
	if len(near) > 0 {
		return fmt.Errorf("unknown command %q: did you mean %s? (`help` lists all)", name, strings.Join(near, ", "))
	}
	return fmt.Errorf("unknown command %q: `help` lists the commands", name)
}

// takesNothing says whether every form of c is its bare name.
func takesNothing(c *Command) bool {
	for _, u := range c.Usage {
		if u != c.Name {
			return false
		}
	}
	return len(c.Usage) > 0
}

// UsageError says how a command is used: the forms that match what was
// typed (cgroup set ... shows cgroup set's form, not the command's 13).
type UsageError struct {
	cmd     *Command
	problem string
	forms   []string
}

func (e *UsageError) Error() string {
	return fmt.Sprintf("%s: %s; usage: %s", e.cmd.Name, e.problem, strings.Join(e.forms, " | "))
}

// narrow keeps the forms whose subcommand is the one typed.
func (e *UsageError) narrow(args []string) {
	if len(args) == 0 {
		return
	}
	var keep []string
	for _, u := range e.forms {
		if f := strings.Fields(u); len(f) > 1 && f[1] == args[0] {
			keep = append(keep, u)
		}
	}
	if len(keep) > 0 {
		e.forms = keep
	}
}

// usageError says how a command is used.
func usageError(c *Command, problem string) error {
	return &UsageError{cmd: c, problem: problem, forms: c.Usage}
}
