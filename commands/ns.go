package commands

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"nsh/isolate"
	"nsh/plan"
)

func init() {
	later("ns", func() {
		refs := func(s *Session) []string { return append([]string{"self", "parent"}, s.childRefs()...) }
		register(&Command{
			Name: "ns", Group: "children",
			Other: &Sub{Usage: []string{"ns [self|parent|PID|@ID] [--json]"}, Run: nsShow, JSON: true, Words: refs},
			Subs: []Sub{
				{Name: "diff", Usage: []string{"ns diff A B [--json]"}, Run: nsDiffCmd, JSON: true,
					Complete: func(s *Session, args []string, partial string) []string {
						if len(args) < 2 {
							return refs(s)
						}
						return nil
					}},
				{Name: "pin", Usage: []string{"ns pin NS PATH @ID|PID"}, Run: nsPinCmd,
					Complete: func(s *Session, args []string, partial string) []string {
						switch len(args) {
						case 0:
							return plan.Namespaces
						case 1:
							return completeFiles(nil, partial)
						case 2:
							return s.childRefs()
						}
						return nil
					}},
				{Name: "unpin", Usage: []string{"ns unpin PATH"}, Run: nsUnpinCmd,
					Complete: func(s *Session, args []string, partial string) []string {
						if len(args) == 0 {
							return completeFiles(nil, partial)
						}
						return nil
					}},
			},
			Summary: "a process's namespaces (like ls -l /proc/PID/ns), which two share; pin one to a file",
			Example: "ns diff self @web",
			Help: "Each namespace is a kernel object; /proc/PID/ns/TYPE names it by inode, and the same inode\n" +
				"means the same namespace. pid_for_children and time_for_children show where the process's\n" +
				"future children will live. A and B are self, parent (the shell nsh was started from), a PID or @ID.\n" +
				"ns pin bind-mounts a child's /proc/PID/ns/NS on PATH (made if missing), so the namespace\n" +
				"outlives the child, like unshare --uts=FILE; `join NS PATH` enters it later, from any nsh.\n" +
				"Pins are the one thing nsh leaves behind; `ns` lists this session's, `ns unpin` removes one.",
		})
	})
}

func nsDiffCmd(s *Session, c *Command, args []string) error {
	if len(args) != 2 {
		return usageError(c, "ns diff needs two processes")
	}
	return nsDiff(s, args[0], args[1])
}

func nsPinCmd(s *Session, c *Command, args []string) error {
	if len(args) != 3 {
		return usageError(c, "ns pin needs a namespace type, a file and a child")
	}
	return nsPin(s, args[0], args[1], args[2])
}

func nsUnpinCmd(s *Session, c *Command, args []string) error {
	if len(args) != 1 {
		return usageError(c, "ns unpin needs the pinned file")
	}
	return nsUnpin(s, args[0])
}

// nsShow lists a process's namespaces: ns, ns self, ns @ID, ns PID.
func nsShow(s *Session, c *Command, args []string) error {
	if len(args) > 1 {
		return usageError(c, "name one process")
	}
	word := "self"
	if len(args) == 1 {
		word = args[0]
	}
	t, err := s.resolveProcess(word)
	if err != nil {
		return err
	}
	defer t.release()
	theirs, err := isolate.ProcessNamespaces(t.pid)
	if err == nil {
		err = t.check()
	}
	if err != nil {
		return err
	}
	ours, err := isolate.ProcessNamespaces(0)
	if err != nil {
		return err
	}
	mine := inodes(ours)
	var rows [][]string
	doc := nsJSON{Pid: t.pid, Namespaces: []nsEntry{}}
	if doc.Pid == 0 {
		doc.Pid = os.Getpid()
	}
	for _, e := range theirs {
		rel := "same as nsh"
		if e.Inode == 0 {
			rel = "unknown"
		} else if e.Inode != mine[e.Link] {
			rel = "differs from nsh"
		}
		rows = append(rows, []string{e.Link, nsName(e), rel})
		same := e.Inode != 0 && e.Inode == mine[e.Link]
		doc.Namespaces = append(doc.Namespaces, nsEntry{Type: e.Link, NS: e.Inode, SameAsNsh: same})
	}
	if s.json {
		for _, p := range s.pins {
			doc.Pins = append(doc.Pins, pinJSON{Path: p.path, Type: p.ns, NS: p.ino, From: p.from})
		}
		if err := unreadableNS(word, t.pid, theirs); err != nil {
			return err
		}
		return s.emit(doc)
	}
	if err := printTable(s.Out, []string{"NS", "NAMESPACE", "VS NSH"}, rows); err != nil {
		return err
	}
	// As ls -l /proc/PID/ns fails on what it cannot read, so does ns.
	if err := unreadableNS(word, t.pid, theirs); err != nil {
		return err
	}
	if len(args) == 0 && len(s.pins) > 0 {
		fmt.Fprintln(s.Out, "\npinned by this session (they outlive nsh; ns unpin PATH removes one):")
		var rows [][]string
		for _, p := range s.pins {
			rows = append(rows, []string{p.path, fmt.Sprintf("%s:[%d]", p.ns, p.ino), p.from})
		}
		return printTable(s.Out, []string{"PATH", "NAMESPACE", "FROM"}, rows)
	}
	return nil
}

