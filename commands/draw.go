package commands

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"nsh/draw"
	"nsh/internal/ownfile"
	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/isolate/cgroup"
)

func init() {
	later("draw", func() {
		register(&Command{
			Name: "draw", Group: "teaching",
			Usage:   []string{"draw ns [@ID|PID|self ...] [-o FILE.svg]", "draw caps [@ID|PID|self] [-o FILE.svg]", "draw caps --exec [PROGRAM] [-o FILE.svg]", "draw cgroup [@ID|PID|self] [-o FILE.svg]"},
			Summary: "a picture of the live state: which namespaces each process shares with nsh, a process's capability sets",
			Example: "unshare uts pid; spawn -d sleep 30; draw ns; draw ns @1 -o ns.svg",
			Help: "draw ns reads /proc/PID/ns of nsh and its running children (or the processes named) and\n" +
				"draws them against the eight namespace types: the same namespace as nsh's is grey (· on the\n" +
				"terminal), another gets a letter and a colour, the same letter wherever the same namespace\n" +
				"appears, so what a child shares with nsh, and with its siblings, is seen at a glance. On the\n" +
				"terminal it is text (colour when the terminal has it); -o FILE.svg writes an SVG that opens in\n" +
				"any browser by itself (it replaces only an SVG nsh wrote, or any file with -f). draw caps draws\n" +
				"a process's five capability sets (nsh's own without one) as a grid of every capability of the\n" +
				"kernel, marking those dropped from its bounding set, which nsh's still holds; draw caps --exec\n" +
				"[PROGRAM] draws the plan's sets as the stage leaves them beside what execve makes of them\n" +
				"(capabilities(7): root, a user, ambient, file capabilities, no_new_privs). draw cgroup\n" +
				"draws where a process's cgroup is in each hierarchy, from the root down, and its memory, pids\n" +
				"and CPU against its limits as bars, with the file each limit is in. In a lesson\n" +
				"(nsh --render md), the page shows the picture, written beside it; a recording shows the text.",
			Run: runDraw,
			Complete: func(s *Session, args []string, partial string) []string {
				if len(args) == 0 {
					return []string{"ns", "caps", "cgroup"}
				}
				if len(args) > 0 && args[len(args)-1] == "-o" {
					return completeFiles(nil, partial)
				}
				return append([]string{"self", "-o"}, s.childRefs()...)
			},
		})
	})
}

// picture is what draw draws: text for a terminal, an SVG, and words.
type picture interface {
	Text(w io.Writer, color bool) error
	SVG(w io.Writer) error
	Alt() string
}

func runDraw(s *Session, c *Command, args []string) error {
	if len(args) == 0 || (args[0] != "ns" && args[0] != "caps" && args[0] != "cgroup") {
		return usageError(c, "draw takes ns, caps or cgroup: draw ns [@ID|PID|self ...] [-o FILE.svg]")
	}
	what := args[0]
	args, force := takeFlagF(args[1:])
	var out string
	var words []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-o" {
			if i+1 >= len(args) || out != "" {
				return usageError(c, "-o takes one file: draw "+what+" ... -o FILE.svg")
			}
			out = args[i+1]
			i++
			continue
		}
		words = append(words, args[i])
	}
	if out != "" {
		if err := mayReplace("draw", out, force); err != nil {
			return err
		}
	}
	var pic picture
	var err error
	switch what {
	case "ns":
		pic, err = s.nsPicture(words)
	case "caps":
		if rest, exec := takeFlag(words, "--exec"); exec {
			if len(rest) > 1 {
				return usageError(c, "draw caps --exec takes at most the program the child runs: draw caps --exec [PROGRAM]")
			}
			pic, err = s.capsExecPicture(rest)
			break
		}
		if len(words) > 1 {
			return usageError(c, "draw caps draws one process")
		}
		pic, err = s.capsPicture(words)
	case "cgroup":
		if len(words) > 1 {
			return usageError(c, "draw cgroup draws one process: @ID, a PID, or self (nsh's own, without one)")
		}
		pic, err = s.cgroupPicture(append(words, "self")[0])
	}
	if err != nil {
		return fmt.Errorf("draw %s: %w", what, err)
	}
	if out == "" && s.picture != nil {
		// A lesson being rendered: the picture goes beside the page.
		var b bytes.Buffer
		if err := pic.SVG(&b); err != nil {
			return fmt.Errorf("draw %s: %w", what, err)
		}
		link, err := s.picture(b.Bytes())
		if err != nil {
			return fmt.Errorf("draw %s: %w", what, err)
		}
		s.drawn = &drawnPicture{alt: pic.Alt(), link: link}
		return nil
	}
	if out == "" {
		return pic.Text(s.Out, colorOK(s))
	}
	var b bytes.Buffer
	// The mark, for writing it again; browsers skip a comment.
	fmt.Fprintf(&b, "<!-- %s (draw %s) -->\n", ownfile.Mark, what)
	if err := pic.SVG(&b); err != nil {
		return fmt.Errorf("draw %s: %w", what, err)
	}
	if err := writeOwnFile("draw", out, b.Bytes(), 0o644, force); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "wrote %s (open it in a browser)\n", out)
	return nil
}

