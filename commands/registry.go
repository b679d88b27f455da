// Package commands is the nsh language: the session state, one registry of
// commands that drives dispatch, help and completion, and the script runner.
// It reads no line from the terminal (package repl does); the terminal's
// modes change only through internal/term (top's single keys), and a
// foreground spawn goes through the Launcher a test can stand in for.
package commands

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

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
	Run     func(s *Session, c *Command, args []string) error
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
	// Subs, when set, are the command's subcommands, each declared once:
	// register derives Usage, Run (dispatch, with the nearest name for a
	// mistyped one), Complete and JSON from them. Bare runs the command
	// given no subcommand; nil: one is needed.
	Subs     []Sub
	Bare     func(s *Session) error
	BareJSON bool // the bare command prints a report --json turns into JSON
	// Other, when set, takes a first word that is no subcommand (ns PID,
	// rlimit nofile 64), and so refuses a mistyped one itself: its Run
	// and Complete get every word, its Words are what completes first.
	// Its forms come first in the usage; without Bare it also runs the
	// command given no word.
	Other *Sub
}

// Sub is one subcommand: its forms (each starting with the command's and
// its own name), what it does, how its arguments complete, and whether
// it prints a report --json can turn into JSON.
type Sub struct {
	Name     string
	Usage    []string
	Run      func(s *Session, c *Command, args []string) error
	Complete func(s *Session, args []string, partial string) []string
	JSON     bool
	// Words, for a command's Other only: what it takes as a first word.
	Words func(s *Session) []string
}

// fromSubs derives what a command with subcommands says and does.
func fromSubs(c *Command) {
	var names []string
	c.Usage = nil
	if c.Other != nil {
		c.Usage = append(c.Usage, c.Other.Usage...)
	}
	for _, sub := range c.Subs {
		names = append(names, sub.Name)
		c.Usage = append(c.Usage, sub.Usage...)
	}
	if c.Bare != nil {
		c.Usage = append(c.Usage, c.Name)
	}
	find := func(name string) *Sub {
		for i := range c.Subs {
			if c.Subs[i].Name == name {
				return &c.Subs[i]
			}
		}
		return nil
	}
	c.Run = func(s *Session, c *Command, args []string) error {
		if len(args) == 0 {
			switch {
			case c.Bare != nil:
				return c.Bare(s)
			case c.Other != nil:
				return c.Other.Run(s, c, nil)
			}
			return usageError(c, "say what to do: "+strings.Join(names, ", "))
		}
		sub := find(args[0])
		switch {
		case sub != nil:
			return sub.Run(s, c, args[1:])
		case c.Other != nil:
			return c.Other.Run(s, c, args)
		}
		return usageError(c, fmt.Sprintf("unknown subcommand %q%s", args[0], near.Hint(args[0], names)))
	}
	c.Complete = func(s *Session, args []string, partial string) []string {
		if len(args) == 0 {
			if c.Other != nil && c.Other.Words != nil {
				return append(append([]string(nil), names...), c.Other.Words(s)...)
			}
			return names
		}
		sub := find(args[0])
		switch {
		case sub != nil && sub.Complete != nil:
			return sub.Complete(s, args[1:], partial)
		case sub == nil && c.Other != nil && c.Other.Complete != nil:
			return c.Other.Complete(s, args, partial)
		}
		return nil
	}
	c.JSON = func(args []string) bool {
		if len(args) == 0 {
			return c.BareJSON || c.Bare == nil && c.Other != nil && c.Other.JSON
		}
		if sub := find(args[0]); sub != nil {
			return sub.JSON
		}
		return c.Other != nil && c.Other.JSON
	}
}

var (
	registry = map[string]*Command{}
	// order and groups are every command and every group, in the order
	// of the registrations (init's): whole once commandsReady has run.
	order  []string
	groups []string

	regMu         sync.Mutex
	registrations []*registration
	current       *registration // the one running, for register
	allReady      bool
)

// registration is one command file's: the commands it makes and the
// function that makes them.
type registration struct {
	names []string
	f     func()
	done  bool
	made  []string
}

// later keeps a command file's registration (its init) until one of the
// commands it names is first looked up: building all the commands is
// half a millisecond (on a machine whose page faults are dear) that a
// one-shot, which uses two or three of them, would otherwise pay, and
// `nsh --version` too. names lists what f registers
// (TestRegistrationsNameTheirCommands holds them to it).
func later(names string, f func()) {
	registrations = append(registrations, &registration{names: strings.Fields(names), f: f})
}

// run runs r's function once; regMu is held.
func (r *registration) run() {
	if r.done {
		return
	}
	r.done = true
	current = r
	defer func() { current = nil }()
	r.f()
}

// commandsReady builds every command not built yet, and the order help
// and completion list them in, once.
func commandsReady() {
	regMu.Lock()
	defer regMu.Unlock()
	readyLocked()
}

func readyLocked() {
	if allReady {
		return
	}
	for _, r := range registrations {
		r.run()
	}
	// In init's order, whichever command was looked up first.
	order, groups = nil, nil
	for _, r := range registrations {
		for _, name := range r.made {
			order = append(order, name)
			if g := registry[name].Group; !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	allReady = true
}

// register is called from each command file's registration (later).
func register(cmds ...*Command) {
	for _, c := range cmds {
		if _, dup := registry[c.Name]; dup {
			panic("command registered twice: " + c.Name)
		}
		if c.Subs != nil {
			fromSubs(c)
		}
		registry[c.Name] = c
		current.made = append(current.made, c.Name)
	}
}

// Lookup finds a command by name, building only the registration that
// names it; a name none names builds them all, for the nearest names.
func Lookup(name string) (*Command, bool) {
	regMu.Lock()
	defer regMu.Unlock()
	if c, ok := registry[name]; ok || allReady {
		return c, ok
	}
	for _, r := range registrations {
		if !r.done && slices.Contains(r.names, name) {
			r.run()
		}
	}
	if c, ok := registry[name]; ok {
		return c, ok
	}
	readyLocked()
	c, ok := registry[name]
	return c, ok
}

// Names returns every command name, sorted.
func Names() []string {
	commandsReady()
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
