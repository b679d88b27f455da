package commands

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"nsh/internal/near"
	"nsh/plan"

	"nsh/isolate"
	"nsh/isolate/cgroup"

	"golang.org/x/sys/unix"
)

func init() {
	later("cgroup", func() {
		refs := func(s *Session, args []string, partial string) []string {
			if len(args) == 0 {
				return s.childRefs()
			}
			return nil
		}
		running := func(s *Session, args []string, partial string) []string {
			if len(args) == 0 {
				return s.runningRefs()
			}
			return nil
		}
		register(&Command{
			Name: "cgroup", Group: "cgroups",
			Subs: []Sub{
				{Name: "set", Usage: []string{"cgroup set KEY VALUE... [@ID]", "cgroup set KEY VALUE... PID --force"}, Run: cgroupSet, Complete: completeCgroupSet},
				{Name: "unset", Usage: []string{"cgroup unset KEY"}, Run: cgroupUnset, Complete: completeCgroupUnset},
				{Name: "show", Usage: []string{"cgroup show [@ID|PID] [--json]"}, Run: cgroupShowCmd, Complete: running, JSON: true},
				{Name: "ls", Usage: []string{"cgroup ls [--json]"}, Run: cgroupLsCmd, JSON: true},
				{Name: "parent", Usage: []string{"cgroup parent PATH|off"}, Run: cgroupPlace("parent"), Complete: completeWords("off", "/")},
				{Name: "use", Usage: []string{"cgroup use PATH|off"}, Run: cgroupPlace("use"), Complete: completeWords("off", "/")},
				{Name: "procs", Usage: []string{"cgroup procs @ID|PID"}, Run: cgroupInspectCmd("procs"), Complete: refs, JSON: true},
				{Name: "stat", Usage: []string{"cgroup stat @ID|PID", "cgroup stat --watch @ID"}, Run: cgroupInspectCmd("stat"), Complete: completeCgroupStat, JSON: true},
				{Name: "files", Usage: []string{"cgroup files @ID|PID"}, Run: cgroupInspectCmd("files"), Complete: refs, JSON: true},
				{Name: "freeze", Usage: []string{"cgroup freeze @ID"}, Run: cgroupFreeze(true), Complete: running},
				{Name: "thaw", Usage: []string{"cgroup thaw @ID"}, Run: cgroupFreeze(false), Complete: running},
				{Name: "off", Usage: []string{"cgroup off"}, Run: cgroupOnOff("off")},
				{Name: "on", Usage: []string{"cgroup on"}, Run: cgroupOnOff("on")},
				{Name: "devices", Usage: []string{"cgroup devices [allow|deny RULE | reset]"}, Run: cgroupDevices, Complete: completeCgroupDevices},
			},
			Summary:  "limit and watch children through cgroups (keys are v2 file names)",
			Example:  "cgroup set memory.max 100M; cgroup set cpu.max 0.5; spawn -d sleep 60; cgroup stat @1",
			HelpFunc: cgroupHelp,
		})
	})
}

