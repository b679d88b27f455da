package commands

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/plan"
)

var capSets = []string{"bounding", "effective", "permitted", "inheritable", "ambient"}

func init() {
	later("cap user nonewprivs", func() {
		register(
			&Command{
				Name: "cap", Group: "capabilities",
				Summary: "shape children's capability sets; look at a process's or a file's",
				Example: "cap drop net_raw; spawn grep CapBnd /proc/self/status",
				Help: "CAP is a name, case-insensitive, with or without cap_ (net_raw, CAP_SYS_ADMIN), a number, or all.\n" +
					"drop takes CAP out of every set, bounding included (docker --cap-drop): no setuid or\n" +
					"file-capability program gets it back. add puts it back in bounding, permitted and effective;\n" +
					"a non-root `user` keeps its capabilities as ambient (so they survive its execve), which\n" +
					"Docker does not do. only keeps exactly these. --set SET changes one set: bounding effective\n" +
					"permitted inheritable ambient. Presets: docker (its default 14), privileged (all of the\n" +
					"kernel's that nsh holds), none. reset: children keep nsh's own.\n" +
					"cap decode prints what capsh --decode does; cap file reads and writes security.capability\n" +
					"like getcap and setcap (v3, with --rootid, for a user namespace's root).",
				Subs: []Sub{
					{Name: "drop", Usage: []string{"cap drop [--set SET] CAP..."}, Run: capEdit(capDropAdd("drop")), Complete: capCompleter("drop")},
					{Name: "add", Usage: []string{"cap add [--set SET] CAP..."}, Run: capEdit(capDropAdd("add")), Complete: capCompleter("add")},
					{Name: "only", Usage: []string{"cap only [--set SET] CAP..."}, Run: capEdit(capOnly), Complete: capCompleter("only")},
					{Name: "preset", Usage: []string{"cap preset docker|privileged|none"}, Run: capEdit(capPreset), Complete: capCompleter("preset")},
					{Name: "reset", Usage: []string{"cap reset"}, Run: capReset},
					{Name: "show", Usage: []string{"cap show [@ID|PID|self] [--json]"}, JSON: true, Complete: capCompleter("show"),
						Run: func(s *Session, c *Command, args []string) error { return capShow(s, args) }},
					{Name: "decode", Usage: []string{"cap decode HEX [--json]"}, JSON: true, Run: capDecode},
					{Name: "file", Usage: []string{"cap file get [-n] PATH", "cap file set PATH CAPS [--rootid UID]", "cap file rm PATH"},
						Run: capFile, Complete: capCompleter("file")},
				},
			},
			&Command{
				Name: "user", Group: "capabilities",
				Usage:   []string{"user UID[:GID]", "user off", "user"},
				Summary: "children run as this user, supplementary groups cleared",
				Example: "cap only net_bind_service; user 1000; spawn grep CapAmb /proc/self/status",
				Help: "Inside a new user namespace the ids are those inside it. With capabilities planned (cap ...),\n" +
					"a non-root user keeps them as ambient; without, it runs with none, as a plain setuid would.",
				Run: runUser,
				Complete: func(s *Session, args []string, partial string) []string {
					if len(args) == 0 {
						return []string{"off", "1000", "65534"}
					}
					return nil
				},
			},
			&Command{
				Name: "nonewprivs", Group: "capabilities",
				Usage:   []string{"nonewprivs on", "nonewprivs off"},
				Summary: "PR_SET_NO_NEW_PRIVS for children: setuid bits and file capabilities no longer grant anything",
				Example: "nonewprivs on; spawn grep NoNewPrivs /proc/self/status",
				Run:     runNoNewPrivs,
				Complete: func(s *Session, args []string, partial string) []string {
					if len(args) == 0 {
						return []string{"on", "off"}
					}
					return nil
				},
			},
		)
	})
}

// capCompleter completes a cap subcommand's arguments (args after it).
func capCompleter(sub string) func(s *Session, args []string, partial string) []string {
	return func(s *Session, args []string, partial string) []string {
		return completeCap(s, append([]string{sub}, args...), partial)
	}
}

