package commands

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
	"nsh/isolate/seccomp/bpf"
	"nsh/lesson"
	"nsh/plan"
)

// Checks over the real state: what a child printed and how it ended, and
// what the kernel says of it now (its namespaces, hostname, cgroup files,
// capability sets, uid, a system call's answer), and a file's
// capabilities. `expect FORM` runs one in a script; a lesson's `check
// FORM` is the same check, run for a task. Each says what it looked at
// when it fails.

var expectForms = []string{"status", "output", "ns", "hostname", "cgroup", "cap", "uid", "syscall", "filecap"}

func init() {
	later("expect", func() {
		register(&Command{
			Name: "expect", Group: "session",
			Usage: []string{"expect status N", "expect status nonzero",
				"expect output contains TEXT", "expect output not contains TEXT", "expect output matches REGEX",
				"expect ns @ID differs TYPE...", "expect ns @ID shares TYPE...",
				"expect hostname @ID|self NAME", "expect cgroup @ID KEY VALUE...",
				"expect cap @ID|self SET has|lacks CAP...", "expect uid @ID UID",
				"expect syscall NAME [ARG...] refused|allowed [@ID]", "expect filecap PATH has|lacks CAP..."},
			Summary: "fail (an nsh error) unless a child's output or status, or the kernel's state of it now, is as said",
			Help: "A script stops at the first expect that fails, with FILE:LINE: a lesson rendered from it is true where it was rendered.\n" +
				"output is what the last foreground child (spawn, enter) printed on stdout and stderr, in the order it wrote them.\n" +
				"A script that has an expect output gives each foreground child a terminal of nsh's for both (shown on nsh's stdout),\n" +
				"as a lesson does; the REPL leaves children your terminal, so there it is kept only while record --cast runs.\n" +
				"matches takes a Go regular expression ((?m) makes ^ and $ match at each line). ns compares a child's namespaces\n" +
				"with nsh's own; hostname asks the child's uts namespace; cgroup reads the child's cgroup files (v1: the files the\n" +
				"key is written to); cap reads a set (bounding, effective, permitted, inheritable, ambient) of /proc/PID/status;\n" +
				"uid is the effective uid inside the child's user namespace; syscall makes the call in a new child of the plan, or\n" +
				"in @ID's namespaces under its filter (as seccomp test does): refused is an errno or SIGSYS; filecap reads a file's\n" +
				"security.capability. @last is the child spawned last.",
			Example:  "spawn hostname; expect output contains foobar",
			Run:      func(s *Session, c *Command, args []string) error { return runCheck(s, "expect", args) },
			Complete: completeCheck,
		})
	})
}

func completeCheck(s *Session, args []string, partial string) []string {
	if len(args) == 0 {
		return expectForms
	}
	refs := func() []string { return append(s.runningRefs(), "@"+lastChild) }
	switch form, n := args[0], len(args); {
	case form == "status" && n == 1:
		return []string{"0", "nonzero"}
	case form == "output" && n == 1:
		return []string{"contains", "not", "matches"}
	case form == "output" && n == 2 && args[1] == "not":
		return []string{"contains"}
	case form == "ns" && n == 1, form == "uid" && n == 1, form == "cgroup" && n == 1:
		return refs()
	case form == "hostname" && n == 1, form == "cap" && n == 1:
		return append(refs(), "self")
	case form == "ns" && n == 2:
		return []string{"differs", "shares"}
	case form == "ns":
		return plan.Namespaces
	case form == "cgroup" && n == 2:
		return cgroup.KnownKeys()
	case form == "cap" && n == 2:
		return capSets
	case form == "cap" && n == 3, form == "filecap" && n == 2:
		return []string{"has", "lacks"}
	case form == "cap", form == "filecap" && n > 2:
		return capNames()
	case form == "filecap" && n == 1:
		return completeFiles(nil, partial)
	case form == "syscall" && n == 1:
		return bpf.Names()
	case form == "syscall":
		return append([]string{"refused", "allowed"}, refs()...)
	}
	return nil
}

