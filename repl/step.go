package repl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"nsh/commands"
	"nsh/internal/term"
)

// Step runs a script one command at a time for a live demonstration: it
// shows the prompt and the command, waits for a key, then runs it: Enter
// or Space runs it, s skips it, q stops stepping; any other key is
// ignored, with a hint. On a terminal the key is read alone (raw mode, no
// Enter needed) and the line is drawn once, however long; elsewhere a
// line is read. It returns true when the script ran to its end, false
// when the demonstrator stopped; the session keeps its state either way,
// for the REPL that follows.
func Step(s *commands.Session, name, src string, lr LineReader) (bool, error) {
	stmts, err := commands.ParseLesson(src)
	if err == commands.ErrIncomplete {
		err = nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	s.Interactive = true
	// run runs a statement: an error is shown and the demo goes on; only
	// exit ends it.
	run := func(st commands.Stmt) error {
		words, _, _ := commands.Unwrap(st)
		err := s.Exec(words)
		var exit *commands.ExitError
		if errors.As(err, &exit) {
			return err
		}
		if err != nil {
			fmt.Fprintf(s.Err, "error: %s:%d: %v\n", name, st.Line, err)
		}
		return nil
	}
	keys := newKeyReader(lr)
	total, i := 0, -1
	for _, st := range stmts {
		if st.Prose == "" && !commands.HiddenInLessons(st.Words) {
			total++
		}
	}
	for _, st := range stmts {
		if st.Prose != "" {
			fmt.Fprintln(s.Out, strings.TrimSuffix(st.Prose, "\n")) // said, not stepped
			continue
		}
		if commands.HiddenInLessons(st.Words) {
			// A check: run, not shown or stepped, as on the page.
			if err := run(st); err != nil {
				return true, err
			}
			continue
		}
		i++
		words, _, _ := commands.Unwrap(st)
		text := strings.Join(quoteAll(words), " ")
		// The hint is for the demonstrator, not for a recording.
		fmt.Fprintf(s.Out, "%s%s", s.Prompt(), text)
		s.Aside(fmt.Sprintf("   [%d/%d Enter runs it, s skips, q stops] ", i+1, total))
		key, err := keys.next(s)
		fmt.Fprintln(s.Out)
		switch {
		case errors.Is(err, ErrInterrupt), err == io.EOF:
			return false, nil
		case err != nil:
			return false, err
		}
		switch key {
		case 'q':
			return false, nil
		case 's':
			continue
		}
		if err := run(st); err != nil {
			return true, err
		}
	}
	return true, nil
}

// keyReader reads the demonstrator's answer: one key on a terminal,
// a line otherwise.
type keyReader struct {
	tty *os.File
	lr  LineReader
}

func newKeyReader(lr LineReader) *keyReader {
	if term.IsTerminal(os.Stdin) {
		return &keyReader{tty: os.Stdin, lr: lr}
	}
	return &keyReader{lr: lr}
}

// next returns '\n' (run), 's', 'q', or an error; other keys are ignored
// with a hint.
func (k *keyReader) next(s *commands.Session) (byte, error) {
	if k.tty == nil {
		line, err := k.lr.Readline("")
		if err != nil {
			return 0, err
		}
		switch strings.TrimSpace(line) {
		case "q":
			return 'q', nil
		case "s":
			return 's', nil
		}
		return '\n', nil
	}
	old, err := term.Keys(int(k.tty.Fd()), true, 1, 0)
	if err != nil {
		return 0, err
	}
	// The command runs with the terminal as it was.
	defer old.Restore()
	buf := make([]byte, 1)
	hinted := false
	for {
		n, err := k.tty.Read(buf)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, io.EOF
		}
		switch b := buf[0]; b {
		case '\r', '\n', ' ':
			return '\n', nil
		case 's', 'q':
			return b, nil
		case 3: // Ctrl-C (ISIG is off only for ICANON's sake: it stays on)
			return 0, ErrInterrupt
		case 4: // Ctrl-D
			return 0, io.EOF
		default:
			// Said once per command; later stray keys only ring.
			if !hinted {
				fmt.Fprint(s.Out, "\a(Enter or Space runs it, s skips, q stops) ")
				hinted = true
			} else {
				fmt.Fprint(s.Out, "\a")
			}
		}
	}
}

func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = commands.Quote(w)
	}
	return out
}