// cgroupHelp is built when asked for, not at every start of nsh.
func cgroupHelp() string {
	return "Each child gets a cgroup of its own under the one nsh runs in, made before its command runs\n" +
		"and removed when it is reaped. Keys are cgroup v2 file names; on a v1 or hybrid host nsh\n" +
		"writes the matching v1 file (cgroup show says which):\n" +
		knownHelp() +
		"With @ID, set changes a running child's cgroup at once. Any other controller file is written\n" +
		"as named where it exists. cgroup use PATH puts children into an existing cgroup (cgexec -g).\n" +
		"cgroup off gives children no cgroup of their own (they stay in nsh's, as with plain unshare);\n" +
		"cgroup on undoes it. nsh ends and removes only cgroups it made: in one joined with cgroup use\n" +
		"it ends only its own children.\n" +
		"cpu.weight and v1 cpu.shares convert as runc >= 1.3 does (opencontainers/cgroups): weight 100 is\n" +
		"the v1 default 1024 shares, 1 is 2 and 10000 is 262144, monotonic between; export oci and\n" +
		"export docker write the same shares.\n" +
		"With a rootfs, a child gets runc's default device allowlist (everything denied, then mknod,\n" +
		"null, zero, full, random, urandom, tty, pts, ptmx, tun): a root child can no longer make and\n" +
		"open a node for the host's disk. cgroup devices allow|deny RULE adds rules after it (or, without\n" +
		"a rootfs, on their own), as devices.allow takes them: c 1:3 rwm, b 8:* r, a. cgroup devices\n" +
		"lists what a child gets; reset drops the added rules. v1: devices.deny/allow; v2: an eBPF program.\n" +
		"cgroup freeze @ID stops every process of a child where it stands (docker pause: cgroup.freeze on\n" +
		"v2, the freezer on v1); ps says frozen; cgroup thaw @ID resumes it. kill thaws a frozen child\n" +
		"once the signal is pending, as runc does, and so does nsh's end: a frozen child never outlives nsh."
}

func knownHelp() string {
	var b strings.Builder
	for _, k := range cgroup.Known {
		fmt.Fprintf(&b, "  %-16s %s\n", k.Key, k.Takes)
	}
	return b.String()
}

func completeCgroupSet(s *Session, args []string, partial string) []string {
	switch {
	case len(args) == 0:
		return cgroup.KnownKeys()
	case len(args) >= 2:
		return s.childRefs()
	}
	return nil
}

func completeCgroupUnset(s *Session, args []string, partial string) []string {
	var keys []string
	if c := s.Spec.Cgroup; c != nil && len(args) == 0 {
		for _, st := range c.Settings {
			keys = append(keys, st.Key)
		}
	}
	return keys
}

func completeCgroupStat(s *Session, args []string, partial string) []string {
	switch {
	case len(args) == 0:
		return append([]string{"--watch"}, s.childRefs()...)
	case len(args) == 1 && args[0] == "--watch":
		return s.runningRefs()
	}
	return nil
}

func completeCgroupDevices(s *Session, args []string, partial string) []string {
	switch {
	case len(args) == 0:
		return []string{"allow", "deny", "reset"}
	case len(args) == 1 && args[0] != "reset":
		return []string{"a", "b", "c"}
	}
	return nil
}

func cgroupUnset(s *Session, c *Command, rest []string) error {
	if len(rest) != 1 {
		return usageError(c, "cgroup unset takes one key")
	}
	next := s.Spec.Clone()
	if next.Cgroup == nil {
		next.Cgroup = &cgroup.Config{}
	}
	before := len(next.Cgroup.Settings)
	next.Cgroup.Settings = without(next.Cgroup.Settings, rest[0])
	if len(next.Cgroup.Settings) == before {
		return fmt.Errorf("cgroup unset: %s is not set (cgroup show lists what is)", rest[0])
	}
	if h, err := cgroup.Detect(); err == nil {
		if err := h.Check(next.Cgroup.Settings); err != nil {
			return fmt.Errorf("cgroup unset %s: the rest of the plan needs it: %w", rest[0], err)
		}
	}
	return s.commit(next)
}

// cgroupFreeze is cgroup freeze and thaw (docker pause, unpause): only a
// running child of nsh's, through the cgroup nsh made for it.
func cgroupFreeze(on bool) func(*Session, *Command, []string) error {
	verb := map[bool]string{true: "freeze", false: "thaw"}[on]
	return func(s *Session, c *Command, rest []string) error {
		if len(rest) != 1 {
			return usageError(c, "cgroup "+verb+" takes one running child: @ID")
		}
		ch, err := s.lookupChild(rest[0], true)
		if err != nil {
			return fmt.Errorf("cgroup %s: %w", verb, err)
		}
		if !on && !ch.proc.Frozen() {
			return fmt.Errorf("cgroup thaw %s: it is not frozen (ps shows frozen children)", ch.ref())
		}
		if err := map[bool]func() error{true: ch.proc.Freeze, false: ch.proc.Thaw}[on](); err != nil {
			return fmt.Errorf("cgroup %s %s: %w", verb, ch.ref(), err)
		}
		if on {
			fmt.Fprintf(s.Err, "%s frozen: its processes stop where they stand until cgroup thaw @%d\n", ch.ref(), ch.id)
		} else {
			fmt.Fprintf(s.Err, "%s thawed: its processes run again\n", ch.ref())
		}
		return nil
	}
}

