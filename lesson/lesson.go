// Package lesson writes a script's run as a Markdown lesson: headings,
// paragraphs, and console blocks with each command as it was typed at
// the prompt followed by what it printed.
package lesson

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// Doc is one lesson being written.
type Doc struct {
	w        io.Writer
	para     []string // the paragraph being gathered
	block    []string // the console block being gathered
	solution bool     // the block is an exercise's solution, folded away
	list     string   // the heading of the list being written (Item)
	tasks    int      // exercises so far
	hints    int      // hints of the exercise so far
	err      error
}

// New starts a lesson on w.
func New(w io.Writer) *Doc { return &Doc{w: w} }

// Title writes the lesson's title and the facts of where it was run.
func (d *Doc) Title(title string, facts []string) {
	d.flush()
	d.printf("# %s\n\n", title)
	for _, f := range facts {
		d.printf("> %s  \n", f)
	}
	if len(facts) > 0 {
		d.printf("\n")
	}
}

// Heading starts a step.
func (d *Doc) Heading(text string) {
	d.flush()
	d.printf("## %s\n\n", strings.TrimSpace(text))
}

// Prose adds a line to the current paragraph; "\n" ends the paragraph.
func (d *Doc) Prose(text string) {
	d.endList()
	d.endBlock()
	if text == "\n" {
		d.endPara()
		return
	}
	d.para = append(d.para, strings.TrimSpace(text))
}

// Command adds a command, as typed after prompt, and its output to the
// current console block.
func (d *Doc) Command(prompt, typed string, output []byte) {
	if d.solution {
		d.endBlock()
	}
	d.add(prompt, typed, output)
}

func (d *Doc) add(prompt, typed string, output []byte) {
	d.endList()
	d.endPara()
	lines := strings.Split(typed, "\n")
	d.block = append(d.block, prompt+lines[0])
	d.block = append(d.block, lines[1:]...)
	if out := Clean(output); out != "" {
		d.block = append(d.block, strings.Split(strings.TrimSuffix(out, "\n"), "\n")...)
	}
}

// Item adds a point to a list under heading (What you will learn, In
// short): the heading is written before its first point.
func (d *Doc) Item(heading, text string) {
	if d.list != heading {
		d.flush()
		d.printf("## %s\n\n", heading)
		d.list = heading
	}
	d.printf("- %s\n", strings.TrimSpace(text))
}

// Task starts an exercise; the first one starts the Exercises section.
func (d *Doc) Task(text string) {
	d.flush()
	if d.tasks == 0 {
		d.printf("## Exercises\n\n")
	}
	d.tasks++
	d.hints = 0
	d.printf("### Exercise %d\n\n%s\n\n", d.tasks, strings.TrimSpace(text))
}

// Hint adds a hint to the exercise, folded away until the reader opens it.
func (d *Doc) Hint(text string) {
	d.flush()
	d.hints++
	d.printf("<details><summary>Hint %d</summary>\n\n%s\n\n</details>\n\n", d.hints, strings.TrimSpace(text))
}

// Solution adds a command of the exercise's solution and its output; the
// solution's commands share one block, folded away.
func (d *Doc) Solution(prompt, typed string, output []byte) {
	if !d.solution {
		d.flush()
		d.solution = true
	}
	d.add(prompt, typed, output)
}

// Picture ends the console block and shows a picture (an SVG beside the
// page) under it, with alt as its text for who cannot see it.
func (d *Doc) Picture(alt, link string) {
	d.flush()
	d.printf("![%s](%s)\n\n", strings.ReplaceAll(alt, "]", ")"), link)
}

// Aside ends the console block and sets text apart under it, in a
// block of its own: label says what it is, lang how to colour it.
func (d *Doc) Aside(label, lang, text string) {
	d.flush()
	d.printf("%s\n\n", label)
	d.printf("%s\n\n", fenced(lang, strings.Split(strings.TrimSuffix(text, "\n"), "\n")))
}

// Close writes what is still gathered.
func (d *Doc) Close() error {
	d.flush()
	return d.err
}

func (d *Doc) flush() {
	d.endList()
	d.endPara()
	d.endBlock()
}

func (d *Doc) endList() {
	if d.list != "" {
		d.printf("\n")
		d.list = ""
	}
}

func (d *Doc) endPara() {
	if len(d.para) > 0 {
		d.printf("%s\n\n", strings.Join(d.para, " "))
		d.para = nil
	}
}

func (d *Doc) endBlock() {
	if len(d.block) > 0 && d.solution {
		d.printf("<details><summary>Solution</summary>\n\n%s\n\n</details>\n\n", fenced("console", d.block))
	} else if len(d.block) > 0 {
		d.printf("%s\n\n", fenced("console", d.block))
	}
	d.block, d.solution = nil, false
}

func (d *Doc) printf(format string, args ...any) {
	if d.err == nil {
		_, d.err = fmt.Fprintf(d.w, format, args...)
	}
}

// fenced puts lines in a code block whose fence is longer than any run
// of backticks in them, so output cannot end the block early.
func fenced(lang string, lines []string) string {
	longest := 0
	for _, l := range lines {
		for _, run := range backticksOnce().FindAllString(l, -1) {
			longest = max(longest, len(run))
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	return fence + lang + "\n" + strings.Join(lines, "\n") + "\n" + fence
}

// Compiled on first use: nsh starts for many things besides lessons.
var (
	backticksOnce = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("`+") })
	// Terminal control sequences: CSI (colours, cursor moves), OSC
	// (titles), and two-byte escapes. A page shows the text only.
	escapesOnce = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile("\x1b\\[[0-?]*[ -/]*[@-~]|\x1b\\][^\x07\x1b]*(\x07|\x1b\\\\)|\x1b[@-Z\\\\-_]")
	})
)

// Clean turns terminal output into text for a page: control sequences
// go, CR LF becomes LF, a line redrawn with CR keeps its last drawing,
// and other control characters but tab go.
func Clean(b []byte) string {
	s := escapesOnce().ReplaceAllString(string(b), "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if j := strings.LastIndex(l, "\r"); j >= 0 {
			l = l[j+1:]
		}
		lines[i] = strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return -1
			}
			return r
		}, l)
	}
	return strings.Join(lines, "\n")
}
