// Package capture puts one stream between a session and the terminal:
// nsh's own output and its foreground children's stdout and stderr all
// go into it, in the order the kernel took the writes, so that a lesson
// can show each command's output under it and a recording can replay it.
//
// The stream is a pseudo-terminal when one can be had: children then
// see a terminal as they would at a prompt (line-buffered stdout, ls in
// columns), and their stdout and stderr interleave as a user would see
// them. Output processing is off, so a newline stays a newline.
package capture

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"nsh/internal/term"

	"golang.org/x/sys/unix"
)

// Width and Height are the stream's terminal size: what a lesson's
// reader and a recording's player are assumed to have.
const (
	Width  = 100
	Height = 30
)

// Stream is the pseudo-terminal (or pipe) all output goes through.
type Stream struct {
	w, r  *os.File // w: where the session and its children write
	token []byte   // written by Mark, never shown

	mu      sync.Mutex
	segment bytes.Buffer // read since the last Mark
	tee     io.Writer    // also shown here as it comes (nil: nowhere)
	taps    []func(at time.Time, b []byte)
	marks   chan struct{}
	done    chan struct{}
}

// maxSegment bounds what one command's output may hold in memory; a
// command that prints more keeps its last maxSegment bytes.
const maxSegment = 4 << 20

// Open makes a stream whose output is also copied to tee (nil for none).
func Open(tee io.Writer) (*Stream, error) {
	r, w, err := openPTY()
	if err != nil {
		// No /dev/pts (a minimal initramfs): a pipe keeps the order
		// of writes all the same; children just see no terminal.
		if r, w, err = os.Pipe(); err != nil {
			return nil, fmt.Errorf("capture output: %w", err)
		}
	}
	// getrandom(2), not crypto/rand: that would link Go's FIPS module,
	// and its initializers into every start of nsh.
	tok := make([]byte, 12)
	unix.Getrandom(tok, 0)
	s := &Stream{
		w: w, r: r,
		token: []byte("\x00nsh-mark-" + hex.EncodeToString(tok) + "\x00"),
		tee:   tee,
		marks: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	go s.pump()
	return s, nil
}

// openPTY opens a pseudo-terminal pair in raw output mode.
func openPTY() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	m := os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	sl := os.NewFile(uintptr(sfd), name)
	st, err := term.Save(sfd)
	if err == nil {
		t := st.Modes()
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG
		err = term.Set(sfd, &t)
	}
	if err == nil {
		err = unix.IoctlSetWinsize(sfd, unix.TIOCSWINSZ, &unix.Winsize{Row: Height, Col: Width})
	}
	if err != nil {
		m.Close()
		sl.Close()
		return nil, nil, err
	}
	return m, sl, nil
}

// File is where output goes: a child's stdout and stderr, nsh's own.
func (s *Stream) File() *os.File { return s.w }

// Tap calls f with every piece of output as it is read, and its time.
func (s *Stream) Tap(f func(at time.Time, b []byte)) {
	s.mu.Lock()
	s.taps = append(s.taps, f)
	s.mu.Unlock()
}

// Mark returns the output written since the last Mark: everything
// written before Mark was called, by nsh or by a child, is in it.
func (s *Stream) Mark() []byte {
	if _, err := s.w.Write(s.token); err != nil {
		return s.take()
	}
	select {
	case <-s.marks:
	case <-s.done:
	}
	return s.take()
}

func (s *Stream) take() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := bytes.Clone(s.segment.Bytes())
	s.segment.Reset()
	return out
}

// Close stops the stream once everything written to it has been read.
// A child still holding the write side (a detached one does not) would
// keep it open: Close does not wait for that.
func (s *Stream) Close() []byte {
	out := s.Mark()
	s.w.Close()
	s.r.Close()
	return out
}

// pump reads the stream, passes output on and answers Marks.
func (s *Stream) pump() {
	defer close(s.done)
	buf := make([]byte, 32<<10)
	var carry []byte
	for {
		n, err := s.r.Read(buf)
		if n > 0 {
			carry = s.scan(append(carry, buf[:n]...))
		}
		if err != nil {
			s.emit(carry)
			return
		}
	}
}

// scan passes data on up to each mark token and answers the mark; it
// returns a tail that may be the start of a token split over reads.
func (s *Stream) scan(data []byte) []byte {
	for {
		i := bytes.Index(data, s.token)
		if i < 0 {
			break
		}
		s.emit(data[:i])
		data = data[i+len(s.token):]
		s.marks <- struct{}{}
	}
	k := partialSuffix(data, s.token)
	s.emit(data[:len(data)-k])
	return bytes.Clone(data[len(data)-k:])
}

// partialSuffix is the length of the longest end of data that begins tok.
func partialSuffix(data, tok []byte) int {
	for k := min(len(data), len(tok)-1); k > 0; k-- {
		if bytes.HasPrefix(tok, data[len(data)-k:]) {
			return k
		}
	}
	return 0
}

