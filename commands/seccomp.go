package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"nsh/importer"
	"nsh/internal/near"
	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/seccomp"
	"nsh/isolate/seccomp/bpf"
	"nsh/plan"
)

func init() {
	later("seccomp", func() {
		register(&Command{
			Name: "seccomp", Group: "capabilities",
			Summary: "children's system call filter: Docker's default profile, rules of your own",
			Example: "seccomp preset docker; seccomp test unshare",
			Help: "preset docker is Docker's default profile (moby/profiles), resolved as Docker resolves it\n" +
				"against the child's planned bounding set: cap preset docker closes mount, unshare, keyctl...;\n" +
				"with every capability many of them open. deny and allow name calls (man 2 syscalls) whose\n" +
				"rules replace the preset's for them; deny's action is errno EPERM unless given. default sets\n" +
				"the action for every call no rule names. load takes a profile whole, in Docker's JSON format\n" +
				"(docker run --security-opt seccomp=FILE) or an OCI config's linux.seccomp. Architectures: this machine's (x86_64 with i386\n" +
				"and x32). Compiled by libseccomp, as runc does, once per plan; the child stage installs it\n" +
				"last: just before execve with nonewprivs on, else before dropping capabilities (a non-root\n" +
				"user needs nonewprivs on). show: the plan, or a process's mode and filters (/proc/PID/status)\n" +
				"and, for a child, the plan it started with. test makes one call (ARGs are numbers, 0 if\n" +
				"left out) in a new child of the plan, or inside @ID under its filter, and prints the answer.",
			Subs: []Sub{
				{Name: "preset", Usage: []string{"seccomp preset docker|off"}, Run: seccompEdit("preset", seccompPreset),
					Complete: func(s *Session, args []string, partial string) []string { return firstOnly(args, seccomp.Presets) }},
				{Name: "load", Usage: []string{"seccomp load FILE.json", "seccomp load --text JSON"}, Run: seccompEdit("load", seccompLoad),
					Complete: func(s *Session, args []string, partial string) []string {
						return firstOnly(args, completeFiles(nil, partial))
					}},
				{Name: "reset", Usage: []string{"seccomp reset"}, Run: seccompEdit("reset", seccompReset)},
				{Name: "deny", Usage: []string{"seccomp deny SYSCALL... [errno NAME|kill|log]"}, Run: seccompEdit("deny", seccompRule("deny")), Complete: completeDeny},
				{Name: "allow", Usage: []string{"seccomp allow SYSCALL..."}, Run: seccompEdit("allow", seccompRule("allow")),
					Complete: func(s *Session, args []string, partial string) []string { return bpf.Names() }},
				{Name: "default", Usage: []string{"seccomp default errno NAME|kill|allow|log"}, Run: seccompEdit("default", seccompDefault), Complete: completeDefault},
				{Name: "show", Usage: []string{"seccomp show [@ID|PID]"}, Run: seccompShow, JSON: true,
					Complete: func(s *Session, args []string, partial string) []string { return firstOnly(args, s.runningRefs()) }},
				{Name: "test", Usage: []string{"seccomp test SYSCALL [ARG...] [@ID]"}, Run: seccompTest,
					Complete: func(s *Session, args []string, partial string) []string {
						if len(args) == 0 {
							return bpf.Names()
						}
						return s.runningRefs()
					}},
			},
			Bare:     seccompShowPlan,
			BareJSON: true,
		})
	})
}

// firstOnly offers words for a subcommand's first argument only.
func firstOnly(args []string, words []string) []string {
	if len(args) == 0 {
		return words
	}
	return nil
}

func completeDefault(s *Session, args []string, partial string) []string {
	switch {
	case len(args) == 0:
		return seccomp.ActionWords
	case len(args) == 1 && args[0] == "errno":
		return seccomp.ErrnoNames()
	}
	return nil
}

