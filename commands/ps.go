package commands

import (
	"fmt"
	"strconv"
	"strings"

	"nsh/isolate/cgroup"
)

func runPs(s *Session, c *Command, args []string) error {
	if len(args) > 0 && args[0] == "--tree" {
		if len(args) > 2 {
			return usageError(c, "ps --tree takes at most one process")
		}
		return psTree(s, args[1:])
	}
	if len(args) == 1 && args[0] == "--prune" {
		s.mu.Lock()
		var keep []*child
		for _, c := range s.children {
			if !c.exited() {
				keep = append(keep, c)
			} else if err := c.proc.Layer.Remove(); err != nil {
				fmt.Fprintf(s.Err, "ps --prune: remove %s's overlay layer: %v\n", c.ref(), err)
			}
		}
		s.children = keep
		s.mu.Unlock()
		return nil
	}
	if len(args) > 0 {
		return usageError(c, "unknown argument "+args[0])
	}
	list := s.snapshot()
	var rows [][]string
	doc := psJSON{Children: []psChild{}}
	for _, c := range list {
		cg := "-"
		if !c.exited() {
			cg = cgroupOf(c.proc.Pid)
		}
		rows = append(rows, []string{"@" + strconv.Itoa(c.id), orDefault(c.name, "-"), strconv.Itoa(c.proc.Pid), c.state(), strings.Join(c.args, " "), c.ns, cg})
		pc := psChild{ID: c.id, Name: c.name, Pid: c.proc.Pid, State: c.phase(), Command: c.args, Namespaces: nsList(c.ns)}
		if c.exited() {
			c.mu.Lock()
			st := c.ws
			c.mu.Unlock()
			pc.ExitCode = &st
		} else {
			pc.Cgroup = cg
		}
		doc.Children = append(doc.Children, pc)
	}
	if s.json {
		return s.emit(doc)
	}
	if len(rows) == 0 {
		fmt.Fprintln(s.Out, "no children: spawn -d starts one that stays")
		return nil
	}
	return printTable(s.Out, []string{"ID", "NAME", "PID", "STATE", "COMMAND", "NAMESPACES", "CGROUP"}, rows)
}

// cgroupOf is a process's cgroup: the unified one where it has one below
// the root, else that of its memory controller.
func cgroupOf(pid int) string {
	lines, err := cgroup.ProcessCgroups(pid)
	if err != nil {
		return "-"
	}
	best := ""
	for _, l := range lines {
		if l.Hierarchy == 0 && l.Path != "/" {
			return l.Path
		}
		if l.Controllers == "memory" || (best == "" && l.Hierarchy == 0) {
			best = l.Path
		}
	}
	return orDefault(best, "-")
}
