package isolate

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// restoreTerminal makes nsh's process group the terminal's foreground
// group again and puts back the modes the child may have changed. nsh is a
// background group at this point, so tcsetpgrp would stop it with SIGTTOU
// unless that is ignored for the moment.
func (c *Child) restoreTerminal() {
	if !c.foreground {
		return
	}
	c.foreground = false
	fd := int(c.tty.Fd())
	signal.Ignore(unix.SIGTTOU)
	defer signal.Reset(unix.SIGTTOU)
	unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, unix.Getpgrp())
	if c.termios != nil {
		unix.IoctlSetTermios(fd, unix.TCSETS, c.termios)
	}
}
