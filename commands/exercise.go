package commands

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"nsh/scripts"
)

// A lesson is a script that also says what it teaches: goal lines (what
// the reader will learn), summary lines, and exercises. An exercise is a
// task line, then its hints, its reference solution (solution lines, each
// one command) and its checks (check lines, each one form of expect):
//
//	task "Give a child the hostname box, and leave the host's as it is"
//	hint "A hostname lives in a uts namespace."
//	solution unshare uts
//	solution hostname box
//	solution spawn -d sleep inf
//	check hostname @last box
//	check ns @last differs uts
//
// A plain run, --render md, --cast and --step run the solution and its
// checks, so CI proves every exercise can be solved; nsh --learn shows the
// task and hides the rest, and the learner's own commands must pass the
// same checks.

// lessonRun is what a running lesson has said so far.
type lessonRun struct {
	list  string // the list being printed (goal, summary), "" after anything else
	tasks int    // tasks so far
	// checking is the task being checked by the learner (nsh --learn),
	// nil in a plain run.
	learner Learner
}

// Learner is the lesson a learner is doing (nsh --learn): the verbs that
// are bare forms of the lesson's lines go to it.
type Learner interface {
	Check() error    // check: the task's checks against the learner's state
	Hint() error     // hint: the next hint
	Solution() error // solution: the reference solution
	Skip() error     // skip: on to the next exercise, the solution run
	Back() error     // back: the exercise before
	Where() error    // where: the lesson, the exercise, the progress
}

// SetLearner hands the bare lesson verbs (check, hint, solution) to l; nil
// takes them back.
func (s *Session) SetLearner(l Learner) { s.lesson.learner = l }

// listHeadings are the headings a run of goal or summary lines gets.
var listHeadings = map[string]string{"goal": "What you will learn", "summary": "In short"}

func init() {
	later("goal summary skip back where learn needs task hint solution check", func() {
		register(
			&Command{
				Name: "goal", Group: "lessons",
				Usage:   []string{"goal TEXT..."},
				Summary: "in a lesson: one thing the reader will learn (a page lists them under its title)",
				Example: "goal \"what a namespace is, and which ones a child shares\"",
				Run:     func(s *Session, c *Command, args []string) error { return listItem(s, "goal", args) },
			},
			&Command{
				Name: "summary", Group: "lessons",
				Usage:   []string{"summary TEXT..."},
				Summary: "in a lesson: one point of its summary",
				Example: "summary \"a child shares every namespace nsh does not unshare\"",
				Run:     func(s *Session, c *Command, args []string) error { return listItem(s, "summary", args) },
			},
			learnVerb("skip", "in nsh --learn: leave this exercise undone; its solution runs, so the lesson can go on", func(l Learner) error { return l.Skip() }),
			learnVerb("back", "in nsh --learn: the exercise before this one", func(l Learner) error { return l.Back() }),
			learnVerb("where", "in nsh --learn: the lesson, the exercise and what is done", func(l Learner) error { return l.Where() }),
			&Command{
				Name: "learn", Group: "lessons",
				Usage:   []string{"learn", "learn NN|FILE.nsh"},
				Summary: "the lessons and your progress; learn NN starts one here, its exercises checked against your children",
				Example: "learn 01",
				Run: func(s *Session, c *Command, args []string) error {
					if s.Learn == nil {
						return fmt.Errorf("learn: lessons are for the interactive shell: nsh --learn [NN]")
					}
					if len(args) > 1 {
						return usageError(c, "name one lesson")
					}
					arg := ""
					if len(args) == 1 {
						arg = args[0]
					}
					return s.Learn(arg)
				},
				Complete: func(s *Session, args []string, partial string) []string {
					if len(args) > 0 {
						return nil
					}
					// The lessons built into nsh, by number, the tour, and files.
					names, _ := fs.Glob(scripts.FS, "*.nsh")
					out := []string{"tour"}
					for _, n := range names {
						num, _, _ := strings.Cut(n, "-")
						out = append(out, num)
					}
					return append(out, completeFiles(nil, partial)...)
				},
			},
			&Command{
				Name: "needs", Group: "lessons",
				Usage:   []string{"needs root WHY..."},
				Summary: "in a lesson: what it needs to run; without it, a plain run says so and ends, passing, before its first step",
				Help: "A lesson that makes cgroups, file capabilities, device nodes or a veth needs root; one whose\n" +
					"namespaces all come with a user namespace of its own runs as any user, and says nothing.\n" +
					"Without what it needs, --render and --cast fail (no page, no recording is better than half of one).",
				Example: "needs root \"it makes cgroups\"",
				Run:     runNeeds,
			},
			&Command{
				Name: "task", Group: "lessons",
				Usage:   []string{"task TEXT..."},
				Summary: "in a lesson: an exercise; the hint, solution and check lines after it belong to it",
				Help: "A plain run, --render and --cast run the solution lines and the checks, so every exercise is proved\n" +
					"solvable; nsh --learn shows the task, hides the rest, and checks what the learner does (docs/lessons.md).",
				Example: "task \"Give a child the hostname box without changing the host's\"",
				Run: func(s *Session, c *Command, args []string) error {
					if len(args) == 0 {
						c, _ := Lookup("task")
						return usageError(c, "say what the learner is to do")
					}
					s.lesson.list = ""
					s.lesson.tasks++
					fmt.Fprintf(s.Out, "\n== Exercise %d: %s\n", s.lesson.tasks, strings.Join(args, " "))
					return nil
				},
			},
			&Command{
				Name: "hint", Group: "lessons",
				Usage:   []string{"hint TEXT...", "hint"},
				Summary: "in a lesson: a hint for the task above (nsh --learn gives them one at a time; bare hint asks for the next)",
				Example: "hint \"A hostname lives in a uts namespace.\"",
				Run:     lessonLine("hint", Learner.Hint, func(*Session, []string) error { return nil }),
			},
			&Command{
				Name: "solution", Group: "lessons",
				Usage:   []string{"solution COMMAND...", "solution"},
				Summary: "in a lesson: one command of the task's reference solution (run in a plain run; bare solution shows it)",
				Example: "solution hostname box",
				// Typed at the prompt, a solution line runs its command; a
				// script's solution lines are unwrapped before they run.
				Run: lessonLine("solution", Learner.Solution, func(s *Session, args []string) error { return s.Exec(args) }),
			},
			&Command{
				Name: "check", Group: "lessons",
				Usage:    []string{"check FORM...", "check"},
				Summary:  "in a lesson: a check of the task above, any form of expect; bare check runs the task's checks",
				Example:  "check hostname @last box",
				Run:      lessonLine("check", Learner.Check, func(s *Session, args []string) error { return runCheck(s, "check", args) }),
				Complete: completeCheck,
			},
		)
	})
}