func completeDeny(s *Session, args []string, partial string) []string {
	if n := len(args); n > 0 && args[n-1] == "errno" {
		return seccomp.ErrnoNames()
	}
	if n := len(args); n > 0 && slices.Contains([]string{"kill", "log"}, args[n-1]) {
		return nil
	}
	return append(bpf.Names(), "errno", "kill", "log")
}

// seccompEdit runs a change of the plan's filter: on a copy, compiled
// before it replaces the session's (a plan that cannot compile changes
// nothing), then said.
func seccompEdit(name string, edit func(s *Session, c *Command, plan *seccomp.Plan, args []string) (*seccomp.Plan, error)) func(*Session, *Command, []string) error {
	return func(s *Session, c *Command, args []string) error {
		next := s.Spec.Clone()
		plan := next.Seccomp
		if plan == nil {
			plan = &seccomp.Plan{}
		}
		plan, err := edit(s, c, plan, args)
		if err != nil {
			return err
		}
		if plan.Empty() && (plan == nil || plan.Default == nil) {
			plan = nil
		}
		next.Seccomp = plan
		if _, err := isolate.SeccompFilter(next); err != nil {
			return fmt.Errorf("seccomp %s: %w", name, err)
		}
		if err := s.commit(next); err != nil {
			return err
		}
		seccompNote(s)
		return nil
	}
}

func seccompShow(s *Session, c *Command, args []string) error {
	switch len(args) {
	case 0:
		return seccompShowPlan(s)
	case 1:
		return seccompShowProcess(s, args[0])
	}
	return usageError(c, "seccomp show takes at most one process")
}

func seccompReset(s *Session, c *Command, plan *seccomp.Plan, args []string) (*seccomp.Plan, error) {
	if len(args) != 0 {
		return nil, usageError(c, "seccomp reset takes no arguments")
	}
	return nil, nil
}

func seccompLoad(s *Session, c *Command, plan *seccomp.Plan, args []string) (*seccomp.Plan, error) {
	var body []byte
	switch {
	case len(args) == 2 && args[0] == "--text":
		body = []byte(args[1])
	case len(args) == 1:
		b, err := importer.ReadSmallFile(args[0])
		if err != nil {
			return nil, fmt.Errorf("seccomp load: %w", err)
		}
		body = b
	default:
		return nil, usageError(c, "seccomp load takes one profile file")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return nil, fmt.Errorf("seccomp load: not JSON: %w", err)
	}
	return &seccomp.Plan{Profile: compact.Bytes()}, nil
}

func seccompPreset(s *Session, c *Command, plan *seccomp.Plan, args []string) (*seccomp.Plan, error) {
	if len(args) != 1 {
		return nil, usageError(c, "name one preset: docker or off")
	}
	switch args[0] {
	case "docker":
		plan.Preset, plan.Profile = "docker", nil
	case "off":
		plan.Preset, plan.Profile = "", nil
	default:
		return nil, fmt.Errorf("seccomp preset: unknown preset %q%s: give docker or off", args[0], near.Hint(args[0], seccomp.Presets))
	}
	return plan, nil
}

func seccompDefault(s *Session, c *Command, plan *seccomp.Plan, args []string) (*seccomp.Plan, error) {
	a, err := seccomp.ParseAction(args)
	if err != nil {
		return nil, fmt.Errorf("seccomp default: %w", err)
	}
	plan.Default = &a
	return plan, nil
}

