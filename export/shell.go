package export

import (
	"fmt"
	"strings"

	"nsh/isolate/capability"
	"nsh/plan"
)

// Shell is a POSIX sh script that does what spawn would, with util-linux
// (unshare, nsenter, setpriv, mount, pivot_root), iproute2 and cgroup file
// writes, commented so it reads as a lesson. It runs its arguments, or a
// shell when there are none. Nothing in it is this host's: it finds how
// the host it runs on mounts its cgroups when it runs.
func Shell(sp *plan.Spec) (string, error) {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("#!/bin/sh")
	w("# This file was written by nsh (export sh): what nsh's spawn does, with the standard tools.")
	w("# Run it as root:  sh THIS-FILE [CMD ARG...]   (a shell when no command is given)")
	w("set -eu")
	w(`[ $# -gt 0 ] || set -- /bin/sh`)
	w("")
	if err := shellCgroup(&b, sp); err != nil {
		return "", err
	}
	inner, notes, err := shellInner(sp)
	if err != nil {
		return "", err
	}
	for _, n := range notes {
		w("# Note: %s", n)
	}
	if len(sp.Rlimits) > 0 {
		w("# Resource limits, set here before the namespaces as nsh sets them on its")
		w("# child stage (inside a new user namespace a hard limit could not go up):")
		var lims []string
		for _, r := range sp.Rlimits {
			lims = append(lims, fmt.Sprintf("--%s=%s:%s", r.Name, plan.LimitText(r.Soft), plan.LimitText(r.Hard)))
		}
		w("prlimit --pid $$ %s", strings.Join(lims, " "))
		w("")
	}
	if sp.Seccomp != nil {
		w("# Not here: the seccomp filter (%s). util-linux has no seccomp", seccompWords(sp))
		w("# flag (unshare, setpriv and nsenter take none): use nsh spawn, or export oci and runc.")
		w("")
	}
	cmd := shellUnshare(sp)
	w("# 2. What nsh's child stage does inside the new namespaces before the command")
	w("#    (\"$@\") runs:")
	w("inner=$(cat <<'NSH_INNER'")
	b.WriteString(inner + "\n")
	w("NSH_INNER")
	w(")")
	w("")
	w("# 3. New namespaces (unshare) with the inner script in them; it moves itself")
	w("#    into the cgroups first, so everything it starts is in them.")
	veths := sp.Net != nil && len(sp.Net.Veths) > 0
	if veths {
		w(`fifo=$(mktemp -u /tmp/nsh-export.XXXXXX)`)
		w(`mkfifo "$fifo"`)
		w(`# The child waits on $fifo until its network is ready.`)
		w(`NSH_FIFO=$fifo NSH_CGDIRS=$movedirs %s sh -c "$inner" sh "$@" <&0 &`, cmd)
		w(`child=$!`)
		w(`# Should this script stop early, the waiting child must not wait forever.`)
		w(`trap 'kill "$child" 2>/dev/null || true; rm -f "$fifo"; cleanup 2>/dev/null || true' EXIT`)
		w(`# unshare makes the new net namespace first; wait for it before moving a link in.`)
		w(`while [ "$(readlink /proc/$child/ns/net 2>/dev/null)" = "$(readlink /proc/$$/ns/net)" ]; do sleep 0.01; done`)
		w("")
		w("# 4. A veth pair: one end moves into the child's net namespace.")
		for i, v := range sp.Net.Veths {
			host := fmt.Sprintf("nshx$$v%d", i)
			if v.HostName != "" {
				host = v.HostName
			}
			w(`ip link add %s type veth peer name %sp`, host, host)
			w(`ip link set %sp netns "$child"`, host)
			w(`ip addr add %s dev %s`, v.HostAddr, host)
			w(`ip link set %s up`, host)
			w(`nsenter --net -t "$child" sh -c "ip link set %sp name eth%d && ip addr add %s dev eth%d && ip link set eth%d up"`, host, i, v.ChildAddr, i, i)
			w(`vethdel="${vethdel:-} %s"`, host)
		}
		w(`echo go > "$fifo"; rm -f "$fifo"`)
		w(`status=0; wait "$child" || status=$?`)
		w(`for l in ${vethdel:-}; do ip link del "$l" 2>/dev/null || true; done`)
		w(`exit "$status"`)
		return b.String(), nil
	}
	w(`status=0`)
	w(`NSH_CGDIRS=$movedirs %s sh -c "$inner" sh "$@" || status=$?`, cmd)
	w(`exit "$status"`)
	return b.String(), nil
}

