package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"nsh/isolate"
	"nsh/plan"
)

// treeNode is one process of ps --tree.
type treeNode struct {
	Pid  int    `json:"pid"`
	Comm string `json:"comm"`
	// Child is how the table names the session's child it is, if any
	// (@1 (web)); ID and Name are the same for programs, apart.
	Child string `json:"-"`
	ID    int    `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	// NewNamespaces are the types in which it is in another namespace
	// than its parent (for the root: than nsh).
	NewNamespaces []string `json:"new_namespaces"`
	// Foreign: not nsh nor anything under it.
	Foreign  bool        `json:"foreign,omitempty"`
	Children []*treeNode `json:"children"`
}

// psTree prints nsh (or PID) and every process under it, like pstree -p,
// marking where a process enters namespaces its parent is not in.
func psTree(s *Session, args []string) error {
	root := os.Getpid()
	if len(args) == 1 {
		t, err := s.resolveProcess(args[0])
		if err != nil {
			return fmt.Errorf("ps --tree: %w", err)
		}
		// Held by its pidfd while the tree is read: the pid cannot be
		// reused meanwhile.
		defer t.release()
		if t.pid != 0 {
			root = t.pid
		}
	}
	kids := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if pp := ppidOf(pid); pp > 0 {
			kids[pp] = append(kids[pp], pid)
		}
	}
	ours := map[int]bool{}
	var mark func(pid int)
	mark = func(pid int) {
		if ours[pid] {
			return
		}
		ours[pid] = true
		for _, k := range kids[pid] {
			mark(k)
		}
	}
	mark(os.Getpid())
	ids := map[int]*child{}
	s.mu.Lock()
	for _, c := range s.children {
		if !c.exited() {
			ids[c.proc.Pid] = c
		}
	}
	s.mu.Unlock()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", root)); err != nil {
		return fmt.Errorf("ps --tree: no process with pid %d", root)
	}
	parentNS := nsInodes(os.Getpid())
	if root != os.Getpid() {
		if pp := ppidOf(root); pp > 0 {
			parentNS = nsInodes(pp)
		}
	}
	var build func(pid int, parent map[string]uint64, depth int) *treeNode
	build = func(pid int, parent map[string]uint64, depth int) *treeNode {
		mine := nsInodes(pid)
		n := &treeNode{Pid: pid, Comm: comm(pid), NewNamespaces: []string{}, Children: []*treeNode{}, Foreign: !ours[pid]}
		if c := ids[pid]; c != nil {
			n.Child, n.ID, n.Name = c.ref(), c.id, c.name
		}
		for _, t := range plan.Namespaces {
			if mine[t] != 0 && parent[t] != 0 && mine[t] != parent[t] {
				n.NewNamespaces = append(n.NewNamespaces, t)
			}
		}
		ks := kids[pid]
		sort.Ints(ks)
		if depth < 64 {
			for _, k := range ks {
				n.Children = append(n.Children, build(k, mine, depth+1))
			}
		}
		return n
	}
	tree := build(root, parentNS, 0)
	if s.json {
		return s.emit(tree)
	}
	var b strings.Builder
	var draw func(n *treeNode, prefix string, last, top bool)
	draw = func(n *treeNode, prefix string, last, top bool) {
		line := fmt.Sprintf("%s(%d)", n.Comm, n.Pid)
		if n.Child != "" {
			line += " " + n.Child
		}
		if len(n.NewNamespaces) > 0 {
			line += " [" + strings.Join(n.NewNamespaces, ",") + "]"
		}
		if n.Foreign && top {
			line += " (not nsh's)"
		}
		next := prefix
		switch {
		case top:
		case last:
			line = prefix + "└─" + line
			next = prefix + "  "
		default:
			line = prefix + "├─" + line
			next = prefix + "│ "
		}
		b.WriteString(line + "\n")
		for i, c := range n.Children {
			draw(c, next, i == len(n.Children)-1, false)
		}
	}
	draw(tree, "", true, true)
	fmt.Fprint(s.Out, b.String())
	return nil
}

// ppidOf reads PPid from /proc/PID/status: the parent in nsh's own pid
// namespace (0 for one outside it).
func ppidOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// nsInodes are a process's namespace inodes by type (0: unreadable).
func nsInodes(pid int) map[string]uint64 {
	es, err := isolate.ProcessNamespaces(pid)
	if err != nil {
		return map[string]uint64{}
	}
	return inodes(es)
}
