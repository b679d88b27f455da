// Package term is the one place nsh changes a terminal's modes: the line
// editor, the step demo and top take single keys, a recording lends its
// terminal raw, and a foreground child's terminal is given back as it
// was. Every change is a State saved first and restored however the
// caller ends.
package term

import (
	"os"

	"golang.org/x/sys/unix"
)

// State is a terminal's modes as they were, to be put back.
type State struct {
	fd    int
	modes unix.Termios
}

// IsTerminal says whether f is a terminal (nil is not).
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Save reads fd's modes; an error says fd is no terminal.
func Save(fd int) (*State, error) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	return &State{fd: fd, modes: *t}, nil
}

// Restore puts the modes back.
func (s *State) Restore() error {
	if s == nil {
		return nil
	}
	return unix.IoctlSetTermios(s.fd, unix.TCSETS, &s.modes)
}

// RestoreOn puts these modes on another terminal (a recording lends
// the user's modes to its pseudo-terminal).
func (s *State) RestoreOn(fd int) error {
	return unix.IoctlSetTermios(fd, unix.TCSETS, &s.modes)
}

// Modes is a copy of the saved modes, to change and Set.
func (s *State) Modes() unix.Termios { return s.modes }

// Set gives fd these modes.
func Set(fd int, t *unix.Termios) error { return unix.IoctlSetTermios(fd, unix.TCSETS, t) }

// Keys puts fd in a mode that hands over each key as it is typed,
// unechoed: a read returns after min keys, or after tenths of a second
// with none (VMIN, VTIME). signals keeps Ctrl-C and Ctrl-\ as signals;
// without, they arrive as keys. It returns the modes to restore.
func Keys(fd int, signals bool, min, tenths uint8) (*State, error) {
	s, err := Save(fd)
	if err != nil {
		return nil, err
	}
	t := s.modes
	t.Lflag &^= unix.ICANON | unix.ECHO
	if !signals {
		t.Lflag &^= unix.ISIG
	}
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = min, tenths
	if err := Set(fd, &t); err != nil {
		return nil, err
	}
	return s, nil
}

// Raw puts fd in raw mode, as cfmakeraw(3) does: every byte passes
// through untouched, to the program on the other side of a recording.
// It returns the modes to restore.
func Raw(fd int) (*State, error) {
	s, err := Save(fd)
	if err != nil {
		return nil, err
	}
	t := s.modes
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := Set(fd, &t); err != nil {
		return nil, err
	}
	return s, nil
}
