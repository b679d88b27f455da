package commands

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"nsh/plan"
)

func init() {
	later("unshare share hostname map timens", func() {
		register(
			&Command{
				Name: "unshare", Group: "namespaces",
				Usage:   []string{"unshare NS...", "unshare all", "unshare -muinpUCTr [--fork] [CMD ARG...]"},
				Summary: "create these namespaces for each child",
				Example: "unshare uts pid mnt; spawn sh -c 'echo $$'   # prints 1",
				Help: "NS is one of cgroup ipc net mnt pid time user uts (mount is accepted for mnt), or all.\nWith pid and mnt both new, children get a fresh /proc and run as PID 1.\n" +
					"unshare(1)'s own command line is understood too, as the walkthrough types it: unshare -muipr --fork /bin/sh\n" +
					"plans those namespaces (-r: a user namespace with you as root), spawns the command, and says the nsh form.",
				Run:      runUnshare,
				Complete: completeNamespaces,
			},
			&Command{
				Name: "share", Group: "namespaces",
				Usage:    []string{"share NS...", "share all"},
				Summary:  "undo unshare: children stay in nsh's namespace of these types",
				Example:  "unshare all; share net user",
				Help:     "Settings that need the namespace go with it: the hostname with uts, the id map with user, clock offsets with time.",
				Run:      runShare,
				Complete: completeNamespaces,
			},
			&Command{
				Name: "hostname", Group: "namespaces",
				Usage:   []string{"hostname NAME", "hostname off", "hostname"},
				Summary: "hostname of children (needs unshare uts; the host's name never changes)",
				Example: "unshare uts; hostname foobar; spawn hostname",
				Run:     runHostname,
				Complete: func(s *Session, args []string, partial string) []string {
					if len(args) == 0 {
						return []string{"off"}
					}
					return nil
				},
			},
			&Command{
				Name: "map", Group: "namespaces",
				Usage:   []string{"map root", "map UID[:GID]", "map off"},
				Summary: "uid/gid map of a new user namespace (default: you are root inside, like unshare -r)",
				Example: "unshare user; map 1000:1000; spawn id",
				Help:    "map root: your uid and gid become 0 inside.\nmap UID[:GID]: they become UID and GID (GID defaults to UID).\nmap off: no map is written; ids show as 65534 (nobody) inside, like unshare -U.",
				Run:     runMap,
				Complete: func(s *Session, args []string, partial string) []string {
					if len(args) == 0 {
						return []string{"root", "off", "1000:1000"}
					}
					return nil
				},
			},
			&Command{
				Name: "timens", Group: "namespaces",
				Usage:   []string{"timens monotonic OFFSET", "timens boottime OFFSET", "timens off", "timens"},
				Summary: "clock offsets of a new time namespace (needs unshare time)",
				Example: "unshare time; timens boottime +1d; spawn cat /proc/uptime",
				Help:    "OFFSET is seconds with an optional sign and unit: +3600, -90, +2h, -1d (s m h d).\nThe offsets move CLOCK_MONOTONIC and CLOCK_BOOTTIME (uptime), not the wall clock.",
				Run:     runTimens,
				Complete: func(s *Session, args []string, partial string) []string {
					if len(args) == 0 {
						return []string{"monotonic", "boottime", "off"}
					}
					return nil
				},
			},
		)
	})
}

func completeNamespaces(s *Session, args []string, partial string) []string {
	return append(append([]string(nil), plan.Namespaces...), "all")
}

// parseNamespaces expands the words of unshare and share.
func parseNamespaces(c *Command, args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, usageError(c, "name at least one namespace ("+strings.Join(plan.Namespaces, " ")+" or all)")
	}
	var out []string
	for _, a := range args {
		if strings.EqualFold(a, "all") {
			out = append(out, plan.Namespaces...)
			continue
		}
		ns, err := plan.ParseNamespace(a)
		if err != nil {
			return nil, err
		}
		out = append(out, ns)
	}
	return out, nil
}

func runUnshare(s *Session, c *Command, args []string) error {
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		return unshareAsUtilLinux(s, c, args)
	}
	nss, err := parseNamespaces(c, args)
	if err != nil {
		return err
	}
	next := s.Spec.Clone()
	for _, ns := range nss {
		if !next.Has(ns) {
			next.Namespaces = append(next.Namespaces, ns)
		}
	}
	return s.commit(next)
}