func completeCap(s *Session, args []string, partial string) []string {
	// Names as the word being typed spells them: sys_admin, cap_sys_admin
	// or CAP_SYS_ADMIN.
	names := func() []string {
		prefix := ""
		if strings.HasPrefix(strings.ToLower(partial), "cap_") {
			prefix = partial[:4]
		}
		upper := partial != "" && partial == strings.ToUpper(partial) && strings.ToUpper(partial) != strings.ToLower(partial)
		out := []string{"all"}
		for c := 0; c <= capability.Last(); c++ {
			n := strings.TrimPrefix(capability.Name(c), "cap_")
			if upper {
				n = strings.ToUpper(n)
			}
			out = append(out, prefix+n)
		}
		return out
	}
	switch {
	case args[0] == "preset" && len(args) == 1:
		return []string{"docker", "privileged", "none"}
	case args[0] == "show" && len(args) == 1:
		return append([]string{"self"}, s.childRefs()...)
	case args[0] == "file" && len(args) == 1:
		return []string{"get", "set", "rm"}
	case args[0] == "file" && len(args) == 2:
		if args[1] == "get" {
			return append([]string{"-n"}, completeFiles(nil, partial)...)
		}
		return completeFiles(nil, partial)
	case (args[0] == "drop" || args[0] == "add") && len(args) >= 1:
		if args[len(args)-1] == "--set" {
			return capSets
		}
		if len(args) == 1 {
			return append(names(), "--set")
		}
		return names()
	case args[0] == "only":
		return names()
	}
	return nil
}

// fullCaps is where a session's capability plan starts: every capability
// the kernel has, in bounding, permitted and effective. What a child can
// hold of it is decided when the plan is whole (Spec.Available): all of
// it in a new user namespace, nsh's own sets outside one.
func fullCaps() *plan.Caps {
	all := capability.All()
	return &plan.Caps{Bounding: all, Permitted: all, Effective: all}
}

// ownCaps are nsh's own sets.
func ownCaps() (*plan.Caps, error) {
	c, err := isolate.OwnCreds()
	if err != nil {
		return nil, err
	}
	return &plan.Caps{Bounding: c.Bounding, Permitted: c.Permitted, Effective: c.Effective, Inheritable: c.Inheritable, Ambient: c.Ambient}, nil
}

// givenCaps is sp with its capability sets as a child gets them: without
// a new user namespace no child holds what nsh's own bounding set lacks,
// so an export must not add it either.
func (s *Session) givenCaps(sp *plan.Spec) *plan.Spec {
	if sp.Caps == nil || sp.Has("user") || sp.Caps.Preset == "privileged" {
		// privileged stays --cap-add=ALL: all the engine holds, as the
		// preset is all nsh holds.
		return sp
	}
	own, err := ownCaps()
	if err != nil {
		return sp
	}
	have := own.Bounding
	k := *sp.Caps
	if k.Bounding&^have == 0 && k.Permitted&^have == 0 {
		return sp
	}
	k.Bounding &= have
	k.Permitted &= have
	k.Effective &= have
	k.Inheritable &= have
	k.Ambient &= have
	k.Preset = "" // no longer the preset's whole set
	out := sp.Clone()
	out.Caps = &k
	return out
}

// capEdit runs a change of the plan's capability sets, on a copy that
// starts from every capability when none were planned.
func capEdit(edit func(s *Session, c *Command, k *plan.Caps, args []string) error) func(*Session, *Command, []string) error {
	return func(s *Session, c *Command, args []string) error {
		next := s.Spec.Clone()
		if next.Caps == nil {
			next.Caps = fullCaps()
		}
		if err := edit(s, c, next.Caps, args); err != nil {
			return err
		}
		return s.commit(next)
	}
}

func capReset(s *Session, c *Command, args []string) error {
	if len(args) != 0 {
		return usageError(c, "cap reset takes no arguments")
	}
	next := s.Spec.Clone()
	next.Caps = nil
	return s.commit(next)
}

