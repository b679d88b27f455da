package commands

import (
	"bytes"
	"io"
	"os"

	"nsh/pair/wire"
)

// PairInput is the line reader's input: the terminal's, and while the
// session is shared with --drive, the keys its drivers type, as if typed
// here. Like the line editor's own reading, at most one read of the
// terminal is under way at a time, and only while a line is being read,
// so a child that reads the terminal itself gets what is typed for it.
// plain turns a driver's Enter (\r) into the newline a plain reader
// ends a line at.
func (s *Session) PairInput(in *os.File, plain bool) io.ReadCloser {
	return &pairInput{s: s, in: in, plain: plain, results: make(chan readResult, 1)}
}

type readResult struct {
	b   []byte
	err error
}

type pairInput struct {
	s       *Session
	in      *os.File
	plain   bool
	buf     []byte
	reading bool
	results chan readResult
}

func (r *pairInput) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if !r.reading {
			r.reading = true
			go func() {
				b := make([]byte, 4096)
				n, err := r.in.Read(b)
				r.results <- readResult{b[:n], err}
			}()
		}
		var keys <-chan []byte
		if pr := r.s.pair.Load(); pr != nil {
			keys = pr.keys
		}
		select {
		case res := <-r.results:
			r.reading = false
			if len(res.b) == 0 {
				return 0, res.err
			}
			r.buf = res.b
		case k := <-keys:
			if r.plain {
				k = bytes.ReplaceAll(k, []byte("\r"), []byte("\n"))
			}
			r.buf = k
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *pairInput) Close() error { return nil }

// PairEcho is where the line editor draws (the prompt, what is typed):
// the terminal, and while the session is shared, its pages.
func (s *Session) PairEcho(w io.Writer) io.Writer { return pairEcho{s, w} }

type pairEcho struct {
	s *Session
	w io.Writer
}

func (e pairEcho) Write(b []byte) (int, error) {
	e.s.pair.Load().send(wire.Output, b)
	return e.w.Write(b)
}