func listItem(s *Session, kind string, args []string) error {
	if len(args) == 0 {
		c, _ := Lookup(kind)
		return usageError(c, "say what")
	}
	if s.lesson.list != kind {
		fmt.Fprintf(s.Out, "\n== %s\n", listHeadings[kind])
		s.lesson.list = kind
	}
	fmt.Fprintf(s.Out, "  - %s\n", strings.Join(args, " "))
	return nil
}

// lessonLine runs a lesson's line that is also a learner's verb: bare,
// it asks the lesson being learnt (nsh --learn); with words, it is the
// script's line, which belongs under a task.
func lessonLine(verb string, bare func(Learner) error, line func(*Session, []string) error) func(*Session, *Command, []string) error {
	return func(s *Session, c *Command, args []string) error {
		if len(args) == 0 {
			if s.lesson.learner == nil {
				return notLearning(verb)
			}
			return bare(s.lesson.learner)
		}
		if err := inTask(s, verb); err != nil {
			return err
		}
		return line(s, args)
	}
}

func inTask(s *Session, verb string) error {
	if s.lesson.tasks == 0 {
		return fmt.Errorf("%s: no task above it: a lesson's %s lines follow a task line", verb, verb)
	}
	return nil
}

func notLearning(verb string) error {
	return fmt.Errorf("%s: no exercise is open: nsh --learn starts a lesson's exercises (a script's %s line says what it is)", verb, verb)
}

// Unwrap is the command a lesson's statement runs and its text as shown:
// a solution line runs (and shows) its command; solution says which.
func Unwrap(st Stmt) (words []string, text string, solution bool) {
	if len(st.Words) > 1 && st.Words[0] == "solution" {
		return st.Words[1:], strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(st.Text), "solution")), true
	}
	return st.Words, st.Text, false
}

func runNeeds(s *Session, c *Command, args []string) error {
	if len(args) < 2 || args[0] != "root" {
		c, _ := Lookup("needs")
		return usageError(c, "say root, and why")
	}
	if os.Geteuid() == 0 {
		return nil
	}
	why := strings.Join(args[1:], " ")
	msg := fmt.Sprintf("this lesson needs root (%s), and nsh runs as uid %d: run it as root (sudo nsh FILE)", why, os.Geteuid())
	if s.tr != nil {
		return errors.New(msg)
	}
	fmt.Fprintln(s.Err, msg)
	return &ExitError{Code: 0}
}

// learnVerb is a verb only a lesson done with nsh --learn answers.
func learnVerb(name, summary string, do func(Learner) error) *Command {
	return &Command{
		Name: name, Group: "lessons",
		Usage:   []string{name},
		Summary: summary,
		Example: name,
		Run: func(s *Session, c *Command, args []string) error {
			if s.lesson.learner == nil {
				return notLearning(name)
			}
			return do(s.lesson.learner)
		},
	}
}

// Check runs one check (a form of expect) for a learner's exercise.
func Check(s *Session, form []string) error { return runCheck(s, "check", form) }

// KeepOutput keeps what foreground children print, for checks on it (a
// lesson's learner types at the prompt, where it is otherwise not kept),
// until the returned func is called.
func (s *Session) KeepOutput() func() {
	s.keepOutput++
	return func() { s.keepOutput-- }
}
