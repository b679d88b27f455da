package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"nsh/isolate"
	"nsh/isolate/cgroup"
	"nsh/plan"
)

// jobs is the session's table of children, which spawn -d, ps, kill,
// wait and logs share; mu guards it against the signal handler that ends
// them.
type jobs struct {
	mu       sync.Mutex
	children []*child
	nextID   int
	fg       *isolate.Child // the foreground child, while one runs
}

// child is a detached child of the session.
type child struct {
	id   int
	name string
	args []string
	ns   string // its namespaces, for ps
	proc *isolate.Child
	out  *ringBuffer
	plan *plan.Spec // what it was started from

	done chan struct{} // closed once reaped and its output drained
	// started and lived: a detached child that ends within a moment is
	// explained (a shell with nothing on its stdin ends at once).
	started time.Time
	lived   time.Duration
	told    bool // Ended has said how it ended
	mu      sync.Mutex
	ws      int    // status, once done
	oom     string // why it died, when the OOM killer ended it
	pids    string // how many forks pids.max refused it
}

func (c *child) ref() string {
	if c.name != "" {
		return fmt.Sprintf("@%d (%s)", c.id, c.name)
	}
	return fmt.Sprintf("@%d", c.id)
}

// atOnce explains a detached child that ended as soon as it started
// without an error: what a newcomer's `spawn -d sh` does. "" otherwise.
func (c *child) atOnce() string {
	if !c.exited() {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lived >= time.Second || c.ws != 0 || c.oom != "" || !shellReadingStdin(c.args) {
		return ""
	}
	return fmt.Sprintf("it ended %v after it started: a detached child reads an empty stdin (/dev/null), so a shell ends at once; keep one running with `spawn -d sleep inf`, or run a shell in the foreground with `spawn`", c.lived.Round(time.Millisecond))
}

// shellReadingStdin says whether args start a shell that reads its
// commands from stdin (no -c, no script): detached, it ends at once.
func shellReadingStdin(args []string) bool {
	if len(args) == 0 {
		return true // the plan's process or the default shell
	}
	switch filepath.Base(args[0]) {
	case "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox":
	default:
		return false
	}
	for _, a := range args[1:] {
		if a == "-c" || !strings.HasPrefix(a, "-") {
			return false
		}
	}
	return true
}

// Ended says, once each, which detached children ended at once since it
// was last asked: the REPL says it before its next prompt, so `spawn -d
// sh` is explained when it happens, not when the child is next named.
func (s *Session) Ended() []string {
	list := s.snapshot()
	var out []string
	for _, c := range list {
		if c.told || !c.exited() {
			continue
		}
		c.told = true
		if why := c.atOnce(); why != "" {
			out = append(out, fmt.Sprintf("%s %s: %s", c.ref(), c.state(), why))
		}
	}
	return append(out, s.pairNotes()...)
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) state() string {
	if p := c.phase(); p != "exited" {
		return p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lived < time.Second && c.ws == 0 && c.oom == "" && shellReadingStdin(c.args) {
		return describeStatus(c.ws) + " at once"
	}
	if strings.HasPrefix(c.oom, "killed") {
		return c.oom
	}
	if c.oom != "" {
		return describeStatus(c.ws) + "; " + c.oom
	}
	return describeStatus(c.ws)
}

// phase is the child's state in one word, as ps --json says it: running,
// frozen (cgroup freeze) or exited.
func (c *child) phase() string {
	switch {
	case c.exited():
		return "exited"
	case c.proc.Frozen():
		return "frozen"
	}
	return "running"
}

func describeStatus(st int) string {
	if st > 128 && st < 128+65 {
		return "killed by " + unix.SignalName(unix.Signal(st-128))
	}
	return fmt.Sprintf("exited %d", st)
}

func init() {
	later("ps kill wait logs", func() {
		register(
			&Command{
				Name: "ps", Group: "children",
				Usage:   []string{"ps [--json]", "ps --tree [PID|@ID] [--json]", "ps --prune"},
				JSON:    func(args []string) bool { return len(args) == 0 || args[0] == "--tree" },
				Summary: "the children: id, name, host pid, state, command, namespaces, cgroup",
				Example: "ps --prune",
				Help:    "Exited children stay listed until the session ends; --prune forgets them.",
				Run:     runPs,
				Complete: func(s *Session, args []string, partial string) []string {
					switch {
					case len(args) == 0:
						return []string{"--json", "--prune", "--tree"}
					case args[0] == "--tree" && len(args) == 1:
						return append(s.runningRefs(), "--json")
					}
					return nil
				},
			},
			&Command{
				Name: "kill", Group: "children",
				Usage:    []string{"kill @ID [SIGNAL]", "kill PID [SIGNAL] --force"},
				Summary:  "send a signal to a child (default TERM)",
				Example:  "kill @web INT",
				Help:     "SIGNAL is a name (TERM, SIGKILL, int) or a number.",
				Run:      runKill,
				Complete: completeRunningChild,
			},
			&Command{
				Name: "wait", Group: "children",
				Usage:    []string{"wait @ID"},
				Summary:  "wait for a detached child; its status becomes the command's (and expect's)",
				Example:  "wait @web; expect status 0",
				Run:      runWait,
				Complete: completeChildArg(0),
			},
			&Command{
				Name: "logs", Group: "children",
				Usage:    []string{"logs @ID"},
				Summary:  "what a detached child printed (the last 1 MiB)",
				Example:  "logs @web",
				Run:      runLogs,
				Complete: completeChildArg(0),
			},
		)
	})
}

// completeRunningChild offers only children that are still running (kill).
func completeRunningChild(s *Session, args []string, partial string) []string {
	if len(args) == 0 {
		return s.runningRefs()
	}
	return nil
}

// snapshot is the table as it is now, to read without holding the lock
// (a child's own state has its own).
func (s *jobs) snapshot() []*child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*child(nil), s.children...)
}

