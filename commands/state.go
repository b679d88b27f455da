package commands

import (
	"fmt"
	"math/bits"
	"os"
	"strings"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/plan"
)

func init() {
	register(
		&Command{
			Name: "show", Group: "session",
			Usage:   []string{"show"},
			Summary: "the whole planned state",
			Example: "show",
			JSON:    func(args []string) bool { return len(args) == 0 },
			Run: func(s *Session, args []string) error {
				if len(args) > 0 {
					c, _ := Lookup("show")
					return usageError(c, "show takes no arguments")
				}
				if s.json {
					return s.emit(showJSON{Plan: s.Spec, Explain: s.Explain, Time: s.Time})
				}
				return printTable(s.Out, []string{"SETTING", "VALUE"}, showRows(s))
			},
		},
		&Command{
			Name: "reset", Group: "session",
			Usage:   []string{"reset"},
			Summary: "back to an empty state (running children keep running)",
			Example: "reset",
			Run: func(s *Session, args []string) error {
				s.Spec = &plan.Spec{}
				return nil
			},
		},
		&Command{
			Name: "save", Group: "session",
			Usage:   []string{"save [-f] FILE.nsh"},
			Summary: "write a script that recreates this state; source it to get the same show",
			Example: "save demo.nsh",
			Run:     runSave,
			Complete: func(s *Session, args []string, partial string) []string {
				return completeFiles(args, partial)
			},
		},
	)
}

func showRows(s *Session) [][]string {
	sp := s.Spec
	var shared []string
	for _, n := range plan.Namespaces {
		if _, joined := sp.Joined(n); !sp.Has(n) && !joined {
			shared = append(shared, n)
		}
	}
	rows := [][]string{
		{"new namespaces", orNone(strings.Join(sp.Namespaces, " "))},
		{"shared with nsh", orNone(strings.Join(shared, " "))},
	}
	for _, j := range sp.Join {
		where := j.Ref
		if j.Ref != j.Path {
			where += " (" + j.Path + ")"
		}
		rows = append(rows, []string{"joins " + j.Type, where})
	}
	if sp.Has("uts") {
		rows = append(rows, []string{"hostname", orDefault(sp.Hostname, "(the uts namespace's own)")})
	}
	if sp.Has("user") {
		m := sp.IDMapping()
		desc := map[string]string{
			"root": fmt.Sprintf("root: your uid %d is 0 inside", os.Getuid()),
			"id":   fmt.Sprintf("%d:%d: your uid %d is %d inside", m.UID, m.GID, os.Getuid(), m.UID),
			"none": "off: no map, ids show as 65534 inside",
		}[m.Mode]
		rows = append(rows, []string{"id map", desc})
	}
	if sp.Has("time") {
		rows = append(rows, []string{"clock offsets", fmt.Sprintf("monotonic %s, boottime %s", formatOffset(sp.Time.Monotonic), formatOffset(sp.Time.Boottime))})
	}
	if sp.Has("pid") && sp.Has("mnt") {
		rows = append(rows, []string{"/proc", "fresh: the child is PID 1"})
	}
	if c := sp.Cgroup; c != nil {
		for _, st := range c.Settings {
			rows = append(rows, []string{"cgroup " + st.Key, displayValue(st)})
		}
		if c.Parent != "" {
			rows = append(rows, []string{"cgroup parent", c.Parent})
		}
		if c.Use != "" {
			rows = append(rows, []string{"cgroup use", c.Use})
		}
		if c.Off {
			rows = append(rows, []string{"cgroup", "off: children stay in nsh's cgroup"})
		}
		for _, r := range c.Devices {
			rows = append(rows, []string{"cgroup devices", r.Text()})
		}
	}
	if c := sp.Caps; c != nil {
		uid := os.Getuid()
		if sp.User != nil {
			uid = sp.User.UID
		}
		f := c.Within(isolate.Available(sp)).Final(uid)
		label := "capabilities"
		if c.Preset != "" {
			label += " (" + c.Preset + ")"
		}
		// Against what: every one in a new user namespace, else
		// what nsh itself holds.
		base := "nsh's own sets"
		if sp.Has("user") {
			base = "every capability (new user namespace)"
		}
		rows = append(rows, []string{"capabilities planned against", base})
		rows = append(rows,
			[]string{label + " bounding", namesOrNone(f.Bounding)},
			[]string{"  permitted", namesOrNone(f.Permitted)},
			[]string{"  effective", namesOrNone(f.Effective)},
			[]string{"  inheritable", namesOrNone(f.Inheritable)},
			[]string{"  ambient", namesOrNone(f.Ambient)})
	}
	if u := sp.User; u != nil {
		rows = append(rows, []string{"user", fmt.Sprintf("%d:%d (groups cleared)", u.UID, u.GID)})
	}
	if sp.NoNewPrivs {
		rows = append(rows, []string{"nonewprivs", "on"})
	}
	if sp.Rootfs != nil {
		rows = append(rows, []string{"rootfs", rootfsText(sp.Rootfs)})
	}
	for _, m := range sp.Mounts {
		rows = append(rows, []string{"mount", m.String()})
	}
	rows = append(rows, hiddenRows(sp)...)
	if sp.Net != nil && sp.Net.LoUp {
		rows = append(rows, []string{"network", "lo up"})
	}
	if sp.Net != nil {
		for i, v := range sp.Net.Veths {
			rows = append(rows, []string{"veth", vethText(v, i)})
		}
	}
	for _, sc := range sp.Sysctls {
		rows = append(rows, []string{"sysctl " + sc.Key, sc.Value})
	}
	if sp.Seccomp != nil {
		for i, l := range seccompPlanLines(sp) {
			rows = append(rows, []string{map[bool]string{true: "seccomp"}[i == 0], l})
		}
	}
	for _, r := range sp.Rlimits {
		rows = append(rows, []string{"rlimit " + r.Name, strings.TrimPrefix(r.String(), r.Name+" ")})
	}
	if len(sp.Command) > 0 || sp.Env != nil || sp.Cwd != "" || sp.Terminal {
		for _, l := range processLines(s) {
			k, v, _ := strings.Cut(l, " ")
			rows = append(rows, []string{"process " + k, v})
		}
	}
	explain := "off"
	if s.Explain {
		explain = "on"
	}
	rows = append(rows, []string{"explain", explain})
	timing := "off"
	if s.Time {
		timing = "on"
	}
	rows = append(rows, []string{"time", timing})
	return rows
}