func (s *Stream) emit(b []byte) {
	if len(b) == 0 {
		return
	}
	now := time.Now()
	s.mu.Lock()
	if s.segment.Len()+len(b) > maxSegment {
		keep := bytes.Clone(s.segment.Bytes()[max(0, s.segment.Len()+len(b)-maxSegment):])
		s.segment.Reset()
		s.segment.Write(keep)
	}
	s.segment.Write(b)
	tee, taps := s.tee, s.taps
	s.mu.Unlock()
	if tee != nil {
		tee.Write(b)
	}
	for _, f := range taps {
		f(now, b)
	}
}

// Attach lends the stream to an interactive child for as long as it
// runs, as script(1) does: the child gets the stream as its terminal
// (with tty's modes and size), what the user types on tty goes to it, and
// tty is in raw mode meanwhile, so its echo and everything the child draws
// come through the stream and are recorded. detach puts both terminals
// back. It fails where the stream is a pipe or tty no terminal. keyed,
// when set, hears of each interrupt or quit key the user types (the
// terminal delivers the signal itself; a caller may do more).
func (s *Stream) Attach(tty *os.File, keyed func(unix.Signal)) (detach func(), err error) {
	tfd, sfd := int(tty.Fd()), int(s.w.Fd())
	saved, err := term.Save(tfd)
	if err != nil {
		return nil, err
	}
	streamModes, err := term.Save(sfd)
	if err != nil {
		return nil, err // a pipe: no terminal to lend
	}
	streamSize, err := unix.IoctlGetWinsize(sfd, unix.TIOCGWINSZ)
	if err != nil {
		return nil, err
	}
	// The user's modes, but an interrupt key must not flush output: on a
	// pseudo-terminal that drops what was written and not yet read, which
	// is the recording (and nsh's note on that very key).
	lent := saved.Modes()
	intr, quit := lent.Cc[unix.VINTR], lent.Cc[unix.VQUIT]
	lent.Lflag |= unix.NOFLSH
	if err := term.Set(sfd, &lent); err != nil {
		return nil, err
	}
	copySize := func() {
		if ws, err := unix.IoctlGetWinsize(tfd, unix.TIOCGWINSZ); err == nil {
			unix.IoctlSetWinsize(sfd, unix.TIOCSWINSZ, ws)
		}
	}
	copySize()
	if _, err := term.Raw(tfd); err != nil {
		streamModes.Restore()
		return nil, err
	}
	wakeR, wakeW, err := os.Pipe()
	if err != nil {
		saved.Restore()
		streamModes.Restore()
		return nil, err
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		fds := []unix.PollFd{{Fd: int32(wakeR.Fd()), Events: unix.POLLIN}, {Fd: int32(tfd), Events: unix.POLLIN}}
		for {
			select {
			case <-winch:
				copySize()
			default:
			}
			fds[0].Revents, fds[1].Revents = 0, 0
			if _, err := unix.Poll(fds, 250); err != nil && err != unix.EINTR {
				return
			}
			// Asked to stop: not one more byte is taken from the user's
			// terminal, the line editor reads it next.
			if fds[0].Revents != 0 {
				return
			}
			if fds[1].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0 {
				n, err := unix.Read(tfd, buf)
				if n > 0 {
					s.r.Write(buf[:n])
					for _, b := range buf[:n] {
						// A moment later: the terminal echoes the key
						// (^C) on its own time, and what keyed says
						// reads better after it.
						switch {
						case keyed == nil:
						case b == intr:
							time.AfterFunc(20*time.Millisecond, func() { keyed(unix.SIGINT) })
						case b == quit:
							time.AfterFunc(20*time.Millisecond, func() { keyed(unix.SIGQUIT) })
						}
					}
				}
				if err != nil && err != unix.EINTR && err != unix.EAGAIN || n == 0 {
					return
				}
			}
		}
	}()
	return func() {
		wakeW.Write([]byte{0})
		<-done
		signal.Stop(winch)
		wakeR.Close()
		wakeW.Close()
		saved.Restore()
		streamModes.Restore()
		unix.IoctlSetWinsize(sfd, unix.TIOCSWINSZ, streamSize)
	}, nil
}

// Size is the stream's terminal size, columns and rows: Width and Height
// unless Resize changed it, or the stream is a pipe.
func (s *Stream) Size() (cols, rows int) {
	if ws, err := unix.IoctlGetWinsize(int(s.w.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		return int(ws.Col), int(ws.Row)
	}
	return Width, Height
}

// Resize gives the stream a terminal's size (a recording of a REPL is as
// wide as the terminal it was typed in).
func (s *Stream) Resize(cols, rows int) {
	unix.IoctlSetWinsize(int(s.w.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
}
