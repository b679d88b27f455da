package commands

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"nsh/internal/standin"
	"nsh/plan"
)

// TestUnshareJoinMatrix tries every pair of a namespace to unshare and
// one to join, with and without a new user namespace, for spawn, spawn -d
// and enter. Each either runs with the right pid (ps shows the process
// that runs the command, as nsh's pid namespace numbers it, in the
// child's own cgroup) or is refused with a reason; nothing is left
// behind, and the stand-in PID 1 (package standin) is never touched.
func TestUnshareJoinMatrix(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("joins namespaces of other children")
	}
	s := realSession(t)
	defer s.Close()
	// The namespaces to join: one child with all but user, one with all.
	if err := s.RunScript("t", "unshare uts ipc mnt net pid cgroup time; spawn -d --name plain sleep 600; unshare user; spawn -d --name owned sleep 600; reset"); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, user := range []bool{false, true} {
		for _, t1 := range plan.Namespaces {
			for _, t2 := range plan.Namespaces {
				name := fmt.Sprintf("unshare %s, join %s", t1, t2)
				if user {
					name += ", unshare user"
				}
				if user && t1 == "user" {
					continue // the same as without
				}
				from := "@plain"
				if t2 == "user" || user {
					from = "@owned"
				}
				plan := fmt.Sprintf("reset; unshare %s; join %s %s", t1, t2, from)
				if user {
					plan = "reset; unshare user; " + plan[len("reset; "):]
				}
				if err := s.RunScript("t", plan); err != nil {
					// Refused as a plan (unshare and join of one type):
					// a reason, and nothing to check.
					if !strings.Contains(err.Error(), t2) {
						t.Errorf("%s: refused without naming %s: %v", name, t2, err)
					}
					continue
				}
				if ok := matrixCase(t, s, name); ok {
					ran++
				}
				if d := standin.Changed(); d != "" {
					t.Fatalf("%s: %s", name, d)
				}
			}
		}
	}
	if ran < 40 {
		t.Errorf("only %d combinations ran; the kernel refused the rest", ran)
	}
	t.Logf("%d combinations ran", ran)
}

// matrixCase runs one plan three ways; false when the kernel refused it.
func matrixCase(t *testing.T, s *Session, name string) bool {
	t.Helper()
	if err := s.Exec([]string{"spawn", "true"}); err != nil {
		// The kernel may refuse a join (joining a namespace of another
		// user namespace from a new one): then spawn -d must refuse too.
		if err2 := s.Exec([]string{"spawn", "-d", "--name", "m", "sleep", "30"}); err2 == nil {
			t.Errorf("%s: spawn failed (%v) but spawn -d ran", name, err)
		}
		return false
	}
	if s.Status() != 0 {
		t.Errorf("%s: spawn true: status %d", name, s.Status())
	}
	var out bytes.Buffer
	s.Out = &out
	if err := s.Exec([]string{"spawn", "-d", "--name", "m", "sleep", "30"}); err != nil {
		t.Errorf("%s: spawn ran but spawn -d did not: %v", name, err)
		return false
	}
	ch, err := s.lookupChild("@m", true)
	if err != nil {
		t.Fatal(err)
	}
	pid := ch.proc.Pid
	// The pid is the process that runs sleep, as nsh numbers it.
	cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if !strings.HasPrefix(string(cmd), "sleep\x00") {
		t.Errorf("%s: pid %d runs %q, not sleep", name, pid, cmd)
	}
	if cg := cgroupOf(pid); !strings.Contains(cg, "nsh-") {
		t.Errorf("%s: pid %d is in cgroup %s, not its own", name, pid, cg)
	}
	out.Reset()
	if err := s.Exec([]string{"ps"}); err != nil || !strings.Contains(out.String(), " "+strconv.Itoa(pid)+" ") {
		t.Errorf("%s: ps does not show pid %d (%v):\n%s", name, pid, err, out.String())
	}
	if err := s.Exec([]string{"enter", "@m", "true"}); err != nil || s.Status() != 0 {
		t.Errorf("%s: enter @m true: %v, status %d", name, err, s.Status())
	}
	if err := s.Exec([]string{"kill", "@m", "KILL"}); err != nil {
		t.Errorf("%s: kill: %v", name, err)
	}
	if err := s.Exec([]string{"wait", "@m"}); err != nil {
		t.Errorf("%s: wait: %v", name, err)
	}
	// Behind a relay the command dies of its parent-death signal just
	// after the relay, and stays a zombie of the joined namespace's init
	// (a sleep here, which never reaps).
	if !gone(pid) {
		t.Errorf("%s: pid %d is still running after kill and wait", name, pid)
	}
	// Names are reused: forget the ended child.
	if err := s.Exec([]string{"ps", "--prune"}); err != nil {
		t.Fatal(err)
	}
	return true
}

// gone says whether pid ended (a zombie counts) within a second.
func gone(pid int) bool {
	for try := 0; try < 100; try++ {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