// seccompWords names a seccomp plan in a few words.
func seccompWords(sp *plan.Spec) string {
	p := sp.Seccomp
	w := "no preset"
	if p.Preset != "" {
		w = "preset " + p.Preset
	}
	if p.Profile != nil {
		w = "a loaded profile"
	}
	if n := len(p.Rules); n > 0 {
		w += fmt.Sprintf(", %d rules of your own", n)
	}
	return w + ", default " + p.DefaultAction().String()
}

// shq quotes a word for sh.
func shq(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// q quotes a word for sh only when it needs it, so paths read plainly.
func q(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
		return s
	}
	return shq(s)
}

func contains(list []string, any ...string) bool {
	for _, a := range any {
		for _, x := range list {
			if x == a {
				return true
			}
		}
	}
	return false
}

// toolFlag is each namespace type's long option in util-linux's unshare
// and nsenter (both spell them the same).
var toolFlag = map[string]string{"mnt": "--mount", "net": "--net", "uts": "--uts", "ipc": "--ipc", "pid": "--pid", "user": "--user", "cgroup": "--cgroup", "time": "--time"}

// Nsenter is an enter as nsenter is typed: into the namespaces of types
// (all when none) of pid, as nsh saw it, to run args.
func Nsenter(pid int, types, args []string) string {
	words := []string{"nsenter", "--target", fmt.Sprint(pid)}
	if len(types) == 0 {
		words = append(words, "--all")
	}
	for _, t := range types {
		words = append(words, toolFlag[t])
	}
	for _, a := range args {
		words = append(words, q(a))
	}
	return strings.Join(words, " ") + "\n"
}

// unshareWords is the command that makes the namespaces: nsenter for
// joined ones, then unshare for new ones.
func unshareWords(sp *plan.Spec) string {
	var parts []string
	var joins []string
	for _, j := range sp.Join {
		if strings.HasPrefix(j.Ref, "@") {
			continue
		}
		joins = append(joins, fmt.Sprintf("%s=%s", toolFlag[j.Type], shq(j.Path)))
	}
	if len(joins) > 0 {
		parts = append(parts, "nsenter "+strings.Join(joins, " ")+" --")
	}
	u := []string{"unshare"}
	for _, n := range plan.Namespaces {
		if sp.Has(n) {
			u = append(u, toolFlag[n])
			if n == "pid" {
				u = append(u, "--fork")
			}
		}
	}
	if sp.Has("user") {
		m := sp.IDMapping()
		switch m.Mode {
		case "root":
			u = append(u, "--map-root-user")
		case "id":
			u = append(u, fmt.Sprintf("--map-user=%d --map-group=%d", m.UID, m.GID))
		}
	}
	if sp.Has("time") {
		if sp.Time.Monotonic != 0 {
			u = append(u, fmt.Sprintf("--monotonic=%d", sp.Time.Monotonic))
		}
		if sp.Time.Boottime != 0 {
			u = append(u, fmt.Sprintf("--boottime=%d", sp.Time.Boottime))
		}
	}
	if sp.Has("pid") && sp.Has("mnt") && sp.Rootfs == nil {
		u = append(u, "--mount-proc")
	}
	if len(u) > 1 {
		parts = append(parts, strings.Join(u, " "))
	}
	return strings.Join(parts, " ")
}

// shellUnshare is unshareWords behind a sh that moves itself into the
// cgroups before it execs the rest, so unshare and all it starts are in
// them.
func shellUnshare(sp *plan.Spec) string {
	mover := `sh -c 'for d in $NSH_CGDIRS; do echo $$ > "$d/cgroup.procs"; done; exec "$@"' sh`
	return strings.TrimSpace(mover + " " + unshareWords(sp))
}

