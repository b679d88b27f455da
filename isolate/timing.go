package isolate

import (
	"fmt"
	"strings"
	"time"
)

// Timing is what each part of a spawn cost, as spawn --time shows it:
// the work a user pays for isolation, part by part, on their host.
type Timing struct {
	// Cgroup: making the child's cgroups and writing its limits (and
	// starting the janitor, the first time).
	Cgroup time.Duration
	// Plan: turning the spec into the child stage's program (seccomp
	// filters are compiled here, once per plan).
	Plan time.Duration
	// Clone: clone3 with the new namespaces; the child runs the stage's
	// C at once, with no execve of nsh (clone.h).
	Clone time.Duration
	// Stage: the stage's program (joins, mounts, hostname, sysctls,
	// capabilities, the filter) up to the command's execve, with what
	// nsh does meanwhile (v1 cgroup placement, veths, rlimits).
	Stage time.Duration
	// Command: from its execve to its exit.
	Command time.Duration
	// Cleanup: removing its cgroups and links once it is reaped.
	Cleanup time.Duration
	// Ahead: the cgroups were made while the previous child ran
	// (Options.Again), and Cgroup is only their taking.
	Ahead bool

	lap time.Time
}

// mark returns the time since the last mark and starts the next lap.
func (t *Timing) mark() time.Duration {
	if t == nil {
		return 0
	}
	now := time.Now()
	d := now.Sub(t.lap)
	t.lap = now
	return d
}

func (t *Timing) madeAhead() {
	if t != nil {
		t.Ahead = true
	}
}

func (t *Timing) start() {
	if t != nil {
		t.lap = time.Now()
	}
}

// String is one line, in the order the parts happen.
func (t *Timing) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	cg := "cgroup " + ms(t.Cgroup)
	if t.Ahead {
		cg += " (made while the last child ran)"
	}
	parts := []string{
		cg, "plan " + ms(t.Plan), "clone " + ms(t.Clone),
		"stage " + ms(t.Stage), "command " + ms(t.Command), "cleanup " + ms(t.Cleanup),
	}
	total := t.Cgroup + t.Plan + t.Clone + t.Stage + t.Command + t.Cleanup
	return strings.Join(parts, ", ") + "; total " + ms(total) + " (isolation: " + ms(total-t.Command) + ")"
}
