package commands

import (
	"fmt"
	"slices"

	"nsh/plan"
)

func init() {
	later("mask readonly", func() {
		for _, h := range []struct {
			name, summary, example, help string
			list                         func(*plan.Spec) *[]string
			preset                       []string
		}{
			{"mask", "hide paths inside the rootfs from children (an OCI config's maskedPaths)",
				"rootfs /tmp/root; mask /proc/kcore /proc/keys; spawn cat /proc/keys",
				"A file is covered with /dev/null, a directory with an empty read-only tmpfs, after every mount\n" +
					"and before pivot_root; a path the child does not have is left alone. A rootfs comes with\n" +
					"runc's and Docker's list (/proc/kcore, /proc/keys, /proc/timer_list, /sys/firmware, ...);\n" +
					"mask off empties it, mask runc brings it back. import oci applies a config's maskedPaths\n" +
					"exactly; export oci writes them.",
				func(sp *plan.Spec) *[]string { return &sp.Masked }, plan.RuncMasked},
			{"readonly", "make paths inside the rootfs read-only for children (an OCI config's readonlyPaths)",
				"rootfs /tmp/root; readonly /proc/sys; spawn sh -c 'echo x > /proc/sys/kernel/core_pattern'",
				"Each path is bound on itself and remounted read-only, after every mount and before pivot_root;\n" +
					"a path the child does not have is left alone. A rootfs comes with runc's and Docker's list\n" +
					"(/proc/sys, /proc/sysrq-trigger, /proc/bus, /proc/fs, /proc/irq): a root child cannot write\n" +
					"the host's sysctls through them; readonly off empties it, readonly runc brings it back.\n" +
					"import oci applies a config's readonlyPaths exactly; export oci writes them.",
				func(sp *plan.Spec) *[]string { return &sp.Readonly }, plan.RuncReadonly},
		} {
			h := h
			register(&Command{
				Name: h.name, Group: "filesystem",
				Usage:   []string{h.name + " PATH...", h.name + " runc", h.name + " rm PATH", h.name + " off", h.name},
				Summary: h.summary,
				Example: h.example,
				Help:    h.help,
				Run: func(s *Session, c *Command, args []string) error {
					return runHidden(s, h.name, args, h.list, h.preset)
				},
				Complete: func(s *Session, args []string, partial string) []string {
					if len(args) == 0 {
						return append([]string{"runc", "rm", "off"}, h.preset...)
					}
					if args[0] == "rm" {
						return *h.list(s.Spec)
					}
					return nil
				},
			})
		}
	})
}

// runHidden runs mask or readonly on the list it keeps.
func runHidden(s *Session, name string, args []string, list func(*plan.Spec) *[]string, preset []string) error {
	c, _ := Lookup(name)
	if len(args) == 0 {
		for _, p := range *list(s.Spec) {
			fmt.Fprintln(s.Out, p)
		}
		return nil
	}
	next := s.Spec.Clone()
	l := list(next)
	switch args[0] {
	case "off":
		if len(args) != 1 {
			return usageError(c, name+" off takes nothing more")
		}
		*l = nil
	case "runc":
		if len(args) != 1 {
			return usageError(c, name+" runc takes nothing more")
		}
		for _, p := range preset {
			if !slices.Contains(*l, p) {
				*l = append(*l, p)
			}
		}
	case "rm":
		if len(args) != 2 || !slices.Contains(*l, args[1]) {
			return usageError(c, fmt.Sprintf("give one path of the list (%s lists it)", name))
		}
		*l = slices.DeleteFunc(*l, func(p string) bool { return p == args[1] })
	default:
		for _, p := range args {
			if !slices.Contains(*l, p) {
				*l = append(*l, p)
			}
		}
	}
	return s.commit(next)
}

// hiddenRows are show's rows for the masked and read-only paths.
func hiddenRows(sp *plan.Spec) [][]string {
	var rows [][]string
	for _, x := range []struct {
		name string
		list []string
	}{{"mask", sp.Masked}, {"readonly", sp.Readonly}} {
		for i, p := range x.list {
			rows = append(rows, []string{map[bool]string{true: x.name}[i == 0], p})
		}
	}
	return rows
}

// saveHidden writes the commands that rebuild them. The rootfs line
// before them plans runc's lists, so a list that is runc's needs no line,
// and any other is said whole: off, then its paths.
func saveHidden(sp *plan.Spec) string {
	if sp.Rootfs == nil {
		return ""
	}
	var out string
	for _, x := range []struct {
		name         string
		list, preset []string
	}{{"mask", sp.Masked, plan.RuncMasked}, {"readonly", sp.Readonly, plan.RuncReadonly}} {
		if slices.Equal(x.list, x.preset) {
			continue
		}
		out += x.name + " off\n"
		if len(x.list) > 0 {
			out += x.name + " " + quoteWords(x.list) + "\n"
		}
	}
	return out
}

// withRuncHidden gives a plan that just got its rootfs runc's masked and
// read-only paths, as runc, crun, podman and Docker give every container
// (a root child could otherwise write /proc/sys/kernel/core_pattern, the
// host's, or read /proc/keys), unless the plan already lists its own.
func withRuncHidden(s *Session, before, next *plan.Spec) {
	if before.Rootfs != nil || next.Rootfs == nil || len(next.Masked) > 0 || len(next.Readonly) > 0 {
		return
	}
	next.Masked, next.Readonly = slices.Clone(plan.RuncMasked), slices.Clone(plan.RuncReadonly)
	fmt.Fprintln(s.Err, "rootfs: runc's masked and read-only paths too (/proc/keys, /proc/sys, ...): mask and readonly list and change them")
}

// withoutRuncHidden drops runc's lists with the rootfs they were for;
// lists of the user's own stay, and the plan says they need one.
func withoutRuncHidden(next *plan.Spec) {
	if slices.Equal(next.Masked, plan.RuncMasked) {
		next.Masked = nil
	}
	if slices.Equal(next.Readonly, plan.RuncReadonly) {
		next.Readonly = nil
	}
}
