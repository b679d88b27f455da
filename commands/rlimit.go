package commands

import (
	"fmt"
	"os"
	"strings"

	"nsh/isolate"
	"nsh/plan"
)

func init() {
	later("rlimit", func() {
		register(&Command{
			Name: "rlimit", Group: "capabilities",
			Other: &Sub{Usage: []string{"rlimit NAME SOFT[:HARD] [@ID]", "rlimit NAME SOFT[:HARD] PID --force"}, Run: rlimitSet,
				Words: func(s *Session) []string { return plan.RlimitNames() },
				Complete: func(s *Session, args []string, partial string) []string {
					switch len(args) {
					case 1:
						return []string{"unlimited"}
					case 2:
						return s.runningRefs()
					}
					return nil
				}},
			Subs: []Sub{
				{Name: "show", Usage: []string{"rlimit show [@ID|PID|self]"}, Run: rlimitShowCmd, JSON: true,
					Complete: func(s *Session, args []string, partial string) []string {
						if len(args) == 0 {
							return append(s.runningRefs(), "self")
						}
						return nil
					}},
				{Name: "reset", Usage: []string{"rlimit reset"}, Run: rlimitReset},
			},
			Bare:    rlimitList,
			Summary: "children's resource limits (prlimit, ulimit): open files, processes, core size...",
			Example: "rlimit nofile 64; spawn sh -c 'ulimit -n'",
			Help: "NAME as prlimit spells it: " + strings.Join(plan.RlimitNames(), " ") + ".\n" +
				"A value is a number or unlimited; SOFT alone sets both limits, SOFT: or :HARD one of them.\n" +
				"nsh sets them on the child stage with prlimit(2) before it runs anything, as runc does (a\n" +
				"stage in a new user namespace could not raise a hard limit itself). With @ID: now, on a\n" +
				"running child. show prints prlimit's table for the limits children get (nsh's own with the\n" +
				"plan), or for a process. A hard limit above nsh's own needs CAP_SYS_RESOURCE.",
		})
	})
}

// rlimitList is the bare rlimit: what is planned.
func rlimitList(s *Session) error {
	if len(s.Spec.Rlimits) == 0 {
		fmt.Fprintln(s.Out, "none planned: children keep nsh's limits (rlimit show lists them)")
	}
	for _, r := range s.Spec.Rlimits {
		fmt.Fprintf(s.Out, "rlimit %s\n", r)
	}
	return nil
}

func rlimitShowCmd(s *Session, c *Command, args []string) error {
	if len(args) > 1 {
		return usageError(c, "rlimit show takes at most one process")
	}
	return rlimitShow(s, args)
}

func rlimitReset(s *Session, c *Command, args []string) error {
	if len(args) != 0 {
		return usageError(c, "rlimit reset takes no arguments")
	}
	next := s.Spec.Clone()
	next.Rlimits = nil
	return s.commit(next)
}

// rlimitSet is rlimit NAME VALUE: planned, or now on a running process.
func rlimitSet(s *Session, c *Command, args []string) error {
	args, force := takeFlag(args, "--force")
	if len(args) < 2 || len(args) > 3 {
		return usageError(c, "give a limit's name and its value (SOFT or SOFT:HARD)")
	}
	if len(args) == 3 {
		return rlimitLive(s, args[0], args[1], args[2], force)
	}
	if force {
		return usageError(c, "--force is for a running process nsh did not start: rlimit NAME VALUE PID --force")
	}
	info, err := plan.LookupRlimit(args[0])
	if err != nil {
		return fmt.Errorf("rlimit: %w", err)
	}
	base := isolate.OwnRlimit(info.Name)
	for _, r := range s.Spec.Rlimits {
		if r.Name == info.Name {
			base = r
		}
	}
	r, err := plan.ParseRlimit(args[0], args[1], &base)
	if err != nil {
		return err
	}
	if err := isolate.CheckRaise(r); err != nil {
		return err
	}
	next := s.Spec.Clone()
	next.Rlimits = plan.SetRlimit(next.Rlimits, r)
	return s.commit(next)
}