// Command is a spawn as one command line of the standard tools, the
// line people know (unshare, nsenter, setpriv), for a lesson to show
// beside the step. What one line cannot hold (the cgroup, a veth, a
// seccomp filter) is named in a comment above it; export sh has it all.
func Command(sp *plan.Spec, cmd []string) (string, error) {
	inner, _, err := shellInner(sp)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if c := sp.Cgroup; c != nil && len(c.Settings) > 0 {
		var kv []string
		for _, st := range c.Settings {
			kv = append(kv, st.Key+"="+st.Value)
		}
		fmt.Fprintf(&b, "# in a cgroup of its own with %s (export sh writes the files)\n", strings.Join(kv, ", "))
	}
	if sp.Net != nil && len(sp.Net.Veths) > 0 {
		b.WriteString("# with a veth pair to the host (export sh has the ip commands)\n")
		inner = strings.TrimPrefix(inner, `read _ < "$NSH_FIFO"`+"\n")
	}
	if sp.Seccomp != nil {
		fmt.Fprintf(&b, "# under the seccomp filter (%s): util-linux has no flag for one\n", seccompWords(sp))
	}
	var args []string
	for _, a := range cmd {
		args = append(args, q(a))
	}
	if c := sp.Caps; c != nil {
		// The line people know names what is dropped, not all that is kept.
		uid := 0
		if sp.User != nil {
			uid = sp.User.UID
		}
		f := c.Final(uid)
		if dropped := capability.All() &^ f.Bounding; len(capability.Names(dropped)) < len(capability.Names(f.Bounding)) {
			var short []string
			for _, n := range capability.Names(dropped) {
				short = append(short, "-"+strings.TrimPrefix(n, "cap_"))
			}
			inner = strings.Replace(inner, "--bounding-set="+capList(f.Bounding), "--bounding-set="+strings.Join(short, ","), 1)
		}
		if f.Inheritable == 0 {
			inner = strings.Replace(inner, " --inh-caps=-all", "", 1)
		}
	}
	line := unshareWords(sp)
	if line == "" && inner == `exec "$@"` && b.Len() == 0 {
		return "", nil // nothing isolated: the command alone
	}
	if inner != `exec "$@"` {
		line += " sh -c " + shq(strings.ReplaceAll(inner, "\n", "; ")) + " sh"
	}
	b.WriteString(strings.TrimSpace(line + " " + strings.Join(args, " ")))
	return b.String() + "\n", nil
}

