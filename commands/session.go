package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"nsh/internal/ownfile"
	"nsh/isolate"
	"nsh/plan"
)

// Launcher, when set, runs foreground children instead of package
// isolate; tests of the language inject a fake one, so they need no
// privileges.
type Launcher interface {
	Run(spec *plan.Spec, opt isolate.Options) (status int, err error)
}

// Session is the state the commands mutate: the plan, and around it the
// job table (jobs), where output goes and what is recorded of it
// (streams), and the script runner's state (interp).
type Session struct {
	// Ready is the caller's own set-up before the session's first child
	// (main's signal handlers), done once by the next RunScript: in the
	// background when the script spawns (isolate.Prepare), else at once.
	Ready func()

	Spec     *plan.Spec
	Explain  bool
	Time     bool // every foreground spawn says what each part cost (time on)
	Launcher Launcher

	jobs
	streams
	interp

	closing sync.Mutex // held while Close ends the children
	// Unwritten says Close could not write a recording whole (the old
	// file, if any, is as it was): nsh's run then fails.
	Unwritten bool
	// picture, while a lesson renders a statement, keeps a picture a
	// draw line made beside the page; drawn is the one it kept.
	picture func(svg []byte) (string, error)
	drawn   *drawnPicture
	// scratch is the directory `scratch` made, nsh's working directory
	// until Close removes it; scratchBack is where nsh was before.
	scratch, scratchBack string
	// pair is the running sharing of the session (pair on), read by the
	// stream's tap and the line reader from their goroutines; pairMu
	// keeps the panel's renewals one at a time.
	pair   atomic.Pointer[pairing]
	pairMu sync.Mutex
	// imageCache is this session's cache of unpacked image layers
	// (rootfs --image without --cache), removed by Close.
	imageCache string
	pins       []pin

	lastSpawn *plan.Spec // the plan of the last spawn, for a lesson's tools
	lastArgs  []string   // and its command
	lastEnter *entered   // the last enter, for a lesson's tools

	// Learn starts a lesson for the learner (learn NN), where the REPL
	// can: it is set by whoever runs the REPL.
	Learn func(arg string) error
}

// streams are where the session's output and its children's standard
// files go, and what is kept or recorded of them.
type streams struct {
	// Children's standard files; Out and Err are nsh's own output.
	Stdin, Stdout, Stderr *os.File
	Out, Err              io.Writer

	recording *ownfile.File // record FILE: where successful commands go, named at record off
	json      bool          // the running command prints JSON (--json)

	tr         *transcript // output through one stream (render, cast)
	keepOutput int         // > 0: keep foreground children's output (a script has expect output)
	lastOutput []byte      // what the last foreground child printed, when kept
	haveOutput bool        // whether lastOutput was kept
}

// interp is the script runner's state: statuses, nesting, a lesson.
type interp struct {
	// Interactive is set in the REPL: errors do not stop anything and a
	// non-zero child status is reported.
	Interactive bool
	// PlainInput: lines are read without the line editor, which would
	// draw what is typed (pair sends it to the pages itself then).
	PlainInput bool

	status      int       // status of the last command
	prevStatus  int       // status of the command before the running one (for exit)
	childStatus int       // status of the last foreground child
	haveChild   bool      // whether any foreground child has run
	depth       int       // nesting of source
	lesson      lessonRun // what a lesson has said (goal, task, ...)
	// again: a later line of the running script spawns too, so a spawn
	// has the next child's cgroup made while its own child runs.
	again bool
}

// NewSession returns an empty session attached to the process's own files.
func NewSession() *Session {
	return &Session{
		Spec: &plan.Spec{},
		streams: streams{
			Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			Out: os.Stdout, Err: os.Stderr,
		},
	}
}

// Status is the status of the last command, what nsh exits with.
func (s *Session) Status() int { return s.status }

// commit replaces the spec with next if next is valid; a command changes
// the session only through here, so a refused command changes nothing.
func (s *Session) commit(next *plan.Spec) error {
	if err := isolate.Check(next); err != nil {
		return err
	}
	s.Spec = next
	return nil
}

// explain prints a kernel-facing step when explain is on.
func (s *Session) explain(step string) {
	if s.Explain {
		fmt.Fprintf(s.Err, "+ %s\n", step)
	}
}

// stepper is explain for package isolate, nil when explain is off: then
// the child stage does not report each step (a message, and its reading,
// per step of every spawn).
func (s *Session) stepper() func(string) {
	if !s.Explain {
		return nil
	}
	return s.explain
}

// ExitError asks nsh to exit with Code.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// ScriptError is an nsh error at a position: FILE:LINE: message.
type ScriptError struct {
	Pos string
	Err error
}

func (e *ScriptError) Error() string { return e.Pos + ": " + e.Err.Error() }
func (e *ScriptError) Unwrap() error { return e.Err }

