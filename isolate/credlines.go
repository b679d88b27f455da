package isolate

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// credLines reads the child stage's socket line by line, each line with
// the pid of the process that sent it as the kernel tells it
// (SCM_CREDENTIALS, in nsh's own pid namespace). The kernel never joins
// data of two senders in one read, so a line's sender is the sender of
// the read that ended it.
type credLines struct {
	fd      int
	pending []byte
	pid     int // sender of pending
	buf     []byte
	oob     []byte
}

// passCredentials asks the kernel to attach the sender's credentials to
// everything read from f; set before any child can write.
func passCredentials(f *os.File) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setsockopt(SO_PASSCRED): %w", serr)
	}
	return nil
}

func newCredLines(f *os.File) *credLines {
	return &credLines{
		fd: int(f.Fd()),
		// A page: the stage's lines are short, and a longer one comes
		// in more reads; a bigger buffer is garbage at every spawn.
		buf: make([]byte, 4<<10),
		oob: make([]byte, unix.CmsgSpace(unix.SizeofUcred)),
	}
}

// next returns the next line (without its newline) and its sender's pid;
// a nil line at end of file.
func (r *credLines) next() ([]byte, int, error) {
	for {
		if i := bytes.IndexByte(r.pending, '\n'); i >= 0 {
			line := r.pending[:i]
			r.pending = r.pending[i+1:]
			return line, r.pid, nil
		}
		if len(r.pending) > maxMessage {
			return nil, 0, errors.New("child stage sent a line over 1 MiB")
		}
		n, oobn, _, _, err := unix.Recvmsg(r.fd, r.buf, r.oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read from child stage: %w", err)
		}
		if n == 0 {
			if len(r.pending) > 0 {
				return nil, 0, fmt.Errorf("child stage ended in the middle of %q", r.pending)
			}
			return nil, 0, nil
		}
		pid, err := senderPid(r.oob[:oobn])
		if err != nil {
			return nil, 0, err
		}
		if len(r.pending) > 0 && pid != r.pid {
			return nil, 0, fmt.Errorf("child stage: pid %d wrote into a line of pid %d", pid, r.pid)
		}
		r.pid = pid
		r.pending = append(r.pending, r.buf[:n]...)
	}
}

// senderPid is the pid in a read's SCM_CREDENTIALS. 0 there means the
// sender has no pid in nsh's pid namespace: nothing nsh started.
func senderPid(oob []byte) (int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, fmt.Errorf("child stage: control message: %w", err)
	}
	for i := range msgs {
		if msgs[i].Header.Level == unix.SOL_SOCKET && msgs[i].Header.Type == unix.SCM_CREDENTIALS {
			cred, err := unix.ParseUnixCredentials(&msgs[i])
			if err != nil {
				return 0, fmt.Errorf("child stage: credentials: %w", err)
			}
			if cred.Pid <= 0 {
				return 0, errors.New("child stage: a sender outside nsh's pid namespace")
			}
			return int(cred.Pid), nil
		}
	}
	return 0, errors.New("child stage: a message without the sender's credentials")
}
