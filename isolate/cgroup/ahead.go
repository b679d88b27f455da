package cgroup

import (
	"reflect"
	"sync"
)

// A group made ahead: while one child runs, a script that spawns again
// has the next child's cgroup made on another goroutine, with the same
// configuration, so that the next spawn finds it ready instead of making
// it on its way to the clone. There is at most one; it is announced to
// the janitor like any group, and Cleanup removes it if no spawn took it.
var ahead struct {
	mu   sync.Mutex
	done chan struct{} // closed when the goroutine making it is through
	host *Host
	cfg  Config
	g    *Group
}

// MakeAhead starts making a group named name with cfg on h, for a later
// TakeAhead. Without a step: explain shows a group's steps when the spawn
// that needs it makes it, so a spawn that explains never takes one.
func MakeAhead(h *Host, cfg Config, name string) {
	ahead.mu.Lock()
	defer ahead.mu.Unlock()
	dropAheadLocked()
	done := make(chan struct{})
	ahead.done, ahead.host, ahead.cfg = done, h, cfg
	go func() {
		defer close(done)
		// An error is met again, and reported, by the spawn that makes
		// the group itself.
		if g, err := New(h, cfg, name, nil); err == nil {
			ahead.g = g
		}
	}()
}

// TakeAhead returns the group made ahead if it has cfg on h, else nil;
// one that does not fit is removed.
func TakeAhead(h *Host, cfg Config) *Group {
	ahead.mu.Lock()
	defer ahead.mu.Unlock()
	if ahead.done == nil {
		return nil
	}
	<-ahead.done
	g := ahead.g
	fits := g != nil && ahead.host == h && reflect.DeepEqual(ahead.cfg, cfg)
	if !fits {
		dropAheadLocked()
		return nil
	}
	ahead.done, ahead.host, ahead.cfg, ahead.g = nil, nil, Config{}, nil
	return g
}

// DropAhead removes a group made ahead that no spawn took.
func DropAhead() {
	ahead.mu.Lock()
	defer ahead.mu.Unlock()
	dropAheadLocked()
}

func dropAheadLocked() {
	if ahead.done == nil {
		return
	}
	<-ahead.done
	if ahead.g != nil {
		ahead.g.Remove(nil)
	}
	ahead.done, ahead.host, ahead.cfg, ahead.g = nil, nil, Config{}, nil
}