func runShare(s *Session, c *Command, args []string) error {
	nss, err := parseNamespaces(c, args)
	if err != nil {
		return err
	}
	next := s.Spec.Clone()
	drop := map[string]bool{}
	for _, ns := range nss {
		drop[ns] = true
	}
	var keep []string
	for _, ns := range next.Namespaces {
		if !drop[ns] {
			keep = append(keep, ns)
		}
	}
	next.Namespaces = keep
	var dropped []string
	if drop["uts"] && next.Hostname != "" {
		dropped = append(dropped, "hostname "+next.Hostname)
		next.Hostname = ""
	}
	if drop["user"] && next.Map != nil {
		dropped = append(dropped, "map "+next.Map.String())
		next.Map = nil
	}
	if drop["net"] && next.Net != nil && !next.Net.Empty() {
		dropped = append(dropped, "the network plan")
		next.Net = nil
	}
	if drop["mnt"] && (next.Rootfs != nil || len(next.Mounts) > 0) {
		dropped = append(dropped, "rootfs and mounts")
		next.Rootfs, next.Mounts = nil, nil
	}
	var keepSysctls []plan.Sysctl
	for _, sc := range next.Sysctls {
		if ns, _ := plan.SysctlNamespace(sc.Key); drop[ns] {
			dropped = append(dropped, "sysctl "+sc.Key)
			continue
		}
		keepSysctls = append(keepSysctls, sc)
	}
	next.Sysctls = keepSysctls
	if drop["time"] && next.Time != (plan.TimeOffsets{}) {
		dropped = append(dropped, "clock offsets")
		next.Time = plan.TimeOffsets{}
	}
	if err := s.commit(next); err != nil {
		return err
	}
	if len(dropped) > 0 {
		fmt.Fprintf(s.Err, "share: also dropped %s, which needed the namespace\n", strings.Join(dropped, ", "))
	}
	return nil
}

func runHostname(s *Session, c *Command, args []string) error {
	switch len(args) {
	case 0:
		if s.Spec.Hostname == "" {
			fmt.Fprintln(s.Out, "no hostname set: children keep the uts namespace's name")
		} else {
			fmt.Fprintln(s.Out, s.Spec.Hostname)
		}
		return nil
	case 1:
	default:
		return usageError(c, "give one name")
	}
	next := s.Spec.Clone()
	if args[0] == "off" {
		next.Hostname = ""
	} else {
		if err := plan.ValidateHostname(args[0]); err != nil {
			return err
		}
		next.Hostname = args[0]
	}
	return s.commit(next)
}

func runMap(s *Session, c *Command, args []string) error {
	if len(args) != 1 {
		return usageError(c, "give one mapping")
	}
	next := s.Spec.Clone()
	switch args[0] {
	case "root":
		next.Map = &plan.IDMap{Mode: "root"}
	case "off":
		next.Map = &plan.IDMap{Mode: "none"}
	default:
		uidS, gidS, hasGID := strings.Cut(args[0], ":")
		uid, err := strconv.ParseUint(uidS, 10, 32)
		if err != nil {
			return usageError(c, fmt.Sprintf("%q is not root, off or UID[:GID] with numeric ids", args[0]))
		}
		gid := uid
		if hasGID {
			if gid, err = strconv.ParseUint(gidS, 10, 32); err != nil {
				return usageError(c, fmt.Sprintf("gid %q is not a number", gidS))
			}
		}
		next.Map = &plan.IDMap{Mode: "id", UID: int(uid), GID: int(gid)}
	}
	return s.commit(next)
}

func runTimens(s *Session, c *Command, args []string) error {
	if len(args) == 0 {
		fmt.Fprintf(s.Out, "monotonic %s\nboottime %s\n", formatOffset(s.Spec.Time.Monotonic), formatOffset(s.Spec.Time.Boottime))
		return nil
	}
	next := s.Spec.Clone()
	switch {
	case len(args) == 1 && args[0] == "off":
		next.Time = plan.TimeOffsets{}
	case len(args) == 2 && (args[0] == "monotonic" || args[0] == "boottime"):
		off, err := ParseOffset(args[1])
		if err != nil {
			return fmt.Errorf("timens %s: %w", args[0], err)
		}
		if args[0] == "monotonic" {
			next.Time.Monotonic = off
		} else {
			next.Time.Boottime = off
		}
	default:
		return usageError(c, "name a clock and an offset")
	}
	return s.commit(next)
}