// runCheck runs one check; verb (expect, check) names it in errors.
func runCheck(s *Session, verb string, args []string) error {
	c, _ := Lookup("expect")
	if len(args) == 0 {
		return usageError(c, "say what to expect: "+strings.Join(expectForms, ", "))
	}
	var err error
	switch args[0] {
	case "status":
		err = expectStatus(s, c, args[1:])
	case "output":
		err = expectOutput(s, c, args[1:])
	case "ns":
		err = expectNS(s, c, args[1:])
	case "hostname":
		err = expectHostname(s, c, args[1:])
	case "cgroup":
		err = expectCgroup(s, c, args[1:])
	case "cap":
		err = expectCap(s, c, args[1:])
	case "uid":
		err = expectUID(s, c, args[1:])
	case "syscall":
		err = expectSyscall(s, c, args[1:])
	case "filecap":
		err = expectFilecap(s, c, args[1:])
	default:
		return usageError(c, fmt.Sprintf("%q is not a check: give %s", args[0], strings.Join(expectForms, ", ")))
	}
	if _, ok := err.(*UsageError); ok || err == nil {
		return err
	}
	return fmt.Errorf("%s %s: %w", verb, strings.Join(quoteAll(args), " "), err)
}

func expectStatus(s *Session, c *Command, args []string) error {
	if len(args) != 1 {
		return usageError(c, "say what to expect")
	}
	want := args[0]
	if want != "nonzero" {
		if n, err := strconv.Atoi(want); err != nil || n < 0 || n > 255 {
			return usageError(c, fmt.Sprintf("%q is not a status: give 0-255 or nonzero", want))
		}
	}
	if !s.haveChild {
		return fmt.Errorf("no foreground child has run yet")
	}
	got := s.childStatus
	if (want == "nonzero" && got != 0) || want == strconv.Itoa(got) {
		return nil
	}
	return fmt.Errorf("the last child's status was %d", got)
}

func expectOutput(s *Session, c *Command, args []string) error {
	not := len(args) > 0 && args[0] == "not"
	if not {
		args = args[1:]
	}
	if len(args) < 2 || (args[0] != "contains" && args[0] != "matches") || not && args[0] != "contains" {
		return usageError(c, "say contains TEXT, not contains TEXT or matches REGEX")
	}
	how, want := args[0], strings.Join(args[1:], " ")
	var re *regexp.Regexp
	if how == "matches" {
		var err error
		if re, err = regexp.Compile(want); err != nil {
			return fmt.Errorf("%q is not a regular expression: %w", want, err)
		}
	}
	if !s.haveOutput {
		if !s.haveChild {
			return fmt.Errorf("no foreground child has run yet")
		}
		return fmt.Errorf("the last child's output was not kept: at the prompt it goes to the terminal untouched; use it in a script, or under record --cast")
	}
	// The text as a lesson shows it: no terminal control sequences.
	got := lesson.Clean(s.lastOutput)
	var ok bool
	switch {
	case how == "contains":
		ok = strings.Contains(got, want) != not
	default:
		ok = re.MatchString(got)
	}
	if ok {
		return nil
	}
	return fmt.Errorf("the last child printed %s", quoteOutput(got))
}

// quoteOutput shows a child's output in an error: its end, if long.
func quoteOutput(out string) string {
	if out == "" {
		return "nothing"
	}
	if len(out) > 400 {
		out = "..." + out[len(out)-400:]
	}
	return strconv.Quote(out)
}

// checked is a process a check looks at: nsh itself or one of its
// running children. A check never reads a pid nsh has not verified:
// alive says, after the reads, that the child had not been reaped, so
// what was read was that child's.
type checked struct {
	label string
	pid   int // 0: nsh itself
	alive func() bool
}

func (s *Session) checkTarget(word string, selfOK bool) (checked, error) {
	if word == "self" && selfOK {
		return checked{label: "nsh", alive: func() bool { return true }}, nil
	}
	if !strings.HasPrefix(word, "@") {
		if selfOK {
			return checked{}, fmt.Errorf("%q is not a child: give @ID, @NAME, @last or self", word)
		}
		return checked{}, fmt.Errorf("%q is not a child: give @ID, @NAME or @last", word)
	}
	ch, err := s.lookupChild(word, true)
	if err != nil {
		return checked{}, err
	}
	return checked{label: ch.ref(), pid: ch.proc.Pid, alive: func() bool { return !ch.exited() }}, nil
}

