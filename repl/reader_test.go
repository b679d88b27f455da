package repl

import (
	"errors"
	"testing"
	"time"
)

// stuckCloser is readline's Close with its reader blocked handing over
// typed-ahead input: it never returns.
type stuckCloser struct{}

func (stuckCloser) Close() error { select {} }

// The REPL's end never waits on the line editor for good.
func TestCloseWithinStuckEditor(t *testing.T) {
	start := time.Now()
	if err := closeWithin(stuckCloser{}, 50*time.Millisecond); !errors.Is(err, errCloseStuck) {
		t.Fatalf("closeWithin: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closeWithin waited %v", d)
	}
}
