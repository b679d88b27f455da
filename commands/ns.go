package commands

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"nsh/isolate"
)

func init() {
	register(&Command{
		Name: "ns", Group: "children",
		Usage:   []string{"ns [self|PID|@ID]", "ns diff A B"},
		Summary: "a process's namespaces (like ls -l /proc/PID/ns), or which two processes share",
		Help: "Each namespace is a kernel object; /proc/PID/ns/TYPE names it by inode, and the same inode\n" +
			"means the same namespace. pid_for_children and time_for_children show where the process's\n" +
			"future children will live. A and B are self, a PID or @ID.",
		Run: runNS,
		Complete: func(s *Session, args []string, partial string) []string {
			if len(args) == 0 {
				return []string{"self", "diff"}
			}
			if args[0] == "diff" && len(args) < 3 {
				return []string{"self"}
			}
			return nil
		},
	})
}

// target is a process the user named: self, a PID or @ID.
type target struct {
	label string
	pid   int // 0 for nsh itself
}

func (s *Session) resolveProcess(word string) (target, error) {
	switch {
	case word == "self":
		return target{label: "self", pid: 0}, nil
	case strings.HasPrefix(word, "@"):
		return target{}, fmt.Errorf("no child %s: children started with spawn -d are named @ID; see ps", word)
	}
	pid, err := strconv.Atoi(word)
	if err != nil || pid <= 0 {
		return target{}, fmt.Errorf("%q is not a process: give self, a PID or @ID", word)
	}
	if _, err := os.Stat("/proc/" + word); err != nil {
		return target{}, fmt.Errorf("no process with pid %d", pid)
	}
	if pid == os.Getpid() {
		return target{label: "self", pid: 0}, nil
	}
	return target{label: word, pid: pid}, nil
}

func runNS(s *Session, args []string) error {
	c, _ := Lookup("ns")
	if len(args) > 0 && args[0] == "diff" {
		if len(args) != 3 {
			return usageError(c, "ns diff needs two processes")
		}
		return nsDiff(s, args[1], args[2])
	}
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
	theirs, err := isolate.ProcessNamespaces(t.pid)
	if err != nil {
		return err
	}
	ours, err := isolate.ProcessNamespaces(0)
	if err != nil {
		return err
	}
	mine := inodes(ours)
	var rows [][]string
	for _, e := range theirs {
		rel := "same as nsh"
		if e.Inode == 0 {
			rel = "unknown"
		} else if e.Inode != mine[e.Link] {
			rel = "differs from nsh"
		}
		rows = append(rows, []string{e.Link, nsName(e), rel})
	}
	return printTable(s.Out, []string{"NS", "NAMESPACE", "VS NSH"}, rows)
}

func nsDiff(s *Session, a, b string) error {
	ta, err := s.resolveProcess(a)
	if err != nil {
		return err
	}
	tb, err := s.resolveProcess(b)
	if err != nil {
		return err
	}
	na, err := isolate.ProcessNamespaces(ta.pid)
	if err != nil {
		return err
	}
	nb, err := isolate.ProcessNamespaces(tb.pid)
	if err != nil {
		return err
	}
	ib := inodes(nb)
	var rows [][]string
	for _, e := range na {
		rel := "shared"
		switch {
		case e.Inode == 0 || ib[e.Link] == 0:
			rel = "unknown (unreadable)"
		case e.Inode != ib[e.Link]:
			rel = "different"
		}
		rows = append(rows, []string{e.Link, inodeText(e.Inode), inodeText(ib[e.Link]), rel})
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