// cgroupOnOff: off gives children no cgroup of their own; on undoes it.
func cgroupOnOff(sub string) func(*Session, *Command, []string) error {
	return func(s *Session, c *Command, rest []string) error {
		if len(rest) != 0 {
			return usageError(c, "cgroup "+sub+" takes no arguments")
		}
		next := s.Spec.Clone()
		if next.Cgroup == nil {
			next.Cgroup = &cgroup.Config{}
		}
		next.Cgroup.Off = sub == "off"
		return s.commit(next)
	}
}

func cgroupShowCmd(s *Session, c *Command, rest []string) error {
	if len(rest) == 1 && isProcWord(rest[0]) {
		return cgroupShowLive(s, rest[0])
	}
	if len(rest) != 0 {
		return usageError(c, "cgroup show takes nothing, or @ID (or a PID) for a process's live values")
	}
	return cgroupShow(s)
}

func cgroupLsCmd(s *Session, c *Command, rest []string) error {
	if len(rest) != 0 {
		return usageError(c, "cgroup ls takes no arguments")
	}
	return cgroupLs(s)
}

// cgroupPlace is cgroup parent and cgroup use: where children's cgroups
// go, or the existing cgroup they join.
func cgroupPlace(sub string) func(*Session, *Command, []string) error {
	return func(s *Session, c *Command, rest []string) error {
		if len(rest) != 1 {
			return usageError(c, "cgroup "+sub+" takes one path, or off")
		}
		next := s.Spec.Clone()
		if next.Cgroup == nil {
			next.Cgroup = &cgroup.Config{}
		}
		p := rest[0]
		if p == "off" {
			p = ""
		}
		if sub == "parent" {
			next.Cgroup.Parent = p
		} else {
			next.Cgroup.Use = p
		}
		if err := isolate.Check(next); err != nil {
			return err
		}
		if p != "" {
			in, out, err := whereExists(p)
			if err != nil {
				return fmt.Errorf("cgroup %s %s: %w", sub, p, err)
			}
			if len(out) > 0 {
				// Said now: on a v1 or hybrid host a directory made in
				// one hierarchy is not in the others.
				how := "children join it"
				if sub == "parent" {
					how = "children's cgroups go under it"
				}
				fmt.Fprintf(s.Err, "cgroup %s %s: %s in %s; it does not exist in %s, where they stay in nsh's (mkdir it there too)\n", sub, p, how, strings.Join(in, ", "), strings.Join(out, ", "))
			}
		}
		return s.commit(next)
	}
}

// cgroupInspectCmd is cgroup procs, stat and files of one process.
func cgroupInspectCmd(sub string) func(*Session, *Command, []string) error {
	return func(s *Session, c *Command, rest []string) error {
		if sub == "stat" && len(rest) == 2 && (rest[0] == "--watch" || rest[1] == "--watch") {
			ref := rest[0]
			if ref == "--watch" {
				ref = rest[1]
			}
			ch, err := s.lookupChild(ref, true)
			if err != nil {
				return fmt.Errorf("cgroup stat --watch: %w", err)
			}
			return s.top(&topSampler{only: ch}, false)
		}
		if len(rest) != 1 {
			return usageError(c, "cgroup "+sub+" takes one child (@ID) or PID")
		}
		t, g, err := s.procGroup("cgroup "+sub, rest[0])
		if err != nil {
			return err
		}
		defer t.release()
		if s.json {
			return cgroupInspectJSON(s, sub, t.pid, g)
		}
		return cgroupInspect(s, sub, g)
	}
}

