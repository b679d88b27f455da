// Package cast writes asciicast v2 recordings, the format asciinema
// plays: a JSON header line, then one [seconds, "o", text] line per
// piece of output, with the time it was written.
package cast

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"nsh/internal/ownfile"
)

// Header is the recording's first line.
type Header struct {
	Mark      string            `json:"//,omitempty"` // players ignore it; nsh knows its own files by it
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

// Writer writes one recording.
type Writer struct {
	mu    sync.Mutex
	w     *bufio.Writer
	c     io.Closer
	start time.Time
	carry []byte // the start of a character split over two writes
	err   error
}

// Create starts a recording in FILE, written as package ownfile writes
// (r says what may be replaced): the file takes its name, complete, at
// Close, and a recording that fails (a full disk) leaves the old one.
func Create(path string, r ownfile.Replace, width, height int, title string) (*Writer, error) {
	f, err := ownfile.Create(path, 0o644, r)
	if err != nil {
		return nil, err
	}
	w, err := New(f, width, height, title, time.Now())
	if err != nil {
		f.Abort()
		return nil, err
	}
	w.c = committer{f}
	return w, nil
}

// committer names the file when the recording closes.
type committer struct{ f *ownfile.File }

func (c committer) Close() error { return c.f.Commit() }

// New starts a recording on w at start.
func New(w io.Writer, width, height int, title string, start time.Time) (*Writer, error) {
	h := Header{Mark: ownfile.Mark + " (record --cast)", Version: 2, Width: width, Height: height, Timestamp: start.Unix(), Title: title,
		Env: map[string]string{"SHELL": "nsh", "TERM": "xterm-256color"}}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	c := &Writer{w: bufio.NewWriter(w), start: start}
	c.w.Write(append(b, '\n'))
	return c, c.w.Flush()
}

// Output records b as written at time at. A terminal's output
// processing would turn each newline into CR LF; the stream nsh records
// has it off, so the recording does it, as a player writes to a
// terminal in raw mode.
func (c *Writer) Output(at time.Time, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	data := append(c.carry, b...)
	c.carry = nil
	// JSON strings are UTF-8: hold back a character cut in two.
	if cut := incompleteTail(data); cut > 0 {
		c.carry = bytes.Clone(data[len(data)-cut:])
		data = data[:len(data)-cut]
	}
	c.event(at, data)
}

// event writes one output event; c.mu is held.
func (c *Writer) event(at time.Time, data []byte) {
	if len(data) == 0 || c.err != nil {
		return
	}
	text := crlf(data)
	t := at.Sub(c.start).Seconds()
	if t < 0 {
		t = 0
	}
	ev, err := json.Marshal([]any{json.Number(fmt.Sprintf("%.6f", t)), "o", text})
	if err != nil {
		c.err = err
		return
	}
	c.w.Write(append(ev, '\n'))
	c.err = c.w.Flush()
}

// crlf turns bare newlines into CR LF.
func crlf(b []byte) string {
	var out bytes.Buffer
	for i, ch := range b {
		if ch == '\n' && (i == 0 || b[i-1] != '\r') {
			out.WriteByte('\r')
		}
		out.WriteByte(ch)
	}
	return out.String()
}

// incompleteTail is how many bytes at the end of b begin a UTF-8
// character that is not finished yet.
func incompleteTail(b []byte) int {
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-k:]) {
				return k
			}
			return 0
		}
	}
	return 0
}

// Close ends the recording.
func (c *Writer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.event(time.Now(), c.carry) // a character cut short: JSON makes it U+FFFD
	err := c.err
	if ferr := c.w.Flush(); err == nil {
		err = ferr
	}
	if c.c != nil {
		if cerr := c.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