// gone is the error for a child that ended while it was being read.
func (t checked) gone() error {
	return fmt.Errorf("child %s ended while nsh was reading it", t.label)
}

func expectNS(s *Session, c *Command, args []string) error {
	if len(args) < 3 || (args[1] != "differs" && args[1] != "shares") {
		return usageError(c, "say @ID, differs or shares, and namespace types")
	}
	t, err := s.checkTarget(args[0], false)
	if err != nil {
		return err
	}
	child, err := isolate.ProcessNamespaces(t.pid)
	if err != nil {
		return err
	}
	self, err := isolate.ProcessNamespaces(0)
	if err != nil {
		return err
	}
	if !t.alive() {
		return t.gone()
	}
	theirs, ours := inodes(child), inodes(self)
	for _, typ := range args[2:] {
		if !slices.Contains(plan.Namespaces, typ) {
			return usageError(c, fmt.Sprintf("%q is not a namespace type: give %s", typ, strings.Join(plan.Namespaces, ", ")))
		}
		a, b := theirs[typ], ours[typ]
		if a == 0 || b == 0 {
			return fmt.Errorf("cannot read %s's %s namespace", t.label, typ)
		}
		if (a != b) != (args[1] == "differs") {
			rel := "shares nsh's"
			if a != b {
				rel = "has its own"
			}
			return fmt.Errorf("%s %s %s namespace (%s:[%d], nsh's %s:[%d])", t.label, rel, typ, typ, a, typ, b)
		}
	}
	return nil
}

func expectHostname(s *Session, c *Command, args []string) error {
	if len(args) != 2 {
		return usageError(c, "say @ID (or self) and the hostname")
	}
	t, err := s.checkTarget(args[0], true)
	if err != nil {
		return err
	}
	var got string
	switch {
	case t.pid == 0:
		got, err = os.Hostname()
	case os.Geteuid() != 0:
		// A thread may join a uts namespace only with CAP_SYS_ADMIN over
		// the user namespace that owns it: without root, ask from inside,
		// as enter --ns user,uts does.
		got, err = s.askInside(args[0], []string{"user", "uts"}, "uname", "-n")
	default:
		got, err = isolate.ProcessHostname(t.pid)
	}
	if err != nil {
		return err
	}
	if !t.alive() {
		return t.gone()
	}
	if got != args[1] {
		return fmt.Errorf("%s's hostname is %q (asked in its uts namespace)", t.label, got)
	}
	return nil
}

func expectCgroup(s *Session, c *Command, args []string) error {
	if len(args) < 3 {
		return usageError(c, "say @ID, a key and its value")
	}
	t, err := s.checkTarget(args[0], false)
	if err != nil {
		return err
	}
	want, err := cgroup.Parse(args[1], args[2:])
	if err != nil {
		return usageError(c, err.Error())
	}
	p, g, err := s.procGroup("expect cgroup", args[0])
	if err != nil {
		return err
	}
	defer p.release()
	ok, seen, err := g.Holds(want)
	if err != nil {
		return err
	}
	if !t.alive() {
		return t.gone()
	}
	if !ok {
		return fmt.Errorf("%s: %s", t.label, seen)
	}
	return nil
}

func expectCap(s *Session, c *Command, args []string) error {
	if len(args) < 4 || !slices.Contains(capSets, args[1]) || (args[2] != "has" && args[2] != "lacks") {
		return usageError(c, "say @ID (or self), a set ("+strings.Join(capSets, ", ")+"), has or lacks, and capabilities")
	}
	want, err := capability.ParseList(args[3:])
	if err != nil {
		return usageError(c, err.Error())
	}
	t, err := s.checkTarget(args[0], true)
	if err != nil {
		return err
	}
	cr, err := isolate.ReadCreds(t.pid, false)
	if t.pid == 0 {
		cr, err = isolate.ReadCreds(os.Getpid(), false)
	}
	if err != nil {
		return err
	}
	if !t.alive() {
		return t.gone()
	}
	set := map[string]uint64{"bounding": cr.Bounding, "effective": cr.Effective, "permitted": cr.Permitted,
		"inheritable": cr.Inheritable, "ambient": cr.Ambient}[args[1]]
	wrong := want &^ set // has: the ones missing
	how := "lacks"
	if args[2] == "lacks" {
		wrong, how = want&set, "has"
	}
	if wrong != 0 {
		return fmt.Errorf("%s's %s set %s %s (it holds: %s)", t.label, args[1], how, strings.Join(capability.Names(wrong), " "), strings.Trim(namesOrNone(set), "()"))
	}
	return nil
}

