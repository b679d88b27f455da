// Package repl is nsh's interactive loop. The line editor sits behind
// LineReader, so the REPL, piped input and tests share one loop and a move
// to another readline library touches one file.
package repl

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"nsh/internal/term"
	"nsh/learn"

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
	rl    *readline.Instance
	out   *coalescer
	saved *term.State // the terminal as it was before the editor
}

// NewEditor returns a line editor on the terminal with history in
// historyFile ("" for none) and Tab completion, reading keys from in
// (the terminal's, and a pairing driver's) and drawing on out (the
// terminal, and a pairing's pages).
func NewEditor(historyFile string, complete Completer, in io.ReadCloser, draw io.Writer) (LineReader, error) {
	out := &coalescer{w: draw}
	saved, _ := term.Save(int(os.Stdin.Fd()))
	rl, err := readline.NewEx(&readline.Config{
		HistoryFile:       historyFile,
		AutoComplete:      completer(complete),
		InterruptPrompt:   "^C",
		EOFPrompt:         "exit",
		HistorySearchFold: true,
		Stdin:             in,
		Stdout:            out,
	})
	if err != nil {
		return nil, err
	}
	return &editReader{rl: rl, out: out, saved: saved}, nil
}

func (e *editReader) Readline(prompt string) (string, error) {
	e.rl.SetPrompt(prompt)
	line, err := e.rl.Readline()
	e.out.flush()
	if errors.Is(err, readline.ErrInterrupt) {
		return "", ErrInterrupt
	}
	return line, err
}

// Close closes the editor, waiting at most closeWait: chzyer/readline's
// Close waits for its reading goroutine, which stays blocked for good
// when input typed ahead of the end (a paste, or keys after Ctrl-D) is
// waiting to be handed over and nobody reads it any more. The session
// must end, and its children with it, whatever the library does; the
// terminal is put back as it was.
func (e *editReader) Close() error {
	err := closeWithin(e.rl, closeWait)
	if errors.Is(err, errCloseStuck) {
		e.saved.Restore()
	}
	return err
}

const closeWait = 500 * time.Millisecond

var errCloseStuck = errors.New("the line editor did not close; left behind")

// closeWithin calls c.Close and waits for it at most d.
func closeWithin(c io.Closer, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return errCloseStuck
	}
}

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
	dir := learn.StateDir()
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "history")
}

// coalescer stands between the line editor and the terminal. The editor
// redraws the whole line for every character it inserts: a clean
// sequence (it starts with ESC [J), then the prompt and the line. A
// pasted line of n characters would be drawn n times, n²/2 bytes in all.
// A redraw is held for a moment; when the
// next one comes within it (a paste: characters arrive faster than anyone
// types), only the first clean, which matches what the screen shows, and
// the last line are written. Typing is echoed after at most holdFor.
type coalescer struct {
	mu    sync.Mutex
	w     io.Writer
	clean []byte
	line  []byte
	state int // 0 nothing held; 1 a clean, its line to come; 2 a redraw held; 3 a later clean dropped, its line to come
	timer *time.Timer
}

const holdFor = 3 * time.Millisecond

func (c *coalescer) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clean := bytes.HasPrefix(b, []byte("\033[J"))
	switch {
	case c.state == 0 && clean:
		c.clean, c.state = append(c.clean[:0], b...), 1
		return len(b), nil
	case c.state == 1 || c.state == 3:
		c.line, c.state = append(c.line[:0], b...), 2
		if c.timer == nil {
			c.timer = time.AfterFunc(holdFor, c.flush)
		} else {
			c.timer.Reset(holdFor)
		}
		return len(b), nil
	case c.state == 2 && clean:
		c.state = 3 // the screen still shows what the first clean erases
		return len(b), nil
	}
	c.flushLocked()
	return c.w.Write(b)
}

func (c *coalescer) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
}

func (c *coalescer) flushLocked() {
	if c.state == 0 {
		return
	}
	c.w.Write(append(append([]byte(nil), c.clean...), c.line...))
	c.state = 0
	c.clean, c.line = c.clean[:0], c.line[:0]
}
