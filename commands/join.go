package commands

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"nsh/isolate"
	"nsh/plan"
)

func init() {
	later("join", func() {
		register(&Command{
			Name: "join", Group: "namespaces",
			Usage:   []string{"join NS PATH", "join NS @ID|PID", "join NS off"},
			Summary: "children enter an existing namespace (a pinned file or a running child's) instead of a new one",
			Example: "spawn -d --name a sleep 60; join net @a; spawn ip addr",
			Help: "Like nsenter --uts=FILE or nsenter -t PID -u for every child spawned from now on.\n" +
				"A namespace type is either unshared (new) or joined, not both. Joining a pid namespace\n" +
				"makes the child a process of it (not its PID 1); nsh keeps a small relay process outside.",
			Run: runJoin,
			Complete: func(s *Session, args []string, partial string) []string {
				switch len(args) {
				case 0:
					return plan.Namespaces
				case 1:
					return append(append([]string{"off"}, s.childRefs()...), completeFiles(nil, partial)...)
				}
				return nil
			},
		})
	})
}

func runJoin(s *Session, c *Command, args []string) error {
	if len(args) == 0 {
		if len(s.Spec.Join) == 0 {
			fmt.Fprintln(s.Out, "no namespaces joined: children get new ones or nsh's")
		}
		for _, j := range s.Spec.Join {
			fmt.Fprintf(s.Out, "%s %s\n", j.Type, j.Ref)
		}
		return nil
	}
	if len(args) != 2 {
		return usageError(c, "name a namespace type and what to join")
	}
	ns, err := plan.ParseNamespace(args[0])
	if err != nil {
		return err
	}
	next := s.Spec.Clone()
	var keep []plan.Join
	for _, j := range next.Join {
		if j.Type != ns {
			keep = append(keep, j)
		}
	}
	next.Join = keep
	switch ref := args[1]; {
	case ref == "off":
	case strings.HasPrefix(ref, "@"):
		ch, err := s.lookupChild(ref, true)
		if err != nil {
			return err
		}
		next.Join = append(next.Join, plan.Join{Type: ns, Path: isolate.NSPath(ch.proc.Pid, ns), Ref: ref})
	case isPID(ref):
		t, err := s.lookupProc(ref)
		if err != nil {
			return fmt.Errorf("join %s %s: %w", ns, ref, err)
		}
		defer t.release()
		if t.child != nil {
			next.Join = append(next.Join, plan.Join{Type: ns, Path: isolate.NSPath(t.pid, ns), Ref: "@" + strconv.Itoa(t.child.id)})
			break
		}
		f, err := isolate.OpenNamespace(isolate.NSPath(t.pid, ns), ns)
		if err != nil {
			return fmt.Errorf("join %s %s: %w", ns, ref, err)
		}
		_, ino, err := isolate.NamespaceOf(f)
		f.Close()
		if err == nil && !t.p.Alive() {
			err = fmt.Errorf("process %d has exited", t.pid)
		}
		if err != nil {
			return fmt.Errorf("join %s %s: %w", ns, ref, err)
		}
		next.Join = append(next.Join, plan.Join{Type: ns, Path: isolate.NSPath(t.pid, ns), Ref: ref, Ino: ino})
	default:
		abs, err := filepath.Abs(ref)
		if err != nil {
			return err
		}
		f, err := isolate.OpenNamespace(abs, ns)
		if err != nil {
			return fmt.Errorf("join %s %s: %w", ns, ref, err)
		}
		f.Close()
		next.Join = append(next.Join, plan.Join{Type: ns, Path: abs, Ref: abs})
	}
	if next.Has(ns) && len(next.Join) > len(keep) {
		return fmt.Errorf("join %s: %s is unshared: a child gets a new %s namespace or enters an existing one; `share %s` first", ns, ns, ns, ns)
	}
	return s.commit(next)
}