func expectUID(s *Session, c *Command, args []string) error {
	if len(args) != 2 {
		return usageError(c, "say @ID and a uid")
	}
	want, err := strconv.Atoi(args[1])
	if err != nil || want < 0 {
		return usageError(c, fmt.Sprintf("%q is not a uid: give a number", args[1]))
	}
	t, err := s.checkTarget(args[0], false)
	if err != nil {
		return err
	}
	cr, err := isolate.ReadCreds(t.pid, true)
	if err != nil {
		return err
	}
	if !t.alive() {
		return t.gone()
	}
	if cr.UID != want {
		return fmt.Errorf("%s runs as uid %d (effective, inside its user namespace)", t.label, cr.UID)
	}
	return nil
}

func expectSyscall(s *Session, c *Command, args []string) error {
	var ref string
	if n := len(args); n > 0 && strings.HasPrefix(args[n-1], "@") {
		ref, args = args[n-1], args[:n-1]
	}
	n := len(args)
	if n < 2 || (args[n-1] != "refused" && args[n-1] != "allowed") {
		return usageError(c, "say a system call, its arguments, then refused or allowed")
	}
	want := args[n-1]
	pr, err := parseProbe(args[:n-1])
	if err != nil {
		return usageError(c, err.Error())
	}
	where, res, err := s.probe(pr, ref)
	if err != nil {
		return err
	}
	refused := res.Answered && res.Ret == -1 && res.Errno != 0 || res.Signal != 0
	if refused != (want == "refused") {
		return fmt.Errorf("%s(%s) in %s: %s", pr.Name, pr.ArgsText(), where, res)
	}
	return nil
}

func expectFilecap(s *Session, c *Command, args []string) error {
	if len(args) < 3 || (args[1] != "has" && args[1] != "lacks") {
		return usageError(c, "say a file, has or lacks, and capabilities")
	}
	want, err := capability.ParseList(args[2:])
	if err != nil {
		return usageError(c, err.Error())
	}
	fc, ok, err := capability.GetFile(args[0])
	if err != nil {
		return err
	}
	var have uint64
	if ok {
		have = fc.Permitted
	}
	wrong, how := want&^have, "lacks"
	if args[1] == "lacks" {
		wrong, how = want&have, "has"
	}
	if wrong != 0 {
		return fmt.Errorf("%s %s %s in its permitted file capabilities (it holds: %s)", args[0], how, strings.Join(capability.Names(wrong), " "), strings.Trim(namesOrNone(have), "()"))
	}
	return nil
}

func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = Quote(w)
	}
	return out
}

// capNames are the capabilities' names as cap takes them: net_raw.
func capNames() []string {
	var out []string
	for c := 0; c <= capability.Last(); c++ {
		out = append(out, strings.TrimPrefix(capability.Name(c), "cap_"))
	}
	return out
}

// askInside runs a command in some of a running child's namespaces (as
// enter does) and returns the first line it prints.
func (s *Session) askInside(ref string, types []string, args ...string) (string, error) {
	ch, err := s.lookupChild(ref, true)
	if err != nil {
		return "", err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return "", err
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	proc, err := isolate.Enter(ch.proc, types, args, isolate.Options{Stdin: devnull, Stdout: w, Stderr: devnull, Step: s.stepper()})
	w.Close()
	if err != nil {
		return "", fmt.Errorf("ask %s: %w", ch.ref(), err)
	}
	out, _ := io.ReadAll(io.LimitReader(r, 4096))
	if st, err := proc.Wait(); err != nil || st != 0 {
		return "", fmt.Errorf("ask %s with %s: status %d %v", ch.ref(), strings.Join(args, " "), st, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line, nil
}
