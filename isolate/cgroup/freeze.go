package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"nsh/internal/kfile"
)

// ErrNoFreezer: the group has no freezer nsh may write (cgroup.freeze on
// v2, the v1 freezer hierarchy), or is not nsh's.
var ErrNoFreezer = errors.New("no freezer of nsh's for this child: it needs a cgroup nsh made, with cgroup.freeze (v2) or the freezer controller (v1)")

// freezer is the file that freezes the group, and the values that freeze
// and thaw it: v2's cgroup.freeze where there is one (a unified
// hierarchy, hybrid included), else v1's freezer.state.
func (g *Group) freezer() (file, on, off, done string, ok bool) {
	if g == nil || !g.owned {
		return "", "", "", "", false
	}
	if d := g.UnifiedDir(); d != "" && !holdsInit(d) {
		f := filepath.Join(d, "cgroup.freeze")
		if _, err := os.Stat(f); err == nil {
			return f, "1", "0", filepath.Join(d, "cgroup.events"), true
		}
	}
	x := g.host.V1For("freezer")
	if x == nil {
		return "", "", "", "", false
	}
	d := g.dirFor(x)
	if d == "" || holdsInit(d) {
		return "", "", "", "", false
	}
	f := filepath.Join(d, "freezer.state")
	return f, "FROZEN", "THAWED", f, true
}

// Frozen says whether the group's own freezer holds it (docker pause):
// an ancestor's is not nsh's to undo.
func (g *Group) Frozen() bool {
	file, on, _, _, ok := g.freezer()
	if !ok {
		return false
	}
	b, err := kfile.ReadFile(file)
	v := strings.TrimSpace(string(b))
	return err == nil && (v == on || v == "FREEZING")
}

// SetFrozen freezes (docker pause) or thaws (docker unpause) every
// process of the group, and waits until the kernel says they all stopped.
func (g *Group) SetFrozen(on bool, step Step) error {
	file, freeze, thaw, done, ok := g.freezer()
	if !ok {
		return ErrNoFreezer
	}
	if !on {
		return writeFile(step, file, thaw)
	}
	if err := writeFile(step, file, freeze); err != nil {
		return err
	}
	want := "frozen 1"
	if done == file {
		want = "FROZEN"
	}
	if !waitFor(done, want) {
		writeFile(step, file, thaw)
		return fmt.Errorf("freeze %s: the kernel did not say frozen within a second; thawed it again", filepath.Dir(file))
	}
	return nil
}

// Freeze stops every process of the group where it stands and returns
// what thaws them, or nil when the group cannot be frozen: not nsh's, or
// no freezer. commit and diff read a child's layer frozen, so what they
// see is one moment of it. A group already frozen (cgroup freeze) stays
// frozen afterwards: the thaw is the user's to give.
func (g *Group) Freeze(step Step) func() {
	if _, _, _, _, ok := g.freezer(); !ok {
		return nil
	}
	if g.Frozen() {
		return func() {}
	}
	if g.SetFrozen(true, step) != nil {
		return nil
	}
	return func() { g.SetFrozen(false, step) }
}

// waitFor waits up to a second for a line of file to read want: freezing
// takes until every task has stopped.
func waitFor(file, want string) bool {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, _ := kfile.ReadFile(file)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(l) == want {
				return true
			}
		}
	}
	return false
}
