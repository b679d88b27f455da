package repl

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"nsh/commands"
)

// Step runs a script one command at a time for a live demonstration: it
// shows the prompt and the command, waits for Enter, then runs it. s skips
// a command, q stops stepping. It returns true when the script ran to its
// end, false when the demonstrator stopped; the session keeps its state
// either way, for the REPL that follows.
func Step(s *commands.Session, name, src string, lr LineReader) (bool, error) {
	stmts, err := commands.Parse(src)
	if err == commands.ErrIncomplete {
		err = nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	s.Interactive = true
	for i, st := range stmts {
		text := strings.Join(quoteAll(st.Words), " ")
		// One prompt: a line editor redraws its line from the start.
		answer, err := lr.Readline(fmt.Sprintf("%s%s   [%d/%d Enter runs it, s skips, q stops] ", s.Prompt(), text, i+1, len(stmts)))
		switch {
		case errors.Is(err, ErrInterrupt), err == io.EOF:
			return false, nil
		case err != nil:
			return false, err
		}
		switch strings.TrimSpace(answer) {
		case "q":
			return false, nil
		case "s":
			continue
		}
		if err := s.Exec(st.Words); err != nil {
			var exit *commands.ExitError
			if errors.As(err, &exit) {
				return true, err
			}
			fmt.Fprintf(s.Err, "error: %s:%d: %v\n", name, st.Line, err)
		}
	}
	return true, nil
}

func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = commands.Quote(w)
	}
	return out
}
