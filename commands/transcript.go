package commands

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"nsh/internal/ownfile"
	"nsh/pair/wire"

	"golang.org/x/sys/unix"

	"nsh/capture"
	"nsh/cast"
	"nsh/isolate"
)

// transcript is the session's output going through one stream (package
// capture) while a lesson is rendered or a cast recorded.
type transcript struct {
	stream *capture.Stream
	cast   *cast.Writer
	path   string // the cast's file

	// What the session wrote to before: restored when it ends, and
	// where nsh's own asides (a --step hint) go unrecorded.
	stdout, stderr *os.File
	out, err       io.Writer

	pending []byte // output kept so far: the running command's (render), a foreground child's
	render  bool   // a lesson is rendered: keep each command's output
	// recorded: record --cast started it, which the prompt shows until
	// record off.
	recorded bool
	// paired: the stream's output goes to the pairing too (pair on).
	paired bool

	mu    sync.Mutex // guards child and own: nsh may write from other goroutines
	child bool       // a foreground child runs: keep its output for expect output
	// What nsh itself wrote while a foreground child ran (explain lines,
	// notices): in the stream, in order, but not the child's output.
	own [][]byte
	// detach gives back a terminal lent to an interactive child; nsh
	// ending on a signal meanwhile must not leave the user's in raw mode.
	detach func()
}

// giveBack puts back a terminal lent to a child, once.
func (t *transcript) giveBack() {
	t.mu.Lock()
	d := t.detach
	t.detach = nil
	t.mu.Unlock()
	if d != nil {
		d()
	}
}

// setChild says whether a foreground child runs, and returns (and
// forgets) what nsh wrote meanwhile.
func (t *transcript) setChild(on bool) (own [][]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	own, t.own, t.child = t.own, nil, on
	return own
}

func (t *transcript) childRuns() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.child
}

// ownWriter is nsh's own output while a transcript runs: into the stream
// like a child's, and remembered while a foreground child runs, so that
// expect output sees what the child printed and nothing of nsh's.
type ownWriter struct{ s *Session }

func (w ownWriter) Write(p []byte) (int, error) {
	t := w.s.tr
	if t == nil {
		return os.Stderr.Write(p) // the transcript ended under us
	}
	t.mu.Lock()
	if t.child {
		t.own = append(t.own, bytes.Clone(p))
	}
	t.mu.Unlock()
	// One write(2): a terminal keeps its bytes together, so they can be
	// found again whole among the child's.
	return t.stream.File().Write(p)
}

// withoutOwn is out less nsh's own writes, found in order.
func withoutOwn(out []byte, own [][]byte) []byte {
	out = bytes.Clone(out)
	at := 0
	for _, w := range own {
		if i := bytes.Index(out[at:], w); i >= 0 {
			out = append(out[:at+i], out[at+i+len(w):]...)
			at += i
		}
	}
	return out
}

// startTranscript sends the session's and its children's output through
// a stream whose output is also shown on tee (nil: nowhere).
func (s *Session) startTranscript(tee io.Writer) error {
	if s.tr != nil {
		return nil
	}
	st, err := capture.Open(tee)
	if err != nil {
		return err
	}
	s.tr = &transcript{stream: st, stdout: s.Stdout, stderr: s.Stderr, out: s.Out, err: s.Err}
	s.Stdout, s.Stderr = st.File(), st.File()
	s.Out, s.Err = ownWriter{s}, ownWriter{s}
	return nil
}

// stopTranscript puts the session's output back where it was.
func (s *Session) stopTranscript() error {
	t := s.tr
	if t == nil {
		return nil
	}
	t.giveBack()
	// nsh's files first: nothing is written to a closed stream.
	s.Stdout, s.Stderr, s.Out, s.Err = t.stdout, t.stderr, t.out, t.err
	s.tr = nil
	t.stream.Close()
	if t.cast != nil {
		if err := t.cast.Close(); err != nil {
			return fmt.Errorf("record: write %s: %w", t.path, err)
		}
	}
	return nil
}

// syncOutput reads everything written so far into the running
// command's output.
func (s *Session) syncOutput() {
	if s.tr != nil {
		out := s.tr.stream.Mark()
		// A recording alone keeps nothing: a long session would grow.
		if s.tr.render || s.tr.childRuns() {
			s.tr.pending = append(s.tr.pending, out...)
		}
	}
}

// takeOutput is all the running command printed, children included.
func (s *Session) takeOutput() []byte {
	if s.tr == nil {
		return nil
	}
	s.syncOutput()
	out := s.tr.pending
	s.tr.pending = nil
	return out
}