// seccompRule is deny or allow: rules for the calls named.
func seccompRule(sub string) func(s *Session, c *Command, plan *seccomp.Plan, args []string) (*seccomp.Plan, error) {
	return func(s *Session, c *Command, plan *seccomp.Plan, args []string) (*seccomp.Plan, error) {
		names, action := args, []string(nil)
		if sub == "deny" {
			for i, w := range args {
				if slices.Contains([]string{"errno", "kill", "log", "allow"}, strings.ToLower(w)) {
					names, action = args[:i], args[i:]
					break
				}
			}
		}
		if len(names) == 0 {
			return nil, usageError(c, "name at least one system call")
		}
		if err := bpf.CheckNames(names); err != nil {
			return nil, fmt.Errorf("seccomp %s: %w", sub, err)
		}
		a := seccomp.Action{Kind: "allow"}
		if sub == "deny" {
			a = seccomp.Action{Kind: "errno", Errno: 1}
			if action != nil {
				var err error
				if a, err = seccomp.ParseAction(action); err != nil {
					return nil, fmt.Errorf("seccomp deny: %w", err)
				}
				if a.Kind == "allow" {
					return nil, fmt.Errorf("seccomp deny: allow is not a way to deny: use seccomp allow %s", strings.Join(names, " "))
				}
			}
		}
		plan.Set(names, a)
		return plan, nil
	}
}

// seccompNote says when the kernel will refuse the filter, or the
// filter the command, as things stand.
func seccompNote(s *Session) {
	sp := s.Spec
	if sp.Seccomp.Empty() {
		return
	}
	if !sp.NoNewPrivs && !sp.Has("user") && os.Geteuid() != 0 {
		fmt.Fprintf(s.Err, "seccomp: nsh runs as uid %d: the kernel installs a filter for a process without CAP_SYS_ADMIN only with no_new_privs: nonewprivs on\n", os.Getuid())
	}
	if p := sp.Seccomp; p.Preset == "" && p.DefaultAction().Kind != "allow" && p.DefaultAction().Kind != "log" {
		for _, r := range p.Rules {
			if r.Action.Kind == "allow" && slices.Contains(r.Names, "execve") {
				return
			}
		}
		fmt.Fprintf(s.Err, "seccomp: with default %s and no preset, nothing allows execve, so no command can start: seccomp allow execve ... (and what the command needs), or seccomp preset docker\n", p.DefaultAction())
	}
}

// saveSeccomp writes the commands that rebuild a plan.
func saveSeccomp(sp *plan.Spec) string {
	p := sp.Seccomp
	if p == nil {
		return ""
	}
	var b strings.Builder
	if p.Preset != "" {
		fmt.Fprintf(&b, "seccomp preset %s\n", p.Preset)
	}
	if p.Profile != nil {
		fmt.Fprintf(&b, "seccomp load --text %s\n", Quote(string(p.Profile)))
	}
	if p.Default != nil {
		fmt.Fprintf(&b, "seccomp default %s\n", p.Default)
	}
	for _, r := range p.Rules {
		fmt.Fprintf(&b, "seccomp %s\n", r)
	}
	return b.String()
}

// seccompPlanLines describes a plan, as show and seccomp show print it.
func seccompPlanLines(sp *plan.Spec) []string {
	p := sp.Seccomp
	if p.Empty() {
		return []string{"none: every system call allowed"}
	}
	var lines []string
	if p.Preset == "docker" {
		lines = append(lines, fmt.Sprintf("preset docker, resolved against a bounding set of %d capabilities", len(capability.OCINames(sp.ChildBounding(isolate.HostCaps())))))
	}
	if p.Profile != nil {
		lines = append(lines, fmt.Sprintf("a loaded profile (%d bytes of JSON)", len(p.Profile)))
	}
	for _, r := range p.Rules {
		lines = append(lines, r.String())
	}
	lines = append(lines, "default "+p.DefaultAction().String())
	if f, err := isolate.SeccompFilter(sp); err != nil {
		lines = append(lines, "cannot compile: "+err.Error())
	} else if f != nil {
		lines = append(lines, "compiled: "+f.Summary())
	}
	return lines
}

func seccompShowPlan(s *Session) error {
	if s.json {
		return s.emit(seccompPlanJSON(s.Spec))
	}
	for _, l := range seccompPlanLines(s.Spec) {
		fmt.Fprintln(s.Out, l)
	}
	return nil
}