// shellInner is the script the child runs inside its namespaces before
// its command: what nsh's child stage does.
func shellInner(sp *plan.Spec) (string, []string, error) {
	var notes []string
	var l []string
	add := func(format string, args ...any) { l = append(l, fmt.Sprintf(format, args...)) }
	if sp.Net != nil && len(sp.Net.Veths) > 0 {
		add(`read _ < "$NSH_FIFO"`)
	}
	if sp.Hostname != "" {
		add("hostname %s", q(sp.Hostname))
	}
	if sp.Net != nil && sp.Net.LoUp {
		add("ip link set lo up")
	}
	for _, sc := range sp.Sysctls {
		add("echo %s > %s", q(sc.Value), plan.SysctlPath(sc.Key))
	}
	rootDir := ""
	if r := sp.Rootfs; r != nil {
		rootDir = q(r.Dir)
	}
	if r := sp.Rootfs; r != nil && r.Overlay != nil {
		// The layer's directories are made on the host (mktemp), the
		// overlay mounted only in this mount namespace.
		var lowers []string
		for _, l := range r.Overlay.Lowers {
			lowers = append(lowers, q(l))
		}
		add(`layer=$(mktemp -d /tmp/nsh-layer.XXXXXX) && mkdir "$layer/work" "$layer/root"`)
		upper := `"$layer/upper"`
		if r.Overlay.Upper != "" {
			upper = q(r.Overlay.Upper)
			add("mkdir -p %s", upper)
		} else {
			add(`mkdir "$layer/upper"`)
		}
		add(`mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir="$layer/work" "$layer/root"`, strings.Join(lowers, ":"), upper)
		add(`echo overlay upper layer: %s "(it stays: remove $layer when done)" >&2`, upper)
		rootDir = `"$layer/root"`
		notes = append(notes, "the overlay's layer directories are made with mktemp and stay after the command ends; nsh's own go with the child")
	}
	if r := sp.Rootfs; r != nil {
		d := rootDir
		add("mount --bind %s %s", d, d)
		add("if [ -d %s/proc ]; then mount -t proc proc %s/proc; fi", d, d)
		add("if [ -d %s/dev ]; then mount -t tmpfs -o mode=755,size=65536k,nosuid tmpfs %s/dev", d, d)
		add("  for n in null zero full random urandom tty; do touch %s/dev/$n; mount --bind /dev/$n %s/dev/$n; done", d, d)
		add("  mkdir %s/dev/pts %s/dev/shm; mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts %s/dev/pts", d, d, d)
		add("  ln -s pts/ptmx %s/dev/ptmx; mount -t tmpfs -o mode=1777,nosuid,nodev,noexec shm %s/dev/shm; fi", d, d)
	}
	for _, m := range sp.Mounts {
		t := rootDir + q(m.Target)
		if rootDir != "" {
			add("mkdir -p %s", t)
		}
		switch m.Type {
		case "proc":
			add("mount -t proc proc %s", t)
		case "sysfs":
			add("mount -t sysfs -o ro,nosuid,nodev,noexec sysfs %s", t)
		case "mqueue":
			add("mount -t mqueue -o nosuid,nodev,noexec mqueue %s", t)
		case "tmpfs":
			o := "nosuid,nodev"
			if m.Options != "" {
				o += "," + m.Options
			}
			add("mount -t tmpfs -o %s tmpfs %s", o, t)
		case "bind":
			add("mount --rbind %s %s", q(m.Source), t)
			if m.ReadOnly {
				add("mount -o remount,bind,ro %s", t)
			}
		}
	}
	for _, m := range sp.Masked {
		t := rootDir + q(m)
		add("if [ -d %s ]; then mount -t tmpfs -o ro,nosuid,nodev,noexec,size=0k tmpfs %s; elif [ -e %s ]; then mount --bind /dev/null %s; fi", t, t, t, t)
	}
	for _, r := range sp.Readonly {
		t := rootDir + q(r)
		add("if [ -e %s ]; then mount --bind %s %s && mount -o remount,bind,ro %s; fi", t, t, t, t)
	}
	if r := sp.Rootfs; r != nil {
		if r.ReadOnly {
			add("mount -o remount,bind,ro %s", rootDir)
		}
		add("cd %s && pivot_root . . && umount -l . && cd /", rootDir)
	}
	var priv []string
	if u := sp.User; u != nil {
		priv = append(priv, fmt.Sprintf("--reuid=%d --regid=%d --clear-groups", u.UID, u.GID))
	}
	if c := sp.Caps; c != nil {
		uid := 0
		if sp.User != nil {
			uid = sp.User.UID
		}
		f := c.Final(uid)
		priv = append(priv, "--bounding-set="+capList(f.Bounding), "--inh-caps="+capList(f.Inheritable))
		if f.Ambient != 0 {
			priv = append(priv, "--ambient-caps="+capList(f.Ambient))
		}
	}
	if sp.NoNewPrivs {
		priv = append(priv, "--no-new-privs")
	}
	if len(priv) > 0 {
		if sp.Rootfs != nil {
			notes = append(notes, "with a rootfs, the user and capabilities need util-linux's setpriv inside it (busybox's cannot set the bounding set); the script stops if it is missing")
			add(`setpriv --help 2>&1 | grep -q -e --bounding-set || { echo "this rootfs has no util-linux setpriv to apply the user and capabilities: use nsh spawn" >&2; exit 126; }`)
		}
		add(`exec setpriv %s -- "$@"`, strings.Join(priv, " "))
	} else {
		add(`exec "$@"`)
	}
	return strings.Join(l, "\n"), notes, nil
}

// capList is setpriv's form: -all,+chown,+kill (or -all for none).
func capList(m uint64) string {
	out := []string{"-all"}
	for _, n := range capability.Names(m) {
		out = append(out, "+"+strings.TrimPrefix(n, "cap_"))
	}
	return strings.Join(out, ",")
}