// capsPicture reads the five sets of the process named (nsh's own
// without one) and nsh's, to tell what it dropped.
func (s *Session) capsPicture(words []string) (*draw.CapsPicture, error) {
	mine, err := isolate.ReadCreds(os.Getpid(), false)
	if err != nil {
		return nil, err
	}
	var names []string
	for c := 0; c <= capability.Last(); c++ {
		names = append(names, capability.Name(c))
	}
	pic := &draw.CapsPicture{Title: "Capabilities: the five sets", Names: names, Ref: credSets(mine)}
	if len(words) == 0 || words[0] == "self" {
		pic.Label, pic.Sets = fmt.Sprintf("nsh (pid %d), uid %d", os.Getpid(), mine.UID), pic.Ref
		return pic, nil
	}
	t, err := s.lookupProc(words[0])
	if err != nil {
		return nil, err
	}
	defer t.release()
	theirs, err := isolate.ReadCreds(t.pid, false)
	if err != nil {
		return nil, err
	}
	// Read through a pid: it was the process held only if it still runs.
	if !t.p.Alive() {
		return nil, fmt.Errorf("%s has exited", t.ref())
	}
	label := t.ref()
	if t.child != nil {
		label += fmt.Sprintf(" pid %d", t.pid)
	}
	pic.Label, pic.Sets = fmt.Sprintf("%s, uid %d", label, theirs.UID), credSets(theirs)
	return pic, nil
}

// capsExecPicture draws the plan's sets as nsh's stage leaves them for
// the command, and what execve makes of them (capability.AfterExec):
// for the plan's user, with no_new_privs if planned, and the file
// capabilities of program when one is named.
func (s *Session) capsExecPicture(words []string) (*draw.CapsPicture, error) {
	mine, err := isolate.ReadCreds(os.Getpid(), false)
	if err != nil {
		return nil, err
	}
	sp := s.Spec
	uid := os.Getuid()
	if sp.User != nil {
		uid = sp.User.UID
	}
	staged := sp.ChildCaps(isolate.HostCaps(), uid)
	// Inside a new user namespace the command's uid is the mapped one.
	if sp.Has("user") && sp.User == nil {
		if m := sp.IDMapping(); m.Mode == "id" {
			uid = m.UID
		} else {
			uid = 0
		}
	}
	before := capability.Sets{Bounding: staged.Bounding, Permitted: staged.Permitted, Effective: staged.Effective, Inheritable: staged.Inheritable, Ambient: staged.Ambient}
	var file *capability.FileCaps
	after := "after execve of a program without file capabilities"
	if len(words) == 1 {
		path := words[0]
		if !strings.Contains(path, "/") {
			if path, err = exec.LookPath(path); err != nil {
				return nil, err
			}
		}
		fc, ok, err := capability.GetFile(path)
		if err != nil {
			return nil, err
		}
		if ok {
			file = &fc
			after = "after execve of " + words[0] + " (" + fc.String() + ")"
		} else {
			after = "after execve of " + words[0] + " (no file capabilities)"
		}
	}
	got, err := capability.AfterExec(before, uid, file, sp.NoNewPrivs)
	if errors.Is(err, capability.ErrExecRefused) {
		after = "execve of " + words[0] + " refused: " + strings.TrimPrefix(err.Error(), capability.ErrExecRefused.Error()+": ")
	} else if err != nil {
		return nil, err
	}
	var names []string
	for c := 0; c <= capability.Last(); c++ {
		names = append(names, capability.Name(c))
	}
	who := fmt.Sprintf("the plan's child: uid %d", uid)
	if sp.NoNewPrivs {
		who += ", no_new_privs"
	}
	toDraw := func(x capability.Sets) draw.CapSets {
		return draw.CapSets{Bounding: x.Bounding, Permitted: x.Permitted, Effective: x.Effective, Inheritable: x.Inheritable, Ambient: x.Ambient}
	}
	a := toDraw(got)
	return &draw.CapsPicture{Title: "Capabilities across execve", Label: who, Names: names, Sets: toDraw(before), After: &a,
		Ref: credSets(mine), BeforeHead: "as nsh's stage leaves them", AfterHead: after}, nil
}