func capDecode(s *Session, c *Command, args []string) error {
	if len(args) != 1 {
		return usageError(c, "cap decode takes one mask")
	}
	m, err := capability.ParseHex(args[0])
	if err != nil {
		return fmt.Errorf("cap decode: %w", err)
	}
	if s.json {
		return s.emit(capDecodeJSON{Hex: fmt.Sprintf("%016x", m), Names: nonNil(capability.Names(m))})
	}
	fmt.Fprintln(s.Out, capability.Decode(m))
	return nil
}

func capPreset(s *Session, c *Command, k *plan.Caps, args []string) error {
	if len(args) != 1 {
		return usageError(c, "name one preset: docker, privileged or none")
	}
	m, err := presetMask(s, args[0])
	if err != nil {
		return err
	}
	*k = plan.Caps{Bounding: m, Permitted: m, Effective: m, Preset: args[0]}
	return nil
}

func capOnly(s *Session, c *Command, k *plan.Caps, args []string) error {
	if len(args) >= 2 && args[0] == "--set" {
		set := args[1]
		m, err := s.capMask(args[2:], false)
		if err != nil {
			return err
		}
		p, ok := capSet(k, set)
		if !ok {
			return usageError(c, fmt.Sprintf("unknown set %q: give one of %s", set, strings.Join(capSets, " ")))
		}
		*p = m
		if set == "ambient" {
			k.AmbientSet = true
		}
		k.Preset = ""
		return nil
	}
	// only restricts: what nsh cannot give is left out at spawn.
	m, err := s.capMask(args, false)
	if err != nil {
		return err
	}
	*k = plan.Caps{Bounding: m, Permitted: m, Effective: m}
	return nil
}

// capDropAdd is cap drop or cap add: CAP out of (into) the sets.
func capDropAdd(sub string) func(s *Session, c *Command, k *plan.Caps, args []string) error {
	return func(s *Session, c *Command, k *plan.Caps, args []string) error {
		set := ""
		if len(args) >= 2 && args[0] == "--set" {
			set, args = args[1], args[2:]
			if !slices.Contains(capSets, set) {
				return usageError(c, fmt.Sprintf("unknown set %q: give one of %s", set, strings.Join(capSets, " ")))
			}
		}
		if len(args) == 0 {
			return usageError(c, "name at least one capability")
		}
		m, err := s.capMask(args, sub == "add")
		if err != nil {
			return err
		}
		touch := []string{"bounding", "permitted", "effective"}
		switch {
		case set != "":
			touch = []string{set}
		case sub == "drop":
			touch = capSets
		}
		for _, name := range touch {
			p, _ := capSet(k, name)
			if sub == "drop" {
				*p &^= m
			} else {
				*p |= m
			}
		}
		if set == "ambient" {
			k.AmbientSet = true
		}
		k.Preset = ""
		return nil
	}
}

// capSet is the mask of one of the five sets by name.
func capSet(k *plan.Caps, name string) (*uint64, bool) {
	p, ok := map[string]*uint64{"bounding": &k.Bounding, "effective": &k.Effective, "permitted": &k.Permitted,
		"inheritable": &k.Inheritable, "ambient": &k.Ambient}[name]
	return p, ok
}

// capMask parses capability words; for add it checks that children can
// have them at all: without a new user namespace, nothing outside nsh's
// own bounding set can come back.
func (s *Session) capMask(words []string, adding bool) (uint64, error) {
	m, err := capability.ParseList(words)
	if err != nil {
		return 0, err
	}
	if adding && !s.Spec.Has("user") {
		own, err := ownCaps()
		if err != nil {
			return 0, err
		}
		// A child can hold what nsh holds, and no more.
		have := own.Bounding & own.Permitted
		if missing := m &^ have; missing != 0 && !containsAll(words) {
			if own.Permitted == 0 {
				return 0, fmt.Errorf("nsh holds no capabilities (it runs as uid %d), so no child can have %s; in a new user namespace it can: unshare user", os.Getuid(), strings.Join(capability.Names(missing), ","))
			}
			return 0, fmt.Errorf("nsh's own bounding set lacks %s (it runs with %#x), so no child can have it; in a new user namespace it can: unshare user", strings.Join(capability.Names(missing), ","), own.Bounding)
		}
	}
	return m, nil
}

