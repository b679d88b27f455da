package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"nsh/isolate"
	"nsh/plan"
)

// A facet is one part of the plan and everything the language says of
// it: its rows in show, its lines in save, its words in the prompt. The
// plan's own check of it is in package plan (validate...), the stage's
// steps in isolate, its OCI form in export and importer. A new plan
// field goes into one facet here; TestEveryPlanField fails until show,
// save and the OCI round trip all carry it.
type facet struct {
	name   string
	show   func(s *Session, sp *plan.Spec) [][]string
	save   func(b *strings.Builder, sp *plan.Spec)
	prompt func(sp *plan.Spec) []string
}

// facets in the order show, save and the prompt present them. save's
// order is also one that source accepts: the namespaces a later line
// needs (hostname, rootfs) come first.
var facets = []facet{
	{"namespaces", showNamespaces, saveNamespaces, promptNamespaces},
	{"rootfs", showRootfs, saveRootfs, promptRootfs},
	{"network", showNetwork, saveNetwork, promptNetwork},
	{"sysctls", showSysctls, saveSysctls, nil},
	{"cgroup", showCgroup, saveCgroup, func(sp *plan.Spec) []string { return cgroupPrompt(sp.Cgroup) }},
	{"privileges", showPrivileges, savePrivileges, promptPrivileges},
	{"seccomp", showSeccomp, func(b *strings.Builder, sp *plan.Spec) { b.WriteString(saveSeccomp(sp)) }, promptSeccomp},
	{"rlimits", showRlimits, saveRlimits, promptRlimits},
	{"process", showProcess, saveProcess, promptProcess},
}

func showNamespaces(s *Session, sp *plan.Spec) [][]string {
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
	return rows
}

func saveNamespaces(b *strings.Builder, sp *plan.Spec) {
	if len(sp.Namespaces) > 0 {
		fmt.Fprintf(b, "unshare %s\n", strings.Join(sp.Namespaces, " "))
	}
	for _, j := range sp.Join {
		if strings.HasPrefix(j.Ref, "@") {
			fmt.Fprintf(b, "# join %s %s: %s was a child of the session that saved this\n", j.Type, j.Ref, j.Ref)
		} else {
			fmt.Fprintf(b, "join %s %s\n", j.Type, Quote(j.Ref))
		}
	}
	if sp.Hostname != "" {
		fmt.Fprintf(b, "hostname %s\n", Quote(sp.Hostname))
	}
	if sp.Map != nil {
		fmt.Fprintf(b, "map %s\n", sp.Map.String())
	}
	if sp.Time.Monotonic != 0 {
		fmt.Fprintf(b, "timens monotonic %s\n", formatOffset(sp.Time.Monotonic))
	}
	if sp.Time.Boottime != 0 {
		fmt.Fprintf(b, "timens boottime %s\n", formatOffset(sp.Time.Boottime))
	}
}

func promptNamespaces(sp *plan.Spec) []string {
	var parts []string
	if len(sp.Namespaces) > 0 {
		parts = append(parts, strings.Join(sp.Namespaces, ","))
	}
	if len(sp.Join) > 0 {
		var joined []string
		for _, j := range sp.Join {
			joined = append(joined, j.Type)
		}
		parts = append(parts, "join:"+strings.Join(joined, ","))
	}
	return parts
}

func showRootfs(s *Session, sp *plan.Spec) [][]string {
	var rows [][]string
	if sp.Rootfs != nil {
		rows = append(rows, []string{"rootfs", rootfsText(sp.Rootfs)})
		if img := sp.Rootfs.Image; img != nil {
			rows = append(rows, []string{"image", orDefault(img.Digest, "(no manifest digest: docker save's tar)")})
			for i, l := range img.Layers {
				rows = append(rows, []string{fmt.Sprintf("layer %d", i+1), l.DiffID + " " + l.Dir})
			}
		}
	}
	for _, m := range sp.Mounts {
		rows = append(rows, []string{"mount", m.String()})
	}
	return append(rows, hiddenRows(sp)...)
}

func saveRootfs(b *strings.Builder, sp *plan.Spec) {
	if r := sp.Rootfs; r != nil && r.Image != nil {
		fmt.Fprintf(b, "rootfs %s\n", imageWords(r, Quote))
	} else if r != nil && r.Overlay != nil {
		var lowers []string
		for _, l := range r.Overlay.Lowers {
			lowers = append(lowers, Quote(l))
		}
		fmt.Fprintf(b, "rootfs overlay %s", strings.Join(lowers, ":"))
		if r.Overlay.Upper != "" {
			fmt.Fprintf(b, " --upper %s", Quote(r.Overlay.Upper))
		}
		b.WriteString("\n")
	} else if r != nil {
		fmt.Fprintf(b, "rootfs %s\n", Quote(r.Dir)+map[bool]string{true: " ro"}[r.ReadOnly])
	}
	for _, m := range sp.Mounts {
		fmt.Fprintf(b, "mount %s\n", mountWords(m))
	}
	b.WriteString(saveHidden(sp))
}

func promptRootfs(sp *plan.Spec) []string {
	var parts []string
	if r := sp.Rootfs; r != nil {
		root := "root=" + filepath.Base(r.Dir)
		if r.Image != nil {
			root = "root=" + imageName(r.Image.Ref)
		}
		if r.ReadOnly {
			root += ":ro"
		}
		if r.Overlay != nil {
			root += "+overlay"
		}
		parts = append(parts, root)
	}
	if n := len(sp.Masked); n > 0 {
		parts = append(parts, fmt.Sprintf("masked=%d", n))
	}
	if n := len(sp.Readonly); n > 0 {
		parts = append(parts, fmt.Sprintf("readonly=%d", n))
	}
	return parts
}