// rlimitLive changes a running child's limit.
func rlimitLive(s *Session, name, value, ref string, force bool) error {
	info, err := plan.LookupRlimit(name)
	if err != nil {
		return fmt.Errorf("rlimit: %w", err)
	}
	t, err := s.lookupProc(ref)
	if err != nil {
		return fmt.Errorf("rlimit: %w", err)
	}
	defer t.release()
	now, err := t.p.Limits()
	if err != nil {
		return fmt.Errorf("rlimit %s %s: %w", name, ref, err)
	}
	var base plan.Rlimit
	for _, r := range now {
		if r.Name == info.Name {
			base = r
		}
	}
	r, err := plan.ParseRlimit(name, value, &base)
	if err != nil {
		return err
	}
	if err := s.mayChange("rlimit", t, force, "set its "+r.String()+" (prlimit)"); err != nil {
		return err
	}
	s.explain(fmt.Sprintf("prlimit(%d, RLIMIT_%s, %s, %s)", t.pid, strings.ToUpper(r.Name), plan.LimitText(r.Soft), plan.LimitText(r.Hard)))
	if err := t.p.SetRlimit(r); err != nil {
		return fmt.Errorf("rlimit %s %s: %w", name, ref, err)
	}
	return nil
}

func rlimitShow(s *Session, args []string) error {
	var limits []plan.Rlimit
	pid := 0 // 0: what children of the plan get
	if len(args) == 0 {
		// What a child gets: nsh's own, with the plan over them.
		for _, info := range plan.RlimitInfos {
			limits = append(limits, isolate.OwnRlimit(info.Name))
		}
		for _, p := range s.Spec.Rlimits {
			limits = plan.SetRlimit(limits, p)
		}
	} else {
		t, err := s.resolveProcess(args[0])
		if err != nil {
			return fmt.Errorf("rlimit show: %w", err)
		}
		defer t.release()
		pid = t.pid
		switch {
		case t.child != nil:
			// The process that runs its command, behind a relay too.
			limits, err = t.child.proc.Limits()
		case pid == 0:
			pid = os.Getpid()
			limits, err = isolate.ReadLimits(pid)
		default:
			if limits, err = isolate.ReadLimits(pid); err == nil {
				err = t.check()
			}
		}
		if err != nil {
			return fmt.Errorf("rlimit show %s: %w", args[0], err)
		}
	}
	if s.json {
		doc := rlimitJSON{Pid: pid, Limits: []rlimitEntry{}}
		for _, info := range plan.RlimitInfos {
			for _, r := range limits {
				if r.Name == info.Name {
					doc.Limits = append(doc.Limits, rlimitEntry{Resource: strings.ToUpper(info.Name), Description: info.Desc, Soft: limitJSON(r.Soft), Hard: limitJSON(r.Hard), Units: info.Units})
				}
			}
		}
		return s.emit(doc)
	}
	fmt.Fprint(s.Out, prlimitTable(limits))
	return nil
}

// prlimitTable lays limits out as prlimit(1) does (libsmartcols): each
// column as wide as its widest cell, SOFT and HARD right-aligned, one
// space between columns, in prlimit's order.
func prlimitTable(limits []plan.Rlimit) string {
	byName := map[string]plan.Rlimit{}
	for _, r := range limits {
		byName[r.Name] = r
	}
	rows := [][]string{{"RESOURCE", "DESCRIPTION", "SOFT", "HARD", "UNITS"}}
	for _, info := range plan.RlimitInfos {
		r, ok := byName[info.Name]
		if !ok {
			continue
		}
		rows = append(rows, []string{strings.ToUpper(info.Name), info.Desc, plan.LimitText(r.Soft), plan.LimitText(r.Hard), info.Units})
	}
	width := make([]int, 5)
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			switch {
			case i == 2 || i == 3:
				fmt.Fprintf(&b, "%*s ", width[i], cell)
			case i == len(row)-1:
				b.WriteString(cell)
			default:
				fmt.Fprintf(&b, "%-*s ", width[i], cell)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
