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
	mu sync.Mutex
	g  *Group
}

// MakeAhead makes a group like like, named name, for a later TakeAhead.
// The caller's child runs meanwhile: on nsh's own thread, not another
// goroutine's, whose start and end woke and parked a thread each time.
// Without a step: explain shows a group's steps when the spawn that needs
// it makes it, so a spawn that explains never takes one. An error is met
// again, and reported, by the spawn that makes the group itself.
func MakeAhead(like *Group, name string) {
	ahead.mu.Lock()
	defer ahead.mu.Unlock()
	dropAheadLocked(nil)
	if g, err := New(like.host, like.cfg, name, nil); err == nil {
		ahead.g = g
	}
}

// TakeAhead returns the group made ahead if it was made from cfg on h,
// else nil; one that does not fit is removed (with step).
func TakeAhead(h *Host, cfg Config, step Step) *Group {
	ahead.mu.Lock()
	defer ahead.mu.Unlock()
	g := ahead.g
	if g == nil || g.host != h || !reflect.DeepEqual(g.cfg, cfg) {
		dropAheadLocked(step)
		return nil
	}
	ahead.g = nil
	return g
}

// DropAhead removes a group made ahead that no spawn took; step shows
// its rmdirs (explain turned on since it was made).
func DropAhead(step Step) {
	ahead.mu.Lock()
	defer ahead.mu.Unlock()
	dropAheadLocked(step)
}

func dropAheadLocked(step Step) {
	if ahead.g != nil {
		ahead.g.Remove(step)
		ahead.g = nil
	}
}