func containsAll(words []string) bool {
	for _, w := range words {
		if strings.EqualFold(w, "all") {
			return true
		}
	}
	return false
}

func presetMask(s *Session, name string) (uint64, error) {
	var m uint64
	switch name {
	case "docker":
		m = capability.Docker
	case "privileged":
		m = capability.All()
	case "none":
		return 0, nil
	default:
		return 0, fmt.Errorf("unknown preset %q: give docker, privileged or none", name)
	}
	if !s.Spec.Has("user") {
		own, err := ownCaps()
		if err != nil {
			return 0, err
		}
		have := own.Bounding & own.Permitted
		switch missing := m &^ have; {
		case have == 0:
			fmt.Fprintf(s.Err, "cap preset %s: nsh holds no capabilities (it runs as uid %d), so children get none; unshare user gives them their own\n", name, os.Getuid())
		case missing != 0:
			fmt.Fprintf(s.Err, "cap preset %s: without a new user namespace children cannot have %s, which nsh itself lacks (unshare user gives them every one)\n", name, strings.Join(capability.Names(missing), ","))
		}
	}
	return m, nil
}

func capShow(s *Session, args []string) error {
	word := "self"
	if len(args) == 1 {
		word = args[0]
	} else if len(args) > 1 {
		return fmt.Errorf("cap show: name one process")
	}
	t, err := s.resolveProcess(word)
	if err != nil {
		return err
	}
	defer t.release()
	pid := t.pid
	if pid == 0 {
		pid = os.Getpid()
	}
	c, err := isolate.ReadCreds(pid, false)
	if err == nil {
		err = t.check()
	}
	if err != nil {
		return err
	}
	rows := [][]string{
		{"permitted", fmt.Sprintf("%016x", c.Permitted), namesOrNone(c.Permitted)},
		{"inheritable", fmt.Sprintf("%016x", c.Inheritable), namesOrNone(c.Inheritable)},
		{"effective", fmt.Sprintf("%016x", c.Effective), namesOrNone(c.Effective)},
		{"ambient", fmt.Sprintf("%016x", c.Ambient), namesOrNone(c.Ambient)},
		{"bounding", fmt.Sprintf("%016x", c.Bounding), namesOrNone(c.Bounding)},
	}
	if s.json {
		set := func(m uint64) capSetJSON {
			return capSetJSON{Hex: fmt.Sprintf("%016x", m), Names: nonNil(capability.Names(m))}
		}
		return s.emit(capShowJSON{Pid: pid, UID: c.UID, GID: c.GID, NoNewPrivs: c.NoNewPrivs, Sets: map[string]capSetJSON{
			"permitted": set(c.Permitted), "inheritable": set(c.Inheritable), "effective": set(c.Effective),
			"ambient": set(c.Ambient), "bounding": set(c.Bounding),
		}})
	}
	if err := printTable(s.Out, []string{"SET", "HEX", "CAPABILITIES"}, rows); err != nil {
		return err
	}
	nnp := "0"
	if c.NoNewPrivs {
		nnp = "1"
	}
	fmt.Fprintf(s.Out, "uid %d, gid %d, NoNewPrivs %s", c.UID, c.GID, nnp)
	if pid == os.Getpid() {
		bits, err := unix.PrctlRetInt(unix.PR_GET_SECUREBITS, 0, 0, 0, 0)
		if err == nil {
			fmt.Fprintf(s.Out, ", securebits %#x", bits)
		}
	}
	fmt.Fprintln(s.Out)
	return nil
}

