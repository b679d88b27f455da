package repl

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"nsh/commands"
	"nsh/learn"
)

// A lesson done with nsh --learn is the lesson's script, run as a
// demonstration, that stops at each exercise: the learner types ordinary
// commands at the REPL's prompt until the exercise's checks pass on what
// they made (check), asking for hints, the solution, or to skip, as they
// like. The steps wait for Enter between them. Progress is saved at each
// exercise, so an interrupted lesson resumes where it stopped.

// Learn runs lesson l for a learner reading from lr; its status is nsh's.
func Learn(s *commands.Session, l learn.Lesson, p *learn.Progress, lr LineReader) int {
	defer catchInterrupt()()
	s.Interactive = true
	s.Learn = func(arg string) error { return learnHere(s, lr, arg) }
	return teach(s, l, p, lr)
}

// learnHere is the REPL's learn command: the list, or a lesson started
// in this session.
func learnHere(s *commands.Session, lr LineReader, arg string) error {
	builtin, err := learn.Builtin()
	if err != nil {
		return err
	}
	p, err := learn.Open()
	if err != nil {
		return err
	}
	if arg == "" {
		learn.List(s.Out, builtin, p)
		fmt.Fprintln(s.Out, "learn NN starts one (nsh --learn NN from a shell).")
		return nil
	}
	l, err := learn.Find(builtin, arg)
	if err != nil {
		return err
	}
	if l.Needs != "" && os.Geteuid() != 0 {
		return fmt.Errorf("learn: %s needs root (%s), and nsh runs as uid %d", l.Title, l.Needs, os.Geteuid())
	}
	if code := teach(s, l, p, lr); code != 0 {
		return &commands.ExitError{Code: code}
	}
	return nil
}

// exercise is one task of a lesson, as its lines say it.
type exercise struct {
	at, end  int // the task line's statement, and the first after its block
	text     string
	hints    []string
	solution []commands.Stmt
	checks   [][]string
}

// exercises finds a lesson's exercises: a task line, then its hint,
// solution and check lines.
func exercises(stmts []commands.Stmt) []exercise {
	var out []exercise
	for i := 0; i < len(stmts); i++ {
		st := stmts[i]
		if len(st.Words) == 0 || st.Words[0] != "task" {
			continue
		}
		e := exercise{at: i, text: strings.Join(st.Words[1:], " ")}
		j := i + 1
		for ; j < len(stmts); j++ {
			w := stmts[j].Words
			if len(w) == 0 {
				break
			}
			switch {
			case w[0] == "hint" && len(w) > 1:
				e.hints = append(e.hints, strings.Join(w[1:], " "))
			case w[0] == "solution" && len(w) > 1:
				e.solution = append(e.solution, stmts[j])
			case w[0] == "check" && len(w) > 1:
				e.checks = append(e.checks, w[1:])
			default:
				goto done
			}
		}
	done:
		e.end = j
		out = append(out, e)
		i = j - 1
	}
	return out
}

// teacher is a lesson being done: the commands.Learner of its exercises.
type teacher struct {
	s     *commands.Session
	l     learn.Lesson
	p     *learn.Progress
	st    *learn.State
	ex    []exercise
	cur   int    // the exercise open
	hints int    // hints given for it
	tried bool   // the learner has run check on it
	next  string // what ends it: done, skip, back
}

