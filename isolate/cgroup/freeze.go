package cgroup

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"nsh/internal/kfile"
)

// Freeze stops every process of the group where it stands (cgroup.freeze
// on v2, the freezer on v1) and returns what thaws them, or nil when the
// group cannot be frozen: not nsh's, or no freezer. commit and diff read a
// child's layer frozen, so what they see is one moment of it.
func (g *Group) Freeze(step Step) func() {
	if g == nil || !g.owned {
		return nil
	}
	if d := g.UnifiedDir(); d != "" && !holdsInit(d) {
		f := filepath.Join(d, "cgroup.freeze")
		if _, err := os.Stat(f); err == nil {
			thaw := func() { writeFile(step, f, "0") }
			if writeFile(step, f, "1") != nil {
				return nil
			}
			if waitFor(filepath.Join(d, "cgroup.events"), "frozen 1") {
				return thaw
			}
			thaw()
			return nil
		}
	}
	x := g.host.V1For("freezer")
	if x == nil {
		return nil
	}
	d := g.dirFor(x)
	if d == "" || holdsInit(d) {
		return nil
	}
	f := filepath.Join(d, "freezer.state")
	thaw := func() { writeFile(step, f, "THAWED") }
	if writeFile(step, f, "FROZEN") != nil {
		return nil
	}
	if waitFor(f, "FROZEN") {
		return thaw
	}
	thaw()
	return nil
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
