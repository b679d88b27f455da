package commands

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"nsh/export"
	"nsh/isolate/cgroup"
	"nsh/lesson"
)

// RenderOptions say what a rendered lesson shows besides the commands.
type RenderOptions struct {
	Explain   bool   // each command's kernel-facing steps (explain on)
	WithTools bool   // after each spawn, the same with unshare, nsenter, setpriv
	Version   string // nsh's, for the header
	// Picture keeps a picture a draw line made (an SVG) beside the page
	// and returns the link to it; nil: a draw line shows its text.
	Picture func(svg []byte) (link string, err error)
}

// Render runs a script in this session and writes it as a Markdown
// lesson: `note` is a heading, `echo` and `#:` comments are paragraphs,
// goal and summary lines are lists, a task an exercise with its hints
// and its solution folded away, every other command is shown at its
// prompt with its real output, and `expect` and `check` are checked, not
// shown. The first nsh error, a failing expect
// included, stops it as a *ScriptError naming FILE:LINE.
func (s *Session) Render(name, src string, doc *lesson.Doc, opt RenderOptions) error {
	stmts, err := parseScript(name, src, ParseLesson)
	if err != nil {
		return err
	}
	if err := s.startTranscript(nil); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	defer s.stopTranscript()
	s.tr.render = true
	s.Explain = s.Explain || opt.Explain
	doc.Title(LessonTitle(name, src), renderFacts(name, opt.Version))
	for _, st := range stmts {
		if st.Prose != "" {
			doc.Prose(st.Prose)
			continue
		}
		prompt := s.Prompt()
		s.lastSpawn, s.lastEnter = nil, nil
		s.picture, s.drawn = opt.Picture, nil
		words, text, solution := Unwrap(st)
		err := s.Exec(words)
		s.picture = nil
		out := s.takeOutput()
		var exit *ExitError
		if errors.As(err, &exit) {
			return err
		}
		if err != nil {
			var se *ScriptError
			if errors.As(err, &se) {
				return err
			}
			return &ScriptError{Pos: fmt.Sprintf("%s:%d", name, st.Line), Err: err}
		}
		switch {
		case solution:
			if s.status != 0 {
				out = append(out, fmt.Sprintf("[status %d]\n", s.status)...)
			}
			doc.Solution(prompt, text, out)
			continue
		}
		switch st.Words[0] {
		case "goal", "summary":
			doc.Item(listHeadings[st.Words[0]], strings.Join(st.Words[1:], " "))
		case "task":
			doc.Task(strings.Join(st.Words[1:], " "))
		case "hint":
			doc.Hint(strings.Join(st.Words[1:], " "))
		case "check":
			// Checked, as expect is.
		case "needs":
			doc.Prose(fmt.Sprintf("This lesson needs %s: %s.", st.Words[1], strings.Join(st.Words[2:], " ")))
			doc.Prose("\n")
		case "note":
			doc.Heading(strings.Join(st.Words[1:], " "))
		case "echo":
			doc.Prose(strings.Join(st.Words[1:], " "))
			doc.Prose("\n")
		case "expect":
			// Checked; a lesson shows what happened, not the checks.
		case "draw":
			if d := s.drawn; d != nil {
				// The page shows the picture; a recording, its text.
				doc.Command(prompt, st.Text, out)
				doc.Picture(d.alt, d.link)
				break
			}
			doc.Command(prompt, st.Text, out)
		default:
			if s.status != 0 {
				// As the REPL says it: a lesson shows a failing child's status.
				out = append(out, fmt.Sprintf("[status %d]\n", s.status)...)
			}
			doc.Command(prompt, st.Text, out)
			switch {
			case !opt.WithTools:
			case s.lastSpawn != nil:
				if line, err := export.Command(s.lastSpawn, s.lastArgs); err == nil && line != "" {
					doc.Aside("The same with the standard tools:", "sh", line)
				}
			case s.lastEnter != nil:
				e := s.lastEnter
				doc.Aside("The same with the standard tools:", "sh", export.Nsenter(e.pid, e.types, e.args))
			}
		}
	}
	return nil
}

// LessonTitle is the script's first comment line, else its name.
func LessonTitle(name, src string) string {
	for _, l := range strings.Split(src, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#!") || l == "" {
			continue
		}
		if t, ok := strings.CutPrefix(l, "# "); ok && !strings.HasPrefix(l, "#:") {
			return strings.TrimSuffix(strings.TrimSpace(t), ".")
		}
		break
	}
	return strings.TrimSuffix(filepath.Base(name), ".nsh")
}

// renderFacts say where and when a lesson was rendered: its output is
// true there.
func renderFacts(name, version string) []string {
	var u unix.Utsname
	unix.Uname(&u)
	kernel := unix.ByteSliceToString(u.Release[:])
	layout := "none found"
	if h, err := cgroup.Detect(); err == nil {
		var v1 []string
		v2 := ""
		for _, hi := range h.Hierarchies {
			if hi.V2 {
				v2 = "cgroup2 at " + hi.Mount
			} else {
				v1 = append(v1, hi.Controllers...)
			}
		}
		switch h.Mode {
		case cgroup.V2:
			layout = "v2 (" + v2 + ")"
		case cgroup.V1:
			layout = "v1 (" + strings.Join(v1, ", ") + ")"
		default:
			layout = "hybrid (v1 " + strings.Join(v1, ", ") + "; " + v2 + ")"
		}
	}
	who := "root"
	if os.Geteuid() != 0 {
		who = fmt.Sprintf("uid %d", os.Geteuid())
	}
	return []string{
		fmt.Sprintf("Rendered by `nsh --render md %s` (nsh %s) on %s, as %s.", name, version, time.Now().Format("2006-01-02"), who),
		fmt.Sprintf("Kernel: Linux %s (%s); cgroups: %s.", kernel, runtime.GOARCH, layout),
		"Every command below ran on that machine and printed what follows it; every check in the script held.",
	}
}

// entered is what an enter did, for a lesson to show as nsenter.
type entered struct {
	pid   int
	types []string // none: all of them
	args  []string
}