// pin is a namespace this session bind-mounted on a file.
type pin struct {
	ns, path, from string
	ino            uint64
	created        bool // nsh made the file, and removes it on unpin
}

func nsPin(s *Session, nsWord, path, ref string) error {
	ns, err := plan.ParseNamespace(nsWord)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		// Said before anything is tried: a pin is a bind mount in nsh's
		// own mount namespace.
		return fmt.Errorf("ns pin needs root: a pin is a bind mount in nsh's mount namespace, which uid %d may not change; without root, keep the namespace alive with a child that stays (spawn -d sleep inf) and join it by @ID", os.Geteuid())
	}
	t, err := s.lookupProc(ref)
	if err != nil {
		return fmt.Errorf("ns pin: %w", err)
	}
	defer t.release()
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if st, err := os.Stat(filepath.Dir(abs)); err != nil || !st.IsDir() {
		return fmt.Errorf("ns pin: no directory %s to hold the pin: create it first", filepath.Dir(abs))
	}
	ino, created, err := t.p.Pin(ns, abs, s.explain)
	if err != nil {
		return fmt.Errorf("ns pin %s %s %s: %w", ns, path, ref, err)
	}
	s.pins = append(s.pins, pin{ns: ns, path: abs, from: t.ref(), ino: ino, created: created})
	fmt.Fprintf(s.Out, "pinned %s:[%d] of %s at %s\n", ns, ino, t.ref(), abs)
	return nil
}

func nsUnpin(s *Session, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	ns, ino, err := isolate.Unpin(abs, s.explain)
	if err != nil {
		return fmt.Errorf("ns unpin %s: %w", path, err)
	}
	var keep []pin
	removed := false
	for _, p := range s.pins {
		if p.path == abs {
			if p.created {
				removed = os.Remove(abs) == nil
			}
			continue
		}
		keep = append(keep, p)
	}
	s.pins = keep
	fmt.Fprintf(s.Out, "unpinned %s:[%d] from %s\n", ns, ino, abs)
	if !removed {
		fmt.Fprintf(s.Out, "the file %s stays: this session did not create it\n", abs)
	}
	return nil
}

func nsDiff(s *Session, a, b string) error {
	ta, err := s.resolveProcess(a)
	if err != nil {
		return err
	}
	defer ta.release()
	tb, err := s.resolveProcess(b)
	if err != nil {
		return err
	}
	defer tb.release()
	na, err := isolate.ProcessNamespaces(ta.pid)
	if err != nil {
		return err
	}
	nb, err := isolate.ProcessNamespaces(tb.pid)
	if err == nil {
		err = errors.Join(ta.check(), tb.check())
	}
	if err != nil {
		return err
	}
	ib := inodes(nb)
	var rows [][]string
	doc := nsDiffJSON{A: ta.label, B: tb.label, Namespaces: []nsDiffEntry{}}
	for _, e := range na {
		doc.Namespaces = append(doc.Namespaces, nsDiffEntry{Type: e.Link, A: e.Inode, B: ib[e.Link], Shared: e.Inode != 0 && e.Inode == ib[e.Link]})
		rel := "shared"
		switch {
		case e.Inode == 0 || ib[e.Link] == 0:
			rel = "unknown (unreadable)"
		case e.Inode != ib[e.Link]:
			rel = "different"
		}
		rows = append(rows, []string{e.Link, inodeText(e.Inode), inodeText(ib[e.Link]), rel})
	}
	if s.json {
		return s.emit(doc)
	}
	return printTable(s.Out, []string{"NS", ta.label, tb.label, "A VS B"}, rows)
}

func inodes(es []isolate.NSEntry) map[string]uint64 {
	m := map[string]uint64{}
	for _, e := range es {
		m[e.Link] = e.Inode
	}
	return m
}

// nsName prints an entry the way readlink does: uts:[4026531838].
func nsName(e isolate.NSEntry) string {
	if e.Inode == 0 {
		return "(unreadable)"
	}
	kind := strings.TrimSuffix(e.Link, "_for_children")
	return fmt.Sprintf("%s:[%d]", kind, e.Inode)
}

func inodeText(ino uint64) string {
	if ino == 0 {
		return "?"
	}
	return fmt.Sprint(ino)
}

// unreadableNS is the error for a namespace link nsh could not read, with
// the privilege actually missing: a non-root nsh lacks root; a root nsh
// lacks ptrace access to the process (PID 1 of a machine whose init is in
// another user namespace, a container's sandbox, Yama or an LSM).
func unreadableNS(word string, pid int, theirs []isolate.NSEntry) error {
	for _, e := range theirs {
		if e.Inode != 0 {
			continue
		}
		why := "another user's process: run nsh as root"
		if os.Geteuid() == 0 {
			why = "nsh is root, but the kernel denies it ptrace access to that process (its user namespace is not nsh's, or Yama or an LSM forbids it): look at a process nsh may read, such as one of its children"
		}
		return fmt.Errorf("ns %s: cannot read %s: permission denied (%s)", word, isolate.NSPath(pid, e.Link), why)
	}
	return nil
}
