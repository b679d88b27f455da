package repl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"nsh/commands"
)

// Run reads commands from lr until end of input or exit, printing errors
// as `error: message` and going on. It returns nsh's exit status.
func Run(s *commands.Session, lr LineReader) int {
	defer catchInterrupt()()
	s.Interactive = true
	s.Learn = func(arg string) error { return learnHere(s, lr, arg) }
	code, _ := loop(s, lr, nil)
	return code
}

// catchInterrupt keeps Ctrl-C between reads from ending nsh; catching
// SIGINT (rather than ignoring it) keeps children's default disposition
// across execve. It returns the undoing.
func catchInterrupt() func() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	go func() {
		for range sigs {
		}
	}()
	return func() { signal.Stop(sigs); close(sigs) }
}

// loop reads and runs statements until the input ends (ended), exit is
// typed (its status), or, after a statement, stop says so.
func loop(s *commands.Session, lr LineReader, stop func() bool) (code int, ended bool) {
	for {
		if stop != nil && stop() {
			return 0, false
		}
		src, err := readStatement(s, lr)
		switch {
		case errors.Is(err, ErrInterrupt):
			continue
		case err == io.EOF:
			return s.Status(), true
		case err != nil:
			fmt.Fprintf(s.Err, "error: read input: %v\n", err)
			return 2, true
		}
		stmts, err := commands.Parse(src)
		if err != nil {
			fmt.Fprintf(s.Err, "error: %v\n", err)
			continue
		}
		for _, st := range stmts {
			err := s.Exec(st.Words)
			var exit *commands.ExitError
			if errors.As(err, &exit) {
				return exit.Code, true
			}
			if err != nil {
				fmt.Fprintf(s.Err, "error: %v\n", err)
				break
			}
			if stop != nil && stop() {
				break
			}
		}
	}
}

// readStatement reads a line and its `\` continuations.
func readStatement(s *commands.Session, lr LineReader) (string, error) {
	for _, n := range s.Ended() {
		fmt.Fprintln(s.Err, n)
	}
	var b strings.Builder
	prompt := s.Prompt()
	for {
		line, err := lr.Readline(prompt)
		if err != nil {
			if err == io.EOF && b.Len() > 0 {
				return b.String(), nil
			}
			return "", err
		}
		s.Typed(prompt, line)
		b.WriteString(line)
		b.WriteString("\n")
		if _, err := commands.Parse(b.String()); err != commands.ErrIncomplete {
			return b.String(), nil
		}
		prompt = "> "
	}
}