// StartCast records the session from now on as an asciicast v2 file,
// also showing its output on tee.
func (s *Session) StartCast(path string, r ownfile.Replace, title string, tee io.Writer) error {
	if s.tr != nil && s.tr.cast != nil {
		return fmt.Errorf("already recording into %s: record off first", s.tr.path)
	}
	started := s.tr == nil
	if err := s.startTranscript(tee); err != nil {
		return err
	}
	// Shown on a terminal: the recording is as large as it is.
	if f, ok := tee.(*os.File); ok && isolate.IsTerminal(f) {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 && ws.Row > 0 {
			s.tr.stream.Resize(int(ws.Col), int(ws.Row))
		}
	}
	cols, rows := s.tr.stream.Size()
	w, err := cast.Create(path, r, cols, rows, title)
	if err != nil {
		if started {
			s.stopTranscript()
		}
		return err
	}
	t := s.tr
	t.mu.Lock()
	t.cast, t.path = w, path
	t.mu.Unlock()
	// Through the transcript, not to w: record off may end the recording
	// while a lesson goes on rendering from the same stream.
	t.stream.Tap(func(at time.Time, b []byte) {
		t.mu.Lock()
		c := t.cast
		t.mu.Unlock()
		if c != nil {
			c.Output(at, b)
		}
	})
	return nil
}

// StopCast ends the recording; the transcript ends with it unless a
// lesson is being rendered from it.
func (s *Session) StopCast() error {
	t := s.tr
	if t == nil || t.cast == nil {
		return nil
	}
	if !t.render {
		return s.stopTranscript()
	}
	s.syncOutput()
	t.mu.Lock()
	c, path := t.cast, t.path
	t.cast, t.recorded = nil, false
	t.mu.Unlock()
	if err := c.Close(); err != nil {
		return fmt.Errorf("record: write %s: %w", path, err)
	}
	return nil
}

// Casting says whether a cast is being recorded.
func (s *Session) Casting() bool { return s.tr != nil && s.tr.cast != nil }

// Typed puts a statement the user typed at the prompt into the cast: the
// line editor drew it on the terminal, outside the stream.
func (s *Session) Typed(prompt, text string) {
	if p := s.pair.Load(); p != nil && s.PlainInput {
		// No editor drew it: the pages get what was typed.
		p.send(wire.Output, []byte(text+"\r\n"))
	}
	if s.Casting() {
		s.syncOutput()
		s.tr.cast.Output(time.Now(), []byte(prompt+text+"\n"))
	}
}

// Aside writes text on the terminal without recording it (a --step
// hint), after the output that came before it.
func (s *Session) Aside(text string) {
	if s.tr == nil {
		fmt.Fprint(s.Out, text)
		return
	}
	s.syncOutput()
	fmt.Fprint(s.tr.out, text)
}

// childFiles are a foreground child's standard files; keep, called once
// it has ended, keeps what it printed for expect output and gives back
// what was lent. Output is kept when a transcript runs or the script has
// an expect output; else the child has the session's files to itself.
type childFiles struct {
	stdin, stdout, stderr *os.File
	session               bool // lead a session on stdin, a lent terminal
	keep                  func()
}

func (s *Session) foregroundFiles() (childFiles, error) {
	switch {
	case s.tr != nil:
		s.syncOutput()
		from := len(s.tr.pending)
		s.tr.setChild(true)
		f := childFiles{stdin: s.Stdin, stdout: s.Stdout, stderr: s.Stderr}
		detach := func() {}
		if (s.Casting() || s.pair.Load() != nil) && isolate.IsTerminal(s.Stdin) {
			// An interactive child while a recording runs or the session
			// is shared: it gets the stream's terminal, so what the user
			// types is echoed into the recording and the pages as well.
			if d, err := s.tr.stream.Attach(s.Stdin, s.signalKey()); err == nil {
				f.stdin, f.session = s.Stdout, true
				t := s.tr
				t.mu.Lock()
				t.detach = d
				t.mu.Unlock()
				detach = t.giveBack
			}
		}
		f.keep = func() {
			detach()
			s.syncOutput()
			if s.tr == nil {
				return // the session ended while the child ran
			}
			s.lastOutput, s.haveOutput = withoutOwn(s.tr.pending[from:], s.tr.setChild(false)), true
			if !s.tr.render {
				s.tr.pending = nil
			}
		}
		return f, nil
	case s.keepOutput > 0:
		return s.streamForeground()
	}
	return childFiles{stdin: s.Stdin, stdout: s.Stdout, stderr: s.Stderr, keep: func() { s.lastOutput, s.haveOutput = nil, false }}, nil
}

// streamForeground gives the child a stream of its own for stdout and
// stderr both, shown on the session's stdout as it comes: the kernel
// keeps the order in which the child wrote to either, which two pipes
// would not, so what expect output sees is what a lesson shows.
func (s *Session) streamForeground() (childFiles, error) {
	st, err := capture.Open(s.Stdout)
	if err != nil {
		return childFiles{}, err
	}
	return childFiles{stdin: s.Stdin, stdout: st.File(), stderr: st.File(), keep: func() {
		s.lastOutput, s.haveOutput = st.Close(), true
	}}, nil
}

// signalKey hands a lent terminal's Ctrl-C and Ctrl-\ to the foreground
// child's Keyed, as nsh's own watcher does at the prompt: the terminal
// delivers the signal, and a child the kernel lets ignore it is told of,
// then killed.
func (s *Session) signalKey() func(unix.Signal) {
	return func(sig unix.Signal) {
		s.mu.Lock()
		fg := s.fg
		s.mu.Unlock()
		if fg != nil {
			fg.Keyed(sig)
		}
	}
}