func showNetwork(s *Session, sp *plan.Spec) [][]string {
	var rows [][]string
	if sp.Net == nil {
		return nil
	}
	if sp.Net.LoUp {
		rows = append(rows, []string{"network", "lo up"})
	}
	for i, v := range sp.Net.Veths {
		rows = append(rows, []string{"veth", vethText(v, i)})
	}
	return rows
}

func saveNetwork(b *strings.Builder, sp *plan.Spec) {
	if sp.Net == nil {
		return
	}
	if sp.Net.LoUp {
		b.WriteString("net up lo\n")
	}
	for _, v := range sp.Net.Veths {
		fmt.Fprintf(b, "net veth %s %s", v.HostAddr, v.ChildAddr)
		if v.HostName != "" {
			fmt.Fprintf(b, " --name %s", Quote(v.HostName))
		}
		b.WriteString("\n")
	}
}

func promptNetwork(sp *plan.Spec) []string {
	if n := sp.Net; n != nil && len(n.Veths) > 0 {
		return []string{fmt.Sprintf("veth=%d", len(n.Veths))}
	}
	return nil
}

func showSysctls(s *Session, sp *plan.Spec) [][]string {
	var rows [][]string
	for _, sc := range sp.Sysctls {
		rows = append(rows, []string{"sysctl " + sc.Key, sc.Value})
	}
	return rows
}

func saveSysctls(b *strings.Builder, sp *plan.Spec) {
	for _, sc := range sp.Sysctls {
		fmt.Fprintf(b, "sysctl %s %s\n", sc.Key, Quote(sc.Value))
	}
}

func showCgroup(s *Session, sp *plan.Spec) [][]string {
	c := sp.Cgroup
	if c == nil {
		return nil
	}
	var rows [][]string
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
	return rows
}

func saveCgroup(b *strings.Builder, sp *plan.Spec) {
	c := sp.Cgroup
	if c == nil {
		return
	}
	for _, st := range c.Settings {
		fmt.Fprintf(b, "cgroup set %s %s\n", st.Key, displayValue(st))
	}
	if c.Parent != "" {
		fmt.Fprintf(b, "cgroup parent %s\n", Quote(c.Parent))
	}
	if c.Use != "" {
		fmt.Fprintf(b, "cgroup use %s\n", Quote(c.Use))
	}
	if c.Off {
		b.WriteString("cgroup off\n")
	}
	for _, r := range c.Devices {
		fmt.Fprintf(b, "cgroup devices %s\n", r.Text())
	}
}

// showPrivileges: the capability sets, the user and no_new_privs.
func showPrivileges(s *Session, sp *plan.Spec) [][]string {
	var rows [][]string
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
		rows = append(rows, []string{"capabilities planned against", base},
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
	return rows
}

func savePrivileges(b *strings.Builder, sp *plan.Spec) {
	if c := sp.Caps; c != nil {
		b.WriteString(saveCaps(c))
	}
	if u := sp.User; u != nil {
		fmt.Fprintf(b, "user %d:%d\n", u.UID, u.GID)
	}
	if sp.NoNewPrivs {
		b.WriteString("nonewprivs on\n")
	}
}

func promptPrivileges(sp *plan.Spec) []string {
	if c := capPrompt(sp); c != "" {
		return []string{c}
	}
	return nil
}

func showSeccomp(s *Session, sp *plan.Spec) [][]string {
	if sp.Seccomp == nil {
		return nil
	}
	var rows [][]string
	for i, l := range seccompPlanLines(sp) {
		rows = append(rows, []string{map[bool]string{true: "seccomp"}[i == 0], l})
	}
	return rows
}

func promptSeccomp(sp *plan.Spec) []string {
	sc := sp.Seccomp
	if sc == nil {
		return nil
	}
	w := "seccomp"
	if sc.Preset != "" {
		w += "=" + sc.Preset
	}
	if len(sc.Rules) > 0 || sc.Default != nil {
		w += "+"
	}
	return []string{w}
}

func showRlimits(s *Session, sp *plan.Spec) [][]string {
	var rows [][]string
	for _, r := range sp.Rlimits {
		rows = append(rows, []string{"rlimit " + r.Name, strings.TrimPrefix(r.String(), r.Name+" ")})
	}
	return rows
}

func saveRlimits(b *strings.Builder, sp *plan.Spec) {
	for _, r := range sp.Rlimits {
		fmt.Fprintf(b, "rlimit %s\n", r)
	}
}

func promptRlimits(sp *plan.Spec) []string {
	var parts []string
	for _, r := range sp.Rlimits {
		parts = append(parts, r.Name+"="+strings.TrimPrefix(r.String(), r.Name+" "))
	}
	return parts
}

func showProcess(s *Session, sp *plan.Spec) [][]string {
	if len(sp.Command) == 0 && sp.Env == nil && sp.Cwd == "" && !sp.Terminal {
		return nil
	}
	var rows [][]string
	for _, l := range processLines(sp) {
		k, v, _ := strings.Cut(l, " ")
		rows = append(rows, []string{"process " + k, v})
	}
	return rows
}

// promptProcess: the OCI process, when set: what a bare spawn runs, and
// where.
func promptProcess(sp *plan.Spec) []string {
	var parts []string
	if c := sp.Command; len(c) > 0 {
		parts = append(parts, "cmd="+filepath.Base(c[0]))
	}
	if sp.Env != nil {
		parts = append(parts, fmt.Sprintf("env=%d", len(sp.Env)))
	}
	if sp.Cwd != "" {
		parts = append(parts, "cwd="+sp.Cwd)
	}
	return parts
}