// ParseOffset reads a clock offset such as +3600, -90s, +2h or -1d.
func ParseOffset(w string) (int64, error) {
	units := map[byte]int64{'s': 1, 'm': 60, 'h': 3600, 'd': 86400}
	num, mult := w, int64(1)
	if n := len(w); n > 0 {
		if u, ok := units[w[n-1]]; ok {
			num, mult = w[:n-1], u
		}
	}
	v, err := strconv.ParseInt(strings.TrimPrefix(num, "+"), 10, 64)
	if err != nil || strings.HasPrefix(num, "+-") || strings.HasPrefix(num, "++") {
		return 0, fmt.Errorf("bad offset %q: give seconds with an optional sign and unit, e.g. +3600, -90s, +2h, -1d", w)
	}
	const limit = 1 << 40
	if v > limit/mult || v < -limit/mult {
		return 0, fmt.Errorf("offset %q is too large", w)
	}
	return v * mult, nil
}

// formatOffset is the inverse of ParseOffset, in plain seconds.
func formatOffset(sec int64) string {
	return fmt.Sprintf("%+d", sec)
}

// utilLinuxShort are unshare(1)'s one-letter namespace flags.
var utilLinuxShort = map[rune]string{'m': "mnt", 'u': "uts", 'i': "ipc", 'n': "net", 'p': "pid", 'U': "user", 'C': "cgroup", 'T': "time"}

// utilLinuxLong are its long ones.
var utilLinuxLong = map[string]string{"--mount": "mnt", "--uts": "uts", "--ipc": "ipc", "--net": "net", "--pid": "pid", "--user": "user", "--cgroup": "cgroup", "--time": "time"}

// unshareAsUtilLinux takes unshare(1)'s command line, as the walkthrough
// types it (unshare -muipr --fork /bin/sh): the namespaces it names are
// planned and its command spawned, and one line says the nsh form.
func unshareAsUtilLinux(s *Session, c *Command, args []string) error {
	var nss, cmd []string
	mapRoot := false
	add := func(ns string) {
		if !slices.Contains(nss, ns) {
			nss = append(nss, ns)
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			cmd = args[i+1:]
			i = len(args)
		case !strings.HasPrefix(a, "-"):
			cmd = args[i:]
			i = len(args)
		case utilLinuxLong[a] != "":
			add(utilLinuxLong[a])
		case a == "--map-root-user":
			add("user")
			mapRoot = true
		case a == "--fork", a == "--mount-proc", a == "--kill-child":
			// nsh always forks, mounts a fresh /proc with pid and mnt,
			// and ends its children with it.
		case strings.HasPrefix(a, "--") && strings.Contains(a, "="):
			name, _, _ := strings.Cut(a, "=")
			if ns := utilLinuxLong[name]; ns != "" {
				return usageError(c, fmt.Sprintf("%s joins a namespace pinned to a file: in nsh that is join %s FILE", a, ns))
			}
			return usageError(c, fmt.Sprintf("nsh does not take unshare(1)'s %s: give namespaces (unshare uts pid ...) and see help unshare", a))
		case strings.HasPrefix(a, "--"):
			return usageError(c, fmt.Sprintf("nsh does not take unshare(1)'s %s: give namespaces (unshare uts pid ...) and see help unshare", a))
		default:
			for _, r := range a[1:] {
				switch {
				case utilLinuxShort[r] != "":
					add(utilLinuxShort[r])
				case r == 'r':
					add("user")
					mapRoot = true
				case r == 'f':
				default:
					return usageError(c, fmt.Sprintf("nsh does not take unshare(1)'s -%c: give namespaces (unshare uts pid ...) and see help unshare", r))
				}
			}
		}
	}
	if len(nss) == 0 {
		return usageError(c, "name at least one namespace: unshare(1)'s -m -u -i -n -p -U -C -T, or nsh's words")
	}
	line := []string{"unshare " + strings.Join(nss, " ")}
	if mapRoot {
		line = append(line, "map root")
	}
	if len(cmd) > 0 {
		line = append(line, "spawn "+strings.Join(quoteAll(cmd), " "))
	}
	fmt.Fprintf(s.Err, "unshare: as nsh says it: %s\n", strings.Join(line, "; "))
	next := s.Spec.Clone()
	for _, ns := range nss {
		if !next.Has(ns) {
			next.Namespaces = append(next.Namespaces, ns)
		}
	}
	if err := s.commit(next); err != nil {
		return err
	}
	if mapRoot {
		if err := s.Exec([]string{"map", "root"}); err != nil {
			return err
		}
	}
	if len(cmd) > 0 {
		return s.Exec(append([]string{"spawn"}, cmd...))
	}
	return nil
}
