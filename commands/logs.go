package commands

import (
	"fmt"
	"sync"
)

// maxLogBytes bounds what nsh keeps of a detached child's output.
const maxLogBytes = 1 << 20

// ringBuffer keeps the last maxLogBytes of a child's output.
type ringBuffer struct {
	mu      sync.Mutex
	buf     []byte
	dropped int64
}

func (r *ringBuffer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	if over := len(r.buf) - maxLogBytes; over > 0 {
		r.dropped += int64(over)
		r.buf = append(r.buf[:0:0], r.buf[over:]...)
	}
	return len(p), nil
}

func (r *ringBuffer) snapshot() ([]byte, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.buf...), r.dropped
}

func runLogs(s *Session, c *Command, args []string) error {
	if len(args) != 1 {
		return usageError(c, "name one child")
	}
	ch, err := s.lookupChild(args[0], false)
	if err != nil {
		return err
	}
	out, dropped := ch.out.snapshot()
	if dropped > 0 {
		fmt.Fprintf(s.Err, "logs: the first %d bytes are gone; nsh keeps the last %d\n", dropped, maxLogBytes)
	}
	_, err = s.Out.Write(out)
	return err
}