// seccompShowProcess prints what /proc/PID/status says of a process's
// filters and, for a child, the plan it started with.
func seccompShowProcess(s *Session, word string) error {
	t, err := s.resolveProcess(word)
	if err != nil {
		return fmt.Errorf("seccomp show: %w", err)
	}
	defer t.release()
	pid := t.pid
	if pid == 0 {
		pid = os.Getpid()
	}
	st, err := isolate.ReadSeccompStatus(pid)
	if err == nil {
		err = t.check()
	}
	if err != nil {
		return fmt.Errorf("seccomp show: %w", err)
	}
	// A child's plan, which a process nsh did not start does not have.
	var sp *plan.Spec
	if t.child != nil {
		sp = t.child.plan
	}
	if s.json {
		doc := seccompShowJSON{Pid: pid, Mode: st.Mode, ModeName: st.ModeName(), Filters: st.Filters}
		if sp != nil {
			p := seccompPlanJSON(sp)
			doc.StartedWith = &p
		}
		return s.emit(doc)
	}
	fmt.Fprintf(s.Out, "%s (pid %d): Seccomp %d (%s), Seccomp_filters %d\n", t.label, pid, st.Mode, st.ModeName(), st.Filters)
	if sp != nil {
		fmt.Fprintln(s.Out, "started with:")
		for _, l := range seccompPlanLines(sp) {
			fmt.Fprintln(s.Out, "  "+l)
		}
	}
	return nil
}

// seccompTest makes one system call where a command of the plan (or of
// a running child) would run, and prints the kernel's answer.
func seccompTest(s *Session, c *Command, args []string) error {
	var ref string
	if n := len(args); n > 0 && strings.HasPrefix(args[n-1], "@") {
		ref, args = args[n-1], args[:n-1]
	}
	pr, err := parseProbe(args)
	if err != nil {
		return usageError(c, err.Error())
	}
	where, res, err := s.probe(pr, ref)
	if err != nil {
		return fmt.Errorf("seccomp test: %w", err)
	}
	fmt.Fprintf(s.Out, "%s(%s) in %s: %s\n", pr.Name, pr.ArgsText(), where, res)
	return nil
}

// parseProbe reads a system call and its numeric arguments.
func parseProbe(args []string) (*isolate.Probe, error) {
	if len(args) == 0 || len(args) > 7 {
		return nil, fmt.Errorf("name one system call, and at most six numeric arguments")
	}
	if err := bpf.CheckNames(args[:1]); err != nil {
		return nil, err
	}
	nr, ok := bpf.Number(args[0])
	if !ok {
		return nil, fmt.Errorf("%s is not a system call of this machine's architecture", args[0])
	}
	pr := &isolate.Probe{Name: args[0], Nr: nr}
	for i, a := range args[1:] {
		v, err := strconv.ParseUint(a, 0, 64)
		if err != nil {
			n, err2 := strconv.ParseInt(a, 0, 64)
			if err2 != nil {
				return nil, fmt.Errorf("argument %q is not a number: give decimal, 0x hex or 0 octal", a)
			}
			v = uint64(n)
		}
		pr.Args[i] = v
	}
	return pr, nil
}

// probe makes the call in a new child of the plan, or, with ref, in that
// running child's namespaces under its filter, and says where.
func (s *Session) probe(pr *isolate.Probe, ref string) (string, isolate.ProbeResult, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return "", isolate.ProbeResult{}, err
	}
	defer devnull.Close()
	opt := isolate.Options{Stdin: devnull, Stdout: s.Stdout, Stderr: s.Stderr, Step: s.stepper()}
	if ref != "" {
		ch, err := s.lookupChild(ref, true)
		if err != nil {
			return "", isolate.ProbeResult{}, err
		}
		res, err := isolate.ProbeIn(ch.proc, pr, opt)
		if err != nil {
			return "", res, fmt.Errorf("enter %s: %w", ref, err)
		}
		return ch.ref(), res, nil
	}
	opt.Verify = s.verifyJoins(s.Spec)
	res, err := isolate.ProbeNew(s.Spec, pr, opt)
	return "a new child of the plan", res, err
}
