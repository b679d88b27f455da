package commands

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
)

func runWait(s *Session, c *Command, args []string) error {
	if len(args) != 1 {
		return usageError(c, "name one child")
	}
	ch, err := s.lookupChild(args[0], false)
	if err != nil {
		return err
	}
	// Ctrl-C gives the prompt back, whether or not the REPL catches it.
	intr := make(chan os.Signal, 1)
	signal.Notify(intr, os.Interrupt)
	defer signal.Stop(intr)
	select {
	case <-ch.done:
	case <-intr:
		return fmt.Errorf("wait %s: interrupted; the child is still running", ch.ref())
	}
	ch.mu.Lock()
	st, oom, pids := ch.ws, ch.oom, ch.pids
	ch.mu.Unlock()
	if pids != "" {
		fmt.Fprintf(s.Err, "wait: %s: %s\n", ch.ref(), pids)
	}
	if oom != "" {
		sep := ": "
		if strings.HasPrefix(oom, "killed") {
			sep = " "
		}
		fmt.Fprintf(s.Err, "wait: %s%s%s\n", ch.ref(), sep, oom)
	}
	fmt.Fprintf(s.Out, "%s %s\n", ch.ref(), ch.state())
	s.childStatus, s.haveChild = st, true
	s.status = st
	return nil
}