// cgroupPicture reads where a process's cgroup is and its usage against
// its limits, naming the file each limit is in here (v1 or cgroup2).
func (s *Session) cgroupPicture(word string) (*draw.CgroupPicture, error) {
	h, err := cgroup.Detect()
	if err != nil {
		return nil, err
	}
	var g *cgroup.Group
	var label string
	alive := func() bool { return true }
	if word == "self" {
		if g, err = cgroup.OfProcess(h, os.Getpid()); err != nil {
			return nil, err
		}
		label = fmt.Sprintf("nsh (pid %d)", os.Getpid())
	} else {
		t, tg, err := s.procGroup("cgroup", word)
		if err != nil {
			return nil, err
		}
		defer t.release()
		g, label, alive = tg, t.ref(), t.p.Alive
		if t.child != nil {
			label += fmt.Sprintf(" pid %d", t.pid)
		}
	}
	// CPU as a rate: two readings a moment apart.
	first, at := g.Usage(), time.Now()
	time.Sleep(200 * time.Millisecond)
	u := g.Usage()
	rate := -1.0
	if first.CPUUsec >= 0 && u.CPUUsec >= first.CPUUsec {
		rate = float64(u.CPUUsec-first.CPUUsec) / float64(time.Since(at).Microseconds())
	}
	pic := &draw.CgroupPicture{Title: "cgroup: where it is, and what it uses of its limits", Label: label}
	for _, pl := range g.Places() {
		pic.Places = append(pic.Places, draw.CgroupPlace{Hierarchy: pl.Hierarchy, Path: pl.Path})
	}
	file := func(v1Controller, v1File, v2File string) string {
		if h.V1For(v1Controller) != nil {
			return "limit in " + v1File + " (cgroup v1, " + v1Controller + ")"
		}
		return "limit in " + v2File + " (cgroup2)"
	}
	limitText := func(v int64, f func(int64) string) string {
		if v < 0 {
			return "max"
		}
		return f(v)
	}
	num := func(v int64) string {
		if v < 0 {
			return "-" // the root cgroup keeps no count
		}
		return fmt.Sprint(v)
	}
	pic.Bars = []draw.Bar{
		{Name: "memory", Used: float64(u.MemCurrent), Limit: float64(u.MemLimit), UsedText: size(u.MemCurrent),
			LimitText: limitText(u.MemLimit, size), File: file("memory", "memory.limit_in_bytes", "memory.max")},
		{Name: "pids", Used: float64(u.PidsCurrent), Limit: float64(u.PidsLimit), UsedText: num(u.PidsCurrent),
			LimitText: limitText(u.PidsLimit, num), File: file("pids", "pids.max", "pids.max")},
		{Name: "cpu", Used: rate, Limit: u.CPULimit, UsedText: fmt.Sprintf("%.2f cores now (%.2f s in all)", rate, float64(u.CPUUsec)/1e6),
			LimitText: cpuLimitText(u.CPULimit), File: file("cpu", "cpu.cfs_quota_us / cpu.cfs_period_us", "cpu.max")},
	}
	// Read through a pid: it was the process held only if it still runs.
	if !alive() {
		return nil, fmt.Errorf("%s has exited", label)
	}
	return pic, nil
}

func cpuLimitText(cores float64) string {
	if cores < 0 {
		return "max"
	}
	return fmt.Sprintf("%.2f cores", cores)
}

func credSets(c *isolate.Creds) draw.CapSets {
	return draw.CapSets{Bounding: c.Bounding, Permitted: c.Permitted, Effective: c.Effective, Inheritable: c.Inheritable, Ambient: c.Ambient}
}

// nsPicture reads the namespaces of nsh and of the processes named (or
// nsh's running children): nsh first, the reference every other row is
// told against.
func (s *Session) nsPicture(words []string) (*draw.NSPicture, error) {
	pic := &draw.NSPicture{Title: "Namespaces: what each process shares with nsh", Procs: []draw.NSProc{{Label: fmt.Sprintf("nsh (pid %d)", os.Getpid()), Inodes: nsInodes(0)}}}
	if len(words) == 0 {
		s.mu.Lock()
		for _, c := range s.children {
			if !c.exited() {
				words = append(words, "@"+fmt.Sprint(c.id))
			}
		}
		s.mu.Unlock()
	}
	for _, w := range words {
		if w == "self" {
			continue
		}
		t, err := s.lookupProc(w)
		if err != nil {
			return nil, err
		}
		// An unreadable one is drawn as "?" (ns says why).
		inodes := nsInodes(t.pid)
		// Read through a pid: it was the process held only if it still
		// runs now.
		alive := t.p.Alive()
		label := t.ref()
		t.release()
		if !alive {
			return nil, fmt.Errorf("%s has exited", label)
		}
		if t.child != nil {
			label += fmt.Sprintf(" pid %d", t.pid)
		}
		pic.Procs = append(pic.Procs, draw.NSProc{Label: label, Inodes: inodes})
	}
	return pic, nil
}

// colorOK says whether the session's output is a terminal that takes
// colour (and the user has not asked for none: NO_COLOR).
func colorOK(s *Session) bool {
	f, ok := s.Out.(*os.File)
	return ok && isolate.IsTerminal(f) && os.Getenv("NO_COLOR") == "" && !strings.HasPrefix(os.Getenv("TERM"), "dumb")
}

// drawnPicture is a picture a lesson's page shows.
type drawnPicture struct{ alt, link string }
