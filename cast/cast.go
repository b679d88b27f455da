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
	// Pacing (Type, Pause): time added to the recording's clock, so a
	// lesson run in a second plays like a person showing it, and the
	// time of the last event, which no later one precedes.
	added time.Duration
	last  float64
	lines int // newlines recorded so far
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
	t := (at.Sub(c.start) + c.added).Seconds()
	if t < c.last {
		t = c.last
	}
	c.last = t
	c.lines += bytes.Count(data, []byte("\n"))
	ev, err := json.Marshal([]any{json.Number(fmt.Sprintf("%.6f", t)), "o", text})
	if err != nil {
		c.err = err
		return
	}
	c.w.Write(append(ev, '\n'))
	c.err = c.w.Flush()
}

// Human pace: what Type and Pause add to a recording's clock.
const (
	typeBefore = 300 * time.Millisecond  // the prompt shows before typing starts
	typeChar   = 35 * time.Millisecond   // per character typed
	typeMax    = 2500 * time.Millisecond // a long command is typed faster
)

// Type records text typed at the prompt at a person's pace: the prompt,
// then the text a few characters at a time, then Enter. The recording's
// clock moves on by the typing time; the real run does not wait.
func (c *Writer) Type(at time.Time, prompt, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.event(at, []byte(prompt))
	c.added += typeBefore
	per := typeChar
	runes := []rune(text)
	if n := time.Duration(len(runes)); n > 0 && per*n > typeMax {
		per = typeMax / n
	}
	// Three characters an event keep the file small; the eye sees typing.
	for i := 0; i < len(runes); i += 3 {
		j := min(i+3, len(runes))
		c.added += per * time.Duration(j-i)
		c.event(at, []byte(string(runes[i:j])))
	}
	c.added += typeChar * 4
	c.event(at, []byte("\n"))
}

// Pause holds the screen still for d in the recording: time to read
// what was just shown.
func (c *Writer) Pause(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.added += d
}

// Lines is how many lines have been recorded, to size a pause by what a
// step printed.
func (c *Writer) Lines() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines
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