func orNone(s string) string { return orDefault(s, "(none)") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// SaveScript renders the state as commands; Parse and the commands read it
// back to the same state.
func SaveScript(sp *plan.Spec) string {
	var b strings.Builder
	b.WriteString("# nsh session state: this file was written by nsh (save); `source` it or run it with nsh\nreset\n")
	if len(sp.Namespaces) > 0 {
		fmt.Fprintf(&b, "unshare %s\n", strings.Join(sp.Namespaces, " "))
	}
	for _, j := range sp.Join {
		if strings.HasPrefix(j.Ref, "@") {
			fmt.Fprintf(&b, "# join %s %s: %s was a child of the session that saved this\n", j.Type, j.Ref, j.Ref)
		} else {
			fmt.Fprintf(&b, "join %s %s\n", j.Type, Quote(j.Ref))
		}
	}
	if c := sp.Cgroup; c != nil {
		for _, st := range c.Settings {
			fmt.Fprintf(&b, "cgroup set %s %s\n", st.Key, displayValue(st))
		}
		if c.Parent != "" {
			fmt.Fprintf(&b, "cgroup parent %s\n", Quote(c.Parent))
		}
		if c.Use != "" {
			fmt.Fprintf(&b, "cgroup use %s\n", Quote(c.Use))
		}
		if c.Off {
			b.WriteString("cgroup off\n")
		}
		for _, r := range c.Devices {
			fmt.Fprintf(&b, "cgroup devices %s\n", r.Text())
		}
	}
	if r := sp.Rootfs; r != nil && r.Overlay != nil {
		var lowers []string
		for _, l := range r.Overlay.Lowers {
			lowers = append(lowers, Quote(l))
		}
		fmt.Fprintf(&b, "rootfs overlay %s", strings.Join(lowers, ":"))
		if r.Overlay.Upper != "" {
			fmt.Fprintf(&b, " --upper %s", Quote(r.Overlay.Upper))
		}
		b.WriteString("\n")
	} else if r != nil {
		fmt.Fprintf(&b, "rootfs %s\n", Quote(r.Dir)+map[bool]string{true: " ro"}[r.ReadOnly])
	}
	for _, m := range sp.Mounts {
		fmt.Fprintf(&b, "mount %s\n", mountWords(m))
	}
	if sp.Net != nil && sp.Net.LoUp {
		b.WriteString("net up lo\n")
	}
	if sp.Net != nil {
		for _, v := range sp.Net.Veths {
			fmt.Fprintf(&b, "net veth %s %s", v.HostAddr, v.ChildAddr)
			if v.HostName != "" {
				fmt.Fprintf(&b, " --name %s", Quote(v.HostName))
			}
			b.WriteString("\n")
		}
	}
	for _, sc := range sp.Sysctls {
		fmt.Fprintf(&b, "sysctl %s %s\n", sc.Key, Quote(sc.Value))
	}
	b.WriteString(saveHidden(sp))
	if c := sp.Caps; c != nil {
		b.WriteString(saveCaps(c))
	}
	if u := sp.User; u != nil {
		fmt.Fprintf(&b, "user %d:%d\n", u.UID, u.GID)
	}
	if sp.NoNewPrivs {
		b.WriteString("nonewprivs on\n")
	}
	b.WriteString(saveSeccomp(sp))
	saveProcess(&b, sp)
	for _, r := range sp.Rlimits {
		fmt.Fprintf(&b, "rlimit %s\n", r)
	}
	if sp.Hostname != "" {
		fmt.Fprintf(&b, "hostname %s\n", Quote(sp.Hostname))
	}
	if sp.Map != nil {
		fmt.Fprintf(&b, "map %s\n", sp.Map.String())
	}
	if sp.Time.Monotonic != 0 {
		fmt.Fprintf(&b, "timens monotonic %s\n", formatOffset(sp.Time.Monotonic))
	}
	if sp.Time.Boottime != 0 {
		fmt.Fprintf(&b, "timens boottime %s\n", formatOffset(sp.Time.Boottime))
	}
	return b.String()
}

func runSave(s *Session, args []string) error {
	args, force := takeFlagF(args)
	if len(args) != 1 {
		c, _ := Lookup("save")
		return usageError(c, "name one file (-f: replace a file nsh did not write)")
	}
	if err := writeOwnFile("save", args[0], []byte(SaveScript(s.Spec)), 0o644, force); err != nil {
		return err
	}
	fmt.Fprintf(s.Err, "save: wrote %s; source %s (or nsh %s) brings this plan back\n", args[0], args[0], args[0])
	return nil
}

// saveCaps writes commands that rebuild exactly these sets: as typed
// (cap drop net_raw, from every capability or a preset) where the three
// main sets are one and the others empty, else each set in one step,
// permitted before effective so every step is valid.
func saveCaps(c *plan.Caps) string {
	if c.Preset != "" {
		return "cap preset " + c.Preset + "\n"
	}
	if m := c.Bounding; c.Permitted == m && c.Effective == m && c.Inheritable == 0 && c.Ambient == 0 && !c.AmbientSet {
		best, words := "", -1
		for _, base := range []struct {
			preset string
			m      uint64
		}{{"", capability.All()}, {"docker", capability.Docker}, {"none", 0}} {
			drop, add := base.m&^m, m&^base.m
			var b strings.Builder
			if base.preset != "" {
				b.WriteString("cap preset " + base.preset + "\n")
			}
			if drop != 0 {
				b.WriteString("cap drop " + strings.ReplaceAll(capWords(drop), ",", " ") + "\n")
			}
			if add != 0 {
				b.WriteString("cap add " + strings.ReplaceAll(capWords(add), ",", " ") + "\n")
			}
			if n := bits.OnesCount64(drop) + bits.OnesCount64(add); words < 0 || n < words {
				best, words = b.String(), n
			}
		}
		return best
	}
	var b strings.Builder
	b.WriteString("cap preset none\n")
	for _, set := range []struct {
		name string
		m    uint64
	}{{"bounding", c.Bounding}, {"permitted", c.Permitted}, {"inheritable", c.Inheritable}, {"effective", c.Effective}} {
		if set.m != 0 {
			fmt.Fprintf(&b, "cap only --set %s %s\n", set.name, capWords(set.m))
		}
	}
	if c.AmbientSet {
		fmt.Fprintf(&b, "cap only --set ambient %s\n", capWords(c.Ambient))
	}
	return b.String()
}

func capWords(m uint64) string {
	var out []string
	for _, n := range capability.Names(m) {
		out = append(out, strings.TrimPrefix(n, "cap_"))
	}
	return strings.Join(out, ",")
}

func mountWords(m plan.Mount) string {
	switch m.Type {
	case "bind":
		w := "bind " + Quote(m.Source) + " " + Quote(m.Target)
		if m.ReadOnly {
			w += " ro"
		}
		return w
	case "tmpfs":
		w := "tmpfs " + Quote(m.Target)
		if m.Options != "" {
			w += " " + m.Options
		}
		return w
	}
	return m.Type + " " + Quote(m.Target)
}
