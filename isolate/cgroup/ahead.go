package cgroup

import (
	"reflect"
	"sync"
)

// A group made ahead: while one child runs, a script that spawns again
// has the next child's cgroup made, with the same configuration, so that
// the next spawn finds it ready instead of making it on its way to the
// clone. There is at most one; it is announced to the janitor like any
// group, and Cleanup removes it if no spawn took it.
var ahead struct {
	mu   sync.Mutex
	host *Host
	cfg  Config
	g    *Group
}

// MakeAhead makes a group named name with cfg on h, for a later
// TakeAhead. The caller's child runs meanwhile: on nsh's own thread, not
// another goroutine's, whose start and end woke and parked a thread
// each time. Without a step: explain shows a group's steps when the spawn
// that needs it makes it, so a spawn that explains never takes one. An
// error is met again, and reported, by the spawn that makes the group
// itself.
func MakeAhead(h *Host, cfg Config, name string) {
	ahead.mu.Lock()
	defer ahead.mu.Unlock()
	dropAheadLocked()
	if g, err := New(h, cfg, name, nil); err == nil {
		ahead.host, ahead.cfg, ahead.g = h, cfg, g
	}
}

// TakeAhead returns the group made ahead if it has cfg on h, else nil;
// one that does not fit is removed.
func TakeAhead(h *Host, cfg Config) *Group {
	ahead.mu.Lock()
	defer ahead.mu.Unlock()
	g := ahead.g
	if g == nil || ahead.host != h || !reflect.DeepEqual(ahead.cfg, cfg) {
		dropAheadLocked()
		return nil
	}
	ahead.host, ahead.cfg, ahead.g = nil, Config{}, nil
	return g
}

// DropAhead removes a group made ahead that no spawn took.
func DropAhead() {
	ahead.mu.Lock()
	defer ahead.mu.Unlock()
	dropAheadLocked()
}

func dropAheadLocked() {
	if ahead.g != nil {
		ahead.g.Remove(nil)
	}
	ahead.host, ahead.cfg, ahead.g = nil, Config{}, nil
}