// runningRefs are the @IDs and @NAMEs of the children still running.
func (s *jobs) runningRefs() []string {
	list := s.snapshot()
	var out []string
	for _, c := range list {
		if c.exited() {
			continue
		}
		out = append(out, "@"+strconv.Itoa(c.id))
		if c.name != "" {
			out = append(out, "@"+c.name)
		}
	}
	return out
}

// completeChildArg completes @IDs and @NAMEs as argument n.
func completeChildArg(n int) func(s *Session, args []string, partial string) []string {
	return func(s *Session, args []string, partial string) []string {
		skip := 0
		for i, a := range args {
			if a == "--ns" && i+1 < len(args) {
				skip += 2
			}
		}
		if len(args)-skip == n {
			return s.childRefs()
		}
		return nil
	}
}

func (s *jobs) childRefs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.children {
		out = append(out, "@"+strconv.Itoa(c.id))
		if c.name != "" {
			out = append(out, "@"+c.name)
		}
	}
	return out
}

// lookupChild resolves @ID or @NAME; running insists that it runs.
func (s *jobs) lookupChild(word string, running bool) (*child, error) {
	if !strings.HasPrefix(word, "@") || len(word) < 2 {
		return nil, fmt.Errorf("%q is not a child: give @ID or @NAME (see ps)", word)
	}
	key := word[1:]
	s.mu.Lock()
	var found *child
	for _, c := range s.children {
		if strconv.Itoa(c.id) == key || c.name == key || key == lastChild {
			found = c
		}
	}
	s.mu.Unlock()
	if found == nil && key == lastChild {
		return nil, fmt.Errorf("no child yet: @last is the child spawned last (spawn -d starts one that stays)")
	}
	if found == nil {
		return nil, fmt.Errorf("no child %s: ps lists the children", word)
	}
	if running && found.exited() {
		if why := found.atOnce(); why != "" {
			return nil, fmt.Errorf("child %s is gone (%s); %s", found.ref(), found.state(), why)
		}
		return nil, fmt.Errorf("child %s is gone (%s)", found.ref(), found.state())
	}
	return found, nil
}

// lastChild is the name (@last) of whichever child was spawned last: a
// lesson's check looks at the learner's child, whatever they named it.
const lastChild = "last"