// Exec runs one command.
func (s *Session) Exec(words []string) error {
	if len(words) == 0 {
		return nil
	}
	c, ok := Lookup(words[0])
	if !ok {
		s.prevStatus, s.status = s.status, 2
		return unknownCommand(words[0])
	}
	s.prevStatus, s.status = s.status, 0
	var err error
	args := words[1:]
	rest, asked := takeFlag(args, "--json")
	if asked && c.JSON != nil && c.JSON(rest) {
		args, s.json = rest, true
		defer func() { s.json = false }()
	}
	if asked && !s.json {
		err = usageError(c, "--json is for the forms that print a report (docs/json.md lists them)")
	} else if len(args) > 0 && takesNothing(c) {
		// Every command refuses what it does not take.
		err = usageError(c, fmt.Sprintf("it takes no arguments, and got %q", args))
	} else {
		err = c.Run(s, c, args)
	}
	if err == nil {
		s.recordCommand(words)
	}
	if s.pair.Load() != nil {
		s.pairPanel()
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		ue.narrow(words[1:])
	}
	var exit *ExitError
	if err != nil && !errors.As(err, &exit) {
		s.status = 2
		err = remedy(err)
		if !strings.HasPrefix(err.Error(), c.Name+":") && !strings.HasPrefix(err.Error(), c.Name+" ") && !errors.As(err, new(*ScriptError)) {
			err = fmt.Errorf("%s: %w", c.Name, err)
		}
		if s.json {
			// A program reading the output gets a document too.
			s.emit(jsonError{Error: err.Error(), Command: c.Name, ExitCode: 2})
		}
	}
	return err
}

// jsonError is what --json prints for a refused or failed command.
type jsonError struct {
	Error    string `json:"error"`
	Command  string `json:"command"`
	ExitCode int    `json:"exit_code"` // nsh's own, as docker's ExitCode
}

// emit prints v as the command's one JSON document.
func (s *Session) emit(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = s.Out.Write(append(b, '\n'))
	return err
}

// RunScript runs a whole script in this session. The first nsh error
// stops it and comes back as a *ScriptError naming NAME:LINE; `exit`
// comes back as *ExitError.
func (s *Session) RunScript(name, src string) error {
	stmts, err := parseScript(name, src, ParseLesson)
	s.ready(err == nil && spawns(stmts))
	if err != nil {
		s.status = 2
		return err
	}
	if hasExpectOutput(stmts) {
		s.keepOutput++
		defer func() { s.keepOutput-- }()
	}
	// The last line that spawns: no line after it needs a cgroup ahead.
	lastSpawn := -1
	for i, st := range stmts {
		if w, _, _ := Unwrap(st); len(w) > 0 && w[0] == "spawn" {
			lastSpawn = i
		}
	}
	defer func(again bool) { s.again = again }(s.again)
	paced := s.paced()
	for i, st := range stmts {
		s.again = i < lastSpawn
		if st.Prose != "" {
			// A #: line is said, as echo says it (a lesson makes it a
			// paragraph).
			fmt.Fprintln(s.Out, strings.TrimSuffix(st.Prose, "\n"))
			if paced {
				s.pauseToRead(st.Prose)
			}
			continue
		}
		words, text, _ := Unwrap(st)
		shown := paced && !HiddenInLessons(st.Words)
		var before int
		if shown {
			// A recording shows each command at its prompt, typed;
			// narration (note, echo) is said, as a page says it.
			if !narration(st.Words) {
				s.typeStatement(text)
			}
			before = s.linesShown()
		}
		err := s.Exec(words)
		if shown {
			s.pauseAfter(st.Words, s.linesShown()-before)
		}
		if err != nil {
			var exit *ExitError
			var se *ScriptError
			if errors.As(err, &exit) || errors.As(err, &se) {
				return err
			}
			return &ScriptError{Pos: fmt.Sprintf("%s:%d", name, st.Line), Err: err}
		}
	}
	return nil
}

// ready does Ready, once. When the script will spawn, it goes with what
// the first spawn needs (cgroup detection, the janitor, the orphan
// reaper) onto goroutines of their own while nsh parses and plans, and
// every spawn waits for them: a one-shot no longer does them one after
// the other on its way to the child.
func (s *Session) ready(spawning bool) {
	f := s.Ready
	s.Ready = nil
	if spawning {
		isolate.Prepare(f)
	} else if f != nil {
		f()
	}
}

// spawns says whether a script starts a child.
func spawns(stmts []Stmt) bool {
	for _, st := range stmts {
		if w, _, _ := Unwrap(st); len(w) > 0 && w[0] == "spawn" {
			return true
		}
	}
	return false
}

// hasExpectOutput says whether a script checks its children's output,
// which is then kept.
func hasExpectOutput(stmts []Stmt) bool {
	for _, st := range stmts {
		if len(st.Words) > 1 && (st.Words[0] == "expect" || st.Words[0] == "check") && st.Words[1] == "output" {
			return true
		}
	}
	return false
}

// parseScript parses a whole script with parse; a syntax error comes back
// as a *ScriptError naming NAME:LINE.
func parseScript(name, src string, parse func(string) ([]Stmt, error)) ([]Stmt, error) {
	stmts, err := parse(src)
	if err == ErrIncomplete {
		err = nil // a trailing backslash at the end of a file continues nothing
	}
	if err != nil {
		var pe *ParseError
		line := 0
		if errors.As(err, &pe) {
			line = pe.Line
		}
		return nil, &ScriptError{Pos: fmt.Sprintf("%s:%d", name, line), Err: err}
	}
	return stmts, nil
}