func without(settings []cgroup.Setting, key string) []cgroup.Setting {
	var out []cgroup.Setting
	for _, st := range settings {
		if st.Key != key {
			out = append(out, st)
		}
	}
	return out
}

// whereExists names the hierarchies that have a cgroup at path, and
// those that do not; none having it is an error.
func whereExists(path string) (in, out []string, err error) {
	h, err := cgroup.Detect()
	if err != nil {
		return nil, nil, err
	}
	for _, x := range h.Hierarchies {
		name := "unified"
		if !x.V2 {
			name = strings.Join(x.Controllers, ",")
		}
		if st, err := os.Stat(x.Dir(path)); err == nil && st.IsDir() {
			in = append(in, name)
		} else {
			out = append(out, name)
		}
	}
	if len(in) == 0 {
		return nil, nil, fmt.Errorf("no such cgroup in any hierarchy: create it first (mkdir /sys/fs/cgroup/...%s)", path)
	}
	return in, out, nil
}

func cgroupSet(s *Session, c *Command, args []string) error {
	args, force := takeFlag(args, "--force")
	var target string
	// A trailing PID is told from a value by --force (which a process
	// nsh did not start needs anyway), or by the key taking one value
	// fewer: cpu.max 50000 100000 is a quota and a period.
	if n := len(args); n > 2 && strings.HasPrefix(args[n-1], "@") {
		target, args = args[n-1], args[:n-1]
	} else if n > 2 {
		if pid, err := strconv.Atoi(args[n-1]); err == nil {
			_, whole := cgroup.Parse(args[0], args[1:])
			_, less := cgroup.Parse(args[0], args[1:n-1])
			// A key nsh does not parse takes any words, so "10 PID"
			// would be planned as its value: a running process's pid
			// after one value is the process. Only cpu.max and io.max
			// take several numbers.
			many := args[0] == "cpu.max" || args[0] == "io.max"
			if force || (whole != nil && less == nil) || (less == nil && !many && n == 3 && processExists(pid)) {
				target, args = args[n-1], args[:n-1]
			}
		}
	}
	if force && target == "" {
		return usageError(c, "--force is for a process nsh did not start: cgroup set KEY VALUE PID --force")
	}
	if len(args) < 2 {
		return usageError(c, "cgroup set needs a key and a value")
	}
	st, err := cgroup.Parse(args[0], args[1:])
	if err != nil {
		return fmt.Errorf("cgroup set %w", err)
	}
	h, err := cgroup.Detect()
	if err != nil {
		return fmt.Errorf("cgroup set: %w", err)
	}
	if !slices.Contains(cgroup.KnownKeys(), st.Key) {
		// A mistyped known key is named before anything else is said.
		if n := near.Words(st.Key, cgroup.KnownKeys()); len(n) > 0 && h.Check([]cgroup.Setting{st}) != nil {
			return fmt.Errorf("cgroup set: unknown key %q: did you mean %s?", st.Key, strings.Join(n, ", "))
		}
	}
	if target != "" && !strings.HasPrefix(target, "@") {
		t, g, err := s.procGroup("cgroup set", target)
		if err != nil {
			return err
		}
		defer t.release()
		if t.foreign() {
			if err := isolate.Untouchable(t.pid); err != nil {
				return fmt.Errorf("cgroup set: %w", err)
			}
			if g.AtRoot() {
				return fmt.Errorf("cgroup set: %s is in the root cgroup, which has no limits to set", t.ref())
			}
			if err := s.mayChange("cgroup set", t, force, "write "+st.Key+" in "+strings.Join(g.Dirs(), " ")); err != nil {
				return err
			}
			if err := h.Check([]cgroup.Setting{st}); err != nil {
				return fmt.Errorf("cgroup set %w", err)
			}
			return g.Set([]cgroup.Setting{st}, nil, s.explain)
		}
		target = "@" + strconv.Itoa(t.child.id)
	}
	if target != "" {
		ch, err := s.lookupChild(target, true)
		if err != nil {
			return err
		}
		g := ch.proc.Cgroup()
		if g == nil || !g.Owned() {
			return fmt.Errorf("cgroup set: %s has no cgroup of its own (nsh changes only cgroups it made): plan the value with `cgroup set %s %s` for the next spawn", ch.ref(), args[0], strings.Join(args[1:], " "))
		}
		var all []cgroup.Setting
		if s.Spec.Cgroup != nil {
			all = s.Spec.Cgroup.Settings
		}
		if err := h.Check(append(without(all, st.Key), st)); err != nil {
			return fmt.Errorf("cgroup set %w", err)
		}
		return g.Set([]cgroup.Setting{st}, all, s.explain)
	}
	next := s.Spec.Clone()
	if next.Cgroup == nil {
		next.Cgroup = &cgroup.Config{}
	}
	replaced := false
	for i := range next.Cgroup.Settings {
		if next.Cgroup.Settings[i].Key == st.Key {
			next.Cgroup.Settings[i], replaced = st, true
		}
	}
	if !replaced {
		next.Cgroup.Settings = append(next.Cgroup.Settings, st)
	}
	if err := h.Check(next.Cgroup.Settings); err != nil {
		return fmt.Errorf("cgroup set %w", err)
	}
	// Said now, not at the next spawn: a limit no child could get.
	if x, err := h.For(cgroup.Controller(st.Key)); err == nil && next.Cgroup.Parent == "" && next.Cgroup.Use == "" {
		if dir := x.Dir(x.Self); unix.Access(dir, unix.W_OK) != nil {
			return fmt.Errorf("cgroup set %s: no child could get this limit: %w", st.Key, &cgroup.NoPermission{Dir: dir})
		}
	}
	return s.commit(next)
}