// childName is compiled when first used, not at every start of nsh.
var childName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`) })

// spawnDetached starts a child in the background with its output kept.
func (s *Session) spawnDetached(name string, spec *plan.Spec, args []string) error {
	if name != "" {
		if !childName().MatchString(name) {
			return fmt.Errorf("spawn: bad name %q: start with a letter, then letters, digits, '.', '_' or '-'", name)
		}
		if name == lastChild {
			return fmt.Errorf("spawn: %q names the child spawned last (@last): pick another name", name)
		}
		if _, err := s.lookupChild("@"+name, false); err == nil {
			return fmt.Errorf("spawn: a child is already named %q: pick another name, or ps --prune", name)
		}
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	proc, err := isolate.Launch(spec, isolate.Options{
		Args:  args,
		Stdin: devnull, Stdout: w, Stderr: w,
		Detached: true,
		Step:     s.stepper(),
		Notice:   func(msg string) { fmt.Fprintf(s.Err, "spawn: %s\n", msg) },
		Verify:   s.verifyJoins(spec),
		Again:    s.again,
	})
	w.Close()
	if err != nil {
		r.Close()
		return err
	}
	s.mu.Lock()
	s.nextID++
	c := &child{id: s.nextID, name: name, args: args, ns: nsSummary(spec), proc: proc, plan: spec, out: &ringBuffer{}, done: make(chan struct{}), started: time.Now()}
	s.children = append(s.children, c)
	s.mu.Unlock()

	drained := make(chan struct{})
	go func() {
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			c.out.Write(buf[:n])
			if err != nil {
				break
			}
		}
		r.Close()
		close(drained)
	}()
	go func() {
		st, _ := proc.Wait()
		// What the child wrote just before it exited is still in the
		// pipe; a grandchild holding the pipe open must not delay this.
		select {
		case <-drained:
		case <-time.After(100 * time.Millisecond):
		}
		c.mu.Lock()
		c.ws = st
		c.oom = oomNote(proc, spec, st)
		c.pids = pidsNote(proc, spec)
		c.lived = time.Since(c.started)
		c.mu.Unlock()
		close(c.done)
	}()
	fmt.Fprintf(s.Out, "@%d pid %d\n", c.id, proc.Pid)
	if s.Interactive {
		// A child that ends at once (a shell reading /dev/null) is
		// explained at the very next prompt: give it a moment to.
		select {
		case <-c.done:
		case <-time.After(150 * time.Millisecond):
		}
	}
	return nil
}

func nsSummary(spec *plan.Spec) string {
	parts := append([]string(nil), spec.Namespaces...)
	for _, j := range spec.Join {
		parts = append(parts, j.Type+"="+j.Ref)
	}
	if len(parts) == 0 {
		return "(nsh's)"
	}
	return strings.Join(parts, ",")
}

// Close ends every child nsh started: TERM, then KILL after a short
// grace, and reaps them. Pins stay: they are meant to outlive nsh.
func (s *Session) Close() {
	// A signal and the end of the script may both close the session; the
	// second waits for the first.
	s.closing.Lock()
	defer s.closing.Unlock()
	s.mu.Lock()
	var running []*child
	for _, c := range s.children {
		if !c.exited() {
			running = append(running, c)
		}
	}
	fg := s.fg
	s.mu.Unlock()
	if fg != nil {
		fg.Stop(grace)
	}
	for _, c := range running {
		s.explain(fmt.Sprintf("end %s: SIGTERM, SIGKILL after %s", c.ref(), grace))
		c.proc.Terminate()
	}
	deadline := time.After(grace)
	for _, c := range running {
		select {
		case <-c.done:
		case <-deadline:
		}
	}
	for _, c := range running {
		if !c.exited() {
			c.proc.KillAll()
		}
	}
	for _, c := range running {
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
		}
	}
	// Their overlay layers (unless the user named the upper to keep).
	s.mu.Lock()
	for _, c := range s.children {
		if c.exited() {
			c.proc.Layer.Remove()
		}
	}
	s.mu.Unlock()
	// The page's viewers are told the session ended; then the scratch
	// directory and the layer cache, once nothing runs in them.
	s.endPairing()
	s.endScratch()
	s.endImageCache()
	// What the children left to nsh (it is their subreaper), then nsh's
	// own cgroup changes, and the janitor.
	isolate.EndOrphans()
	cgroup.Cleanup()
	// A recording ends with the session, complete.
	if err := s.endRecording(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		s.Unwritten = true
	}
	if err := s.stopTranscript(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		s.Unwritten = true
	}
}

const grace = time.Second
