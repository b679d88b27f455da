// Package repl is nsh's interactive loop. The line editor sits behind
// LineReader, so the REPL, piped input and tests share one loop and a move
// to another readline library touches one file.
package repl

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/chzyer/readline"
)

// LineReader reads one line of input at a time.
type LineReader interface {
	// Readline returns the next line without its newline, ErrInterrupt
	// when the user pressed Ctrl-C, or io.EOF at the end (Ctrl-D).
	Readline(prompt string) (string, error)
	Close() error
}

// ErrInterrupt means Ctrl-C: drop the line and prompt again.
var ErrInterrupt = errors.New("interrupt")

// Completer completes the word at the end of a line.
type Completer func(line string) (candidates []string, partial string)

type plainReader struct {
	r   *bufio.Reader
	out io.Writer
}

// NewPlain reads lines from r without editing; the prompt goes to out when
// out is not nil.
func NewPlain(r io.Reader, out io.Writer) LineReader {
	return &plainReader{r: bufio.NewReader(r), out: out}
}

func (p *plainReader) Readline(prompt string) (string, error) {
	if p.out != nil {
		io.WriteString(p.out, prompt)
	}
	line, err := p.r.ReadString('\n')
	if err != nil && (line == "" || err != io.EOF) {
		return "", err
	}
	return strings.TrimSuffix(line, "\n"), nil
}

func (p *plainReader) Close() error { return nil }

type editReader struct {
	rl *readline.Instance
}

// NewEditor returns a line editor on the terminal with history in
// historyFile ("" for none) and Tab completion.
func NewEditor(historyFile string, complete Completer) (LineReader, error) {
	rl, err := readline.NewEx(&readline.Config{
		HistoryFile:       historyFile,
		AutoComplete:      completer(complete),
		InterruptPrompt:   "^C",
		EOFPrompt:         "exit",
		HistorySearchFold: true,
	})
	if err != nil {
		return nil, err
	}
	return &editReader{rl: rl}, nil
}

func (e *editReader) Readline(prompt string) (string, error) {
	e.rl.SetPrompt(prompt)
	line, err := e.rl.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		return "", ErrInterrupt
	}
	return line, err
}

func (e *editReader) Close() error { return e.rl.Close() }

type completer Completer

// Do adapts to readline, which wants the rest of each candidate after
// the part already typed.
func (c completer) Do(line []rune, pos int) ([][]rune, int) {
	cands, partial := c(string(line[:pos]))
	var out [][]rune
	for _, cand := range cands {
		rest := strings.TrimPrefix(cand, partial)
		if !strings.HasSuffix(cand, "/") {
			rest += " "
		}
		out = append(out, []rune(rest))
	}
	return out, len([]rune(partial))
}

// HistoryFile is $XDG_STATE_HOME/nsh/history, else ~/.local/state/nsh/history;
// "" when neither can be made, and then nsh keeps no history.
func HistoryFile() string {
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
		// Never create a home directory: HOME=/no-home means no history.
		if st, err := os.Stat(home); err != nil || !st.IsDir() {
			return ""
		}
		base = filepath.Join(home, ".local", "state")
	}
	dir := filepath.Join(base, "nsh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	return filepath.Join(dir, "history")
}
