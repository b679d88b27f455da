// Package learn keeps what nsh --learn needs besides the REPL: the
// lessons a learner may start (nsh's own, built in, and files named on
// the command line), what each holds (its title, its exercises, what it
// needs), and the learner's progress, kept across runs in
// $XDG_STATE_HOME/nsh/learn.json.
package learn

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"nsh/commands"
	"nsh/internal/ownfile"
	"nsh/scripts"
)

// Lesson is one lesson a learner may start.
type Lesson struct {
	Name  string // "01-namespaces", or the file's absolute path
	Title string
	Src   string
	Tasks int    // its exercises
	Needs string // why it needs root, "" when it runs as any user
}

// Key is the lesson's name in the progress file.
func (l Lesson) Key() string { return l.Name }

// Parse reads a lesson's source: name is how it is known.
func Parse(name, src string) (Lesson, error) {
	stmts, err := commands.ParseLesson(src)
	if err == commands.ErrIncomplete {
		err = nil
	}
	if err != nil {
		return Lesson{}, fmt.Errorf("%s: %w", name, err)
	}
	l := Lesson{Name: name, Src: src, Title: commands.LessonTitle(name, src)}
	for _, st := range stmts {
		switch {
		case len(st.Words) > 0 && st.Words[0] == "task":
			l.Tasks++
		case len(st.Words) > 2 && st.Words[0] == "needs" && st.Words[1] == "root":
			l.Needs = strings.Join(st.Words[2:], " ")
		}
	}
	return l, nil
}

// Builtin lists nsh's own lessons, built into it.
func Builtin() ([]Lesson, error) { return builtinIn(scripts.FS) }

// builtinIn lists the NN-*.nsh files at the top of fsys.
func builtinIn(fsys fs.FS) ([]Lesson, error) {
	names, err := fs.Glob(fsys, "*.nsh")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Lesson
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		l, err := Parse(strings.TrimSuffix(path.Base(n), ".nsh"), string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// tourSrc is help tour at the REPL: the tour as a lesson.
//
//go:embed tour.nsh
var tourSrc string

// Find is the lesson arg names: a built-in one by its number (03) or
// name (03-cgroups), the tour, else a lesson file.
func Find(builtin []Lesson, arg string) (Lesson, error) {
	if arg == "tour" {
		return Parse("tour", tourSrc)
	}
	for _, l := range builtin {
		if l.Name == arg || strings.HasPrefix(l.Name, arg+"-") {
			return l, nil
		}
	}
	if !strings.HasSuffix(arg, ".nsh") && !strings.Contains(arg, "/") {
		var nums []string
		for _, l := range builtin {
			num, _, _ := strings.Cut(l.Name, "-")
			nums = append(nums, num)
		}
		return Lesson{}, fmt.Errorf("no lesson %q: give one of %s, or a lesson file (FILE.nsh)", arg, strings.Join(nums, " "))
	}
	return Load(arg)
}

// Load reads a lesson file the learner named.
func Load(file string) (Lesson, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return Lesson{}, err
	}
	b, err := ownfile.ReadFile(file)
	if err != nil {
		return Lesson{}, fmt.Errorf("read the lesson: %w", err)
	}
	l, err := Parse(abs, string(b))
	if err != nil {
		return Lesson{}, err
	}
	if l.Tasks == 0 {
		return l, fmt.Errorf("%s has no exercises (task lines): run it with nsh %s, or see docs/lessons.md for how to write them", file, file)
	}
	return l, nil
}

// StateDir is where nsh keeps what lasts between runs for this user
// (history, progress): $XDG_STATE_HOME/nsh, or ~/.local/state/nsh. It is
// made if missing; "" when there is no home to keep it in.
func StateDir() string {
	base := os.Getenv("XDG_STATE_HOME")
	// The XDG spec: a relative path is invalid and is ignored.
	if !filepath.IsAbs(base) {
		base = ""
	}
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return ""
		}
		// Never create a home directory: HOME=/no-home means no state.
		if st, err := os.Stat(home); err != nil || !st.IsDir() {
			return ""
		}
		base = filepath.Join(home, ".local", "state")
	}
	dir := filepath.Join(base, "nsh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	return dir
}

// Progress is what a learner has done, lesson by lesson.
type Progress struct {
	path    string
	Lessons map[string]*State `json:"lessons"`
}

// State is one lesson's progress.
type State struct {
	Done []int `json:"done"` // exercises passed, 1-based
	At   int   `json:"at"`   // the exercise to resume at, 1-based; 0: from the start
}

// Open reads the learner's progress; none yet is empty progress. Without
// a state directory, progress lives only as long as nsh.
func Open() (*Progress, error) {
	p := &Progress{Lessons: map[string]*State{}}
	dir := StateDir()
	if dir == "" {
		return p, nil
	}
	p.path = filepath.Join(dir, "learn.json")
	b, err := ownfile.ReadFile(p.path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the progress: %w", err)
	}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("read the progress in %s: %w (remove it to start again)", p.path, err)
	}
	if p.Lessons == nil {
		p.Lessons = map[string]*State{}
	}
	return p, nil
}

// Files are the lesson files the learner has begun (by absolute path).
func (p *Progress) Files() []string {
	var out []string
	for k := range p.Lessons {
		if filepath.IsAbs(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Of is a lesson's progress, made when first asked.
func (p *Progress) Of(l Lesson) *State {
	st := p.Lessons[l.Key()]
	if st == nil {
		st = &State{}
		p.Lessons[l.Key()] = st
	}
	return st
}

// Save writes the progress (nsh's own file: it replaces only its own).
func (p *Progress) Save() error {
	if p.path == "" {
		return nil
	}
	b, err := ownfile.JSON(p, "nsh --learn: what you have done; remove it to start again")
	if err != nil {
		return err
	}
	if err := ownfile.WriteFile(p.path, b, 0o600, ownfile.ReplaceOwn); err != nil {
		return fmt.Errorf("save the progress: %w", err)
	}
	return nil
}

// Pass marks exercise n (1-based) done.
func (st *State) Pass(n int) {
	for _, d := range st.Done {
		if d == n {
			return
		}
	}
	st.Done = append(st.Done, n)
	sort.Ints(st.Done)
}

// Passed says whether exercise n is done.
func (st *State) Passed(n int) bool {
	for _, d := range st.Done {
		if d == n {
			return true
		}
	}
	return false
}

// List writes the lessons with the learner's progress.
func List(w interface{ Write([]byte) (int, error) }, lessons []Lesson, p *Progress) {
	for _, l := range lessons {
		st := p.Of(l)
		mark := " "
		switch {
		case l.Tasks > 0 && len(st.Done) == l.Tasks:
			mark = "✓"
		case len(st.Done) > 0 || st.At > 0:
			mark = "…"
		}
		name := l.Name
		if filepath.IsAbs(name) {
			name = filepath.Base(name)
		}
		extra := ""
		if l.Needs != "" && os.Geteuid() != 0 {
			extra = "  (needs root)"
		}
		fmt.Fprintf(w, "%s %-22s %d/%d  %s%s\n", mark, name, len(st.Done), l.Tasks, l.Title, extra)
	}
}