func teach(s *commands.Session, l learn.Lesson, p *learn.Progress, lr LineReader) int {
	if l.Needs != "" && os.Geteuid() != 0 {
		fmt.Fprintf(s.Err, "%s needs root (%s), and nsh runs as uid %d: start it as root (sudo nsh --learn ...)\n", l.Title, l.Needs, os.Geteuid())
		return 2
	}
	stmts, err := commands.ParseLesson(l.Src)
	if err == commands.ErrIncomplete {
		err = nil
	}
	if err != nil {
		fmt.Fprintf(s.Err, "error: %v\n", err)
		return 2
	}
	t := &teacher{s: s, l: l, p: p, st: p.Of(l), ex: exercises(stmts)}
	// The lesson's checks and the learner's look at what children print.
	defer s.KeepOutput()()
	fmt.Fprintf(s.Out, "\n# %s\n", l.Title)
	fmt.Fprintln(s.Out, "Each step runs as a demonstration; at each exercise the prompt is yours (Enter goes on, q stops).")
	resume := -1 // the statement from which the lesson is shown again
	if at := t.st.At; at > 1 && at <= len(t.ex) {
		resume = t.ex[at-1].at
		fmt.Fprintf(s.Out, "Resuming at exercise %d of %d: the steps before it run again, quietly.\n", at, len(t.ex))
	}
	shownNote := false
	for pc := 0; pc < len(stmts); {
		st := stmts[pc]
		if k := t.exerciseAt(pc); k >= 0 {
			e := t.ex[k]
			if pc < resume {
				t.quietly(func() {
					for _, sol := range e.solution {
						words, _, _ := commands.Unwrap(sol)
						s.Exec(words)
					}
				})
				pc = e.end
				continue
			}
			resume = -1
			switch how, code := t.open(k, lr); how {
			case "back":
				pc = t.ex[k-1].at
			case "quit":
				return code
			default:
				pc = e.end
			}
			continue
		}
		if pc < resume {
			t.quietly(func() { s.Exec(st.Words) })
			pc++
			continue
		}
		if len(st.Words) > 0 && st.Words[0] == "note" {
			if shownNote && !t.pause(lr) {
				t.save()
				return 0
			}
			shownNote = true
		}
		t.show(st)
		pc++
	}
	t.st.At = 0
	t.save()
	fmt.Fprintf(s.Out, "\nLesson done: %d of %d exercises. nsh --learn lists the lessons.\n", len(t.st.Done), len(t.ex))
	return 0
}

func (t *teacher) exerciseAt(pc int) int {
	for k, e := range t.ex {
		if e.at == pc {
			return k
		}
	}
	return -1
}

// show runs a statement of the lesson as a demonstration.
func (t *teacher) show(st commands.Stmt) {
	s := t.s
	if st.Prose != "" {
		fmt.Fprintln(s.Out, strings.TrimSuffix(st.Prose, "\n"))
		return
	}
	words := st.Words
	if !commands.HiddenInLessons(words) && !narrated(words) {
		fmt.Fprintf(s.Out, "%s%s\n", s.Prompt(), st.Text)
	}
	// A demonstration runs as a script does (top prints its lines and
	// returns rather than waiting for q); the learner's own commands are
	// the REPL's.
	s.Interactive = false
	defer func() { s.Interactive = true }()
	if err := s.Exec(words); err != nil {
		var exit *commands.ExitError
		if !errors.As(err, &exit) {
			fmt.Fprintf(s.Err, "error: %v (the lesson goes on)\n", err)
		}
	}
}

func narrated(words []string) bool {
	switch words[0] {
	case "note", "echo", "goal", "summary":
		return true
	}
	return false
}

// quietly runs f with nsh's and children's output thrown away.
func (t *teacher) quietly(f func()) {
	s := t.s
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		f()
		return
	}
	defer null.Close()
	out, errw, stdout, stderr := s.Out, s.Err, s.Stdout, s.Stderr
	s.Out, s.Err, s.Stdout, s.Stderr = null, null, null, null
	defer func() { s.Out, s.Err, s.Stdout, s.Stderr = out, errw, stdout, stderr }()
	f()
}

// pause waits for Enter before the next step; q or the end of input stops.
func (t *teacher) pause(lr LineReader) bool {
	line, err := lr.Readline("[Enter: next step, q: stop] ")
	return err == nil && strings.TrimSpace(line) != "q"
}

