package commands

import (
	"slices"
	"strings"
	"time"
)

// A script recorded as a cast (nsh --cast FILE.cast SCRIPT) is a lesson
// someone will watch: it runs at full speed, but its recording plays at a
// person's pace. Each command is typed, each step's output stays on the
// screen long enough to read, a note is held as a heading is, and expect
// lines are checked without being shown, as on the lesson's page. The
// pace lives in the cast's timing (cast.Writer.Type, Pause): nothing in
// the real run waits, and asciinema play --speed and -i work on it as on
// any recording.

// Reading pace: what a pause after each kind of step lasts.
const (
	readAfterCommand = 700 * time.Millisecond // the least a command's result stays
	readPerLine      = 120 * time.Millisecond // more for each line it printed
	readPerWord      = 240 * time.Millisecond // prose: about 250 words a minute
	readNote         = 2500 * time.Millisecond
	readMax          = 4500 * time.Millisecond
)

// paced says whether the script's statements are recorded at a person's
// pace: a cast is being made of a script's own lines.
func (s *Session) paced() bool { return s.Casting() && s.depth == 0 }

// typeStatement shows a statement at its prompt: on the terminal at once,
// in the recording typed.
func (s *Session) typeStatement(text string) {
	prompt := s.Prompt()
	s.Aside(prompt + text + "\n")
	s.tr.cast.Type(time.Now(), prompt, text)
}

// linesShown is how many lines the recording holds so far.
func (s *Session) linesShown() int {
	s.syncOutput()
	return s.tr.cast.Lines()
}

// pauseAfter holds the screen after a statement: words is the statement,
// printed how many lines it printed.
func (s *Session) pauseAfter(words []string, printed int) {
	s.syncOutput()
	d := readAfterCommand + time.Duration(printed)*readPerLine
	switch {
	case len(words) > 0 && words[0] == "note":
		d = readNote
	case len(words) > 0 && narration(words):
		d = readingTime(strings.Join(words[1:], " "))
	}
	s.tr.cast.Pause(min(d, readMax))
}

// pauseToRead holds the screen after prose (a #: line).
func (s *Session) pauseToRead(prose string) {
	s.syncOutput()
	s.tr.cast.Pause(readingTime(prose))
}

func readingTime(text string) time.Duration {
	return min(max(time.Duration(len(strings.Fields(text)))*readPerWord, readAfterCommand), readMax)
}

// narration says whether a statement is the lesson speaking (note, echo):
// a page makes it a heading or prose, a recording shows what it says
// without typing it.
func narration(words []string) bool {
	return len(words) > 0 && slices.Contains([]string{"note", "echo", "goal", "summary", "task"}, words[0])
}

// HiddenInLessons says whether a statement is one the reader does not
// see: an expect or an exercise's check, which a page, a recording and
// --step run but do not show, a hint (a page folds it away; nsh --learn
// gives it when asked), and what a lesson needs (said only when missing;
// a page says it in prose).
func HiddenInLessons(words []string) bool {
	return len(words) > 0 && (words[0] == "expect" || words[0] == "check" || words[0] == "hint" || words[0] == "needs")
}