// pidsNote says how many forks pids.max refused a child: the child
// itself only says "Cannot fork".
func pidsNote(proc *isolate.Child, spec *plan.Spec) string {
	if proc.ForksRefused == 0 {
		return ""
	}
	limit := ""
	if spec.Cgroup != nil {
		if v, ok := spec.Cgroup.Get("pids.max"); ok {
			limit = "=" + v
		}
	}
	return fmt.Sprintf("pids.max%s refused %d forks (cgroup set pids.max N raises it)", limit, proc.ForksRefused)
}

// oomNote explains what the OOM killer ended in a child's cgroup: the
// child itself (it died of SIGKILL), or another process there (the child
// ended otherwise, a grandchild did not).
func oomNote(proc *isolate.Child, spec *plan.Spec, status int) string {
	if proc.OOMKills == 0 {
		return ""
	}
	limit := ""
	if spec.Cgroup != nil {
		if v, ok := spec.Cgroup.Get("memory.max"); ok {
			limit = " (memory.max=" + cgroup.FormatSize(v) + ")"
		}
	}
	if status != 128+int(unix.SIGKILL) {
		return "a process in its cgroup was killed by the OOM killer" + limit
	}
	return "killed by the OOM killer" + limit
}

// processExists says whether pid names a process of nsh's pid namespace.
func processExists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return pid > 0 && err == nil
}

// procGroup is the cgroup of a child (its own) or of any process (those
// it is in, which nsh only reads unless told otherwise).
func (s *Session) procGroup(what, word string) (*target, *cgroup.Group, error) {
	t, err := s.lookupProc(word)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if t.child != nil {
		g := t.child.proc.Cgroup()
		if g == nil {
			return nil, nil, fmt.Errorf("%s: %s has no cgroup of its own (cgroup off, or none could be made when it started)", what, t.ref())
		}
		return t, g, nil
	}
	h, err := cgroup.Detect()
	if err != nil {
		t.release()
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	g, err := cgroup.OfProcess(h, t.pid)
	if err == nil && !t.p.Alive() {
		err = fmt.Errorf("process %d has exited", t.pid)
	}
	if err != nil {
		t.release()
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return t, g, nil
}