// namesOrNone lists names without the cap_ prefix; a full set is "all".
func namesOrNone(m uint64) string {
	if m == 0 {
		return "(none)"
	}
	all := capability.All()
	if m&all == all {
		return "all"
	}
	short := func(m uint64) string {
		var out []string
		for _, n := range capability.Names(m) {
			out = append(out, strings.TrimPrefix(n, "cap_"))
		}
		return strings.Join(out, ",")
	}
	if missing := all &^ m; len(capability.Names(missing)) <= 4 && m&^all == 0 {
		return "all except " + short(missing)
	}
	return short(m)
}

func capFile(s *Session, c *Command, args []string) error {
	if len(args) < 2 {
		return usageError(c, "cap file needs get, set or rm and a path")
	}
	op, path := args[0], args[1]
	switch op {
	case "get":
		// -n prints a v3 rootid, as getcap -n does.
		withRoot := path == "-n"
		if withRoot && len(args) == 3 {
			path = args[2]
		} else if len(args) != 2 || withRoot {
			return usageError(c, "cap file get takes one path (and -n for the rootid)")
		}
		fc, ok, err := capability.GetFile(path)
		if err != nil {
			return fmt.Errorf("cap file get: %w", err)
		}
		if ok && withRoot {
			fmt.Fprintf(s.Out, "%s %s\n", path, fc.RootIDText())
		} else if ok {
			fmt.Fprintf(s.Out, "%s %s\n", path, fc)
		}
		return nil
	case "set":
		text := args[2:]
		if len(text) == 0 {
			return usageError(c, "cap file set takes a path and capabilities as setcap writes them, e.g. cap_net_raw+ep")
		}
		var rootid uint64
		if n := len(text); n >= 2 && text[n-2] == "--rootid" {
			var err error
			if rootid, err = strconv.ParseUint(text[n-1], 10, 32); err != nil {
				return usageError(c, fmt.Sprintf("--rootid %q is not a uid", text[n-1]))
			}
			text = text[:n-2]
		}
		fc, err := capability.ParseText(strings.Join(text, " "))
		if err != nil {
			return fmt.Errorf("cap file set: %w", err)
		}
		fc.RootID = uint32(rootid)
		s.explain(fmt.Sprintf("setxattr(%s, security.capability, %s)", path, fc))
		if err := capability.SetFile(path, fc); err != nil {
			return fmt.Errorf("cap file set: %w", err)
		}
		return nil
	case "rm":
		if len(args) != 2 {
			return usageError(c, "cap file rm takes one path")
		}
		s.explain(fmt.Sprintf("removexattr(%s, security.capability)", path))
		if err := capability.RemoveFile(path); err != nil {
			return fmt.Errorf("cap file rm: %w", err)
		}
		return nil
	}
	return usageError(c, fmt.Sprintf("unknown cap file operation %q: get, set or rm", op))
}

func runUser(s *Session, c *Command, args []string) error {
	if len(args) == 0 {
		if s.Spec.User == nil {
			fmt.Fprintln(s.Out, "children run as nsh's user")
		} else {
			fmt.Fprintf(s.Out, "%d:%d\n", s.Spec.User.UID, s.Spec.User.GID)
		}
		return nil
	}
	if len(args) != 1 {
		return usageError(c, "give one UID[:GID]")
	}
	next := s.Spec.Clone()
	if args[0] == "off" {
		next.User = nil
		return s.commit(next)
	}
	uidS, gidS, hasGID := strings.Cut(args[0], ":")
	uid, err := strconv.ParseUint(uidS, 10, 32)
	if err != nil {
		return usageError(c, fmt.Sprintf("%q is not a numeric uid", uidS))
	}
	gid := uid
	if hasGID {
		if gid, err = strconv.ParseUint(gidS, 10, 32); err != nil {
			return usageError(c, fmt.Sprintf("%q is not a numeric gid", gidS))
		}
	}
	next.User = &plan.User{UID: int(uid), GID: int(gid)}
	return s.commit(next)
}

func runNoNewPrivs(s *Session, c *Command, args []string) error {
	if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
		return usageError(c, "say on or off")
	}
	next := s.Spec.Clone()
	next.NoNewPrivs = args[0] == "on"
	return s.commit(next)
}