// open gives the learner exercise k: it ends when its checks pass, they
// skip it or go back, or the input ends (quit, with nsh's status).
func (t *teacher) open(k int, lr LineReader) (string, int) {
	e := t.ex[k]
	t.cur, t.hints, t.tried, t.next = k, 0, false, ""
	t.st.At = k + 1
	t.save()
	done := ""
	if t.st.Passed(k + 1) {
		done = " (done before)"
	}
	fmt.Fprintf(t.s.Out, "\n== Exercise %d of %d%s: %s\n", k+1, len(t.ex), done, e.text)
	fmt.Fprintln(t.s.Out, "Type nsh commands; check when you are done (also: hint, solution, skip, back, where).")
	t.s.SetLearner(t)
	defer t.s.SetLearner(nil)
	code, ended := loop(t.s, lr, func() bool { return t.next != "" })
	if t.next == "" || ended {
		t.save()
		return "quit", code
	}
	return t.next, 0
}

func (t *teacher) save() {
	if err := t.p.Save(); err != nil {
		fmt.Fprintf(t.s.Err, "learn: %v\n", err)
	}
}

// Check runs the exercise's checks against what the learner made.
func (t *teacher) Check() error {
	e := t.ex[t.cur]
	t.tried = true
	failed := 0
	for _, c := range e.checks {
		err := commands.Check(t.s, c)
		if err == nil {
			fmt.Fprintf(t.s.Out, "  ok       %s\n", strings.Join(quoteAll(c), " "))
			continue
		}
		failed++
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "check "+strings.Join(quoteAll(c), " ")+": ")
		fmt.Fprintf(t.s.Out, "  not yet  %s: %s\n", strings.Join(quoteAll(c), " "), msg)
	}
	if failed > 0 {
		fmt.Fprintf(t.s.Out, "%d of %d checks not yet passing: change the plan or the child, then check again (hint helps).\n", failed, len(e.checks))
		return nil
	}
	t.st.Pass(t.cur + 1)
	t.st.At = t.cur + 2
	t.save()
	fmt.Fprintf(t.s.Out, "Exercise %d done.\n", t.cur+1)
	t.next = "done"
	return nil
}

// Hint gives the next hint.
func (t *teacher) Hint() error {
	e := t.ex[t.cur]
	if t.hints >= len(e.hints) {
		fmt.Fprintln(t.s.Out, "No more hints: solution shows one way to do it.")
		return nil
	}
	fmt.Fprintf(t.s.Out, "Hint %d of %d: %s\n", t.hints+1, len(e.hints), e.hints[t.hints])
	t.hints++
	return nil
}

// Solution shows the reference solution, once the learner has tried.
func (t *teacher) Solution() error {
	if !t.tried {
		fmt.Fprintln(t.s.Out, "Try first: run check once, then solution shows one way to do it.")
		return nil
	}
	fmt.Fprintln(t.s.Out, "One way to do it:")
	for _, sol := range t.ex[t.cur].solution {
		_, text, _ := commands.Unwrap(sol)
		fmt.Fprintf(t.s.Out, "  %s\n", text)
	}
	return nil
}

// Skip leaves the exercise undone and runs its solution, so that the
// lesson after it finds what it expects.
func (t *teacher) Skip() error {
	fmt.Fprintln(t.s.Out, "Skipped; its solution runs, so the lesson can go on:")
	for _, sol := range t.ex[t.cur].solution {
		words, text, _ := commands.Unwrap(sol)
		fmt.Fprintf(t.s.Out, "%s%s\n", t.s.Prompt(), text)
		if err := t.s.Exec(words); err != nil {
			fmt.Fprintf(t.s.Err, "error: %v\n", err)
		}
	}
	t.next = "skip"
	return nil
}

// Back goes to the exercise before.
func (t *teacher) Back() error {
	if t.cur == 0 {
		fmt.Fprintln(t.s.Out, "This is the lesson's first exercise.")
		return nil
	}
	t.next = "back"
	return nil
}

// Where says where the learner is.
func (t *teacher) Where() error {
	fmt.Fprintf(t.s.Out, "%s: exercise %d of %d: %s\ndone: %d of %d\n", t.l.Title, t.cur+1, len(t.ex), t.ex[t.cur].text, len(t.st.Done), len(t.ex))
	return nil
}
