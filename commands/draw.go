package commands

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"nsh/draw"
	"nsh/internal/ownfile"
	"nsh/isolate"
)

func init() {
	register(&Command{
		Name: "draw", Group: "teaching",
		Usage:   []string{"draw ns [@ID|PID|self ...] [-o FILE.svg]"},
		Summary: "a picture of the live state: which namespaces each process shares with nsh",
		Example: "unshare uts pid; spawn -d sleep 30; draw ns; draw ns @1 -o ns.svg",
		Help: "draw ns reads /proc/PID/ns of nsh and its running children (or the processes named) and\n" +
			"draws them against the eight namespace types: the same namespace as nsh's is grey (· on the\n" +
			"terminal), another gets a letter and a colour, the same letter wherever the same namespace\n" +
			"appears, so what a child shares with nsh, and with its siblings, is seen at a glance. On the\n" +
			"terminal it is text (colour when the terminal has it); -o FILE.svg writes an SVG that opens in\n" +
			"any browser by itself (it replaces only an SVG nsh wrote, or any file with -f). In a lesson\n" +
			"(nsh --render md), the page shows the picture, written beside it; a recording shows the text.",
		Run: runDraw,
		Complete: func(s *Session, args []string, partial string) []string {
			if len(args) == 0 {
				return []string{"ns"}
			}
			if len(args) > 0 && args[len(args)-1] == "-o" {
				return completeFiles(nil, partial)
			}
			return append([]string{"self", "-o"}, s.childRefs()...)
		},
	})
}

func runDraw(s *Session, args []string) error {
	c, _ := Lookup("draw")
	if len(args) == 0 || args[0] != "ns" {
		return usageError(c, "draw takes ns: draw ns [@ID|PID|self ...] [-o FILE.svg]")
	}
	args, force := takeFlagF(args[1:])
	var out string
	var words []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-o" {
			if i+1 >= len(args) || out != "" {
				return usageError(c, "-o takes one file: draw ns ... -o FILE.svg")
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
	pic, err := s.nsPicture(words)
	if err != nil {
		return fmt.Errorf("draw ns: %w", err)
	}
	if out == "" && s.picture != nil {
		// A lesson being rendered: the picture goes beside the page.
		var b bytes.Buffer
		if err := pic.SVG(&b); err != nil {
			return fmt.Errorf("draw ns: %w", err)
		}
		link, err := s.picture(b.Bytes())
		if err != nil {
			return fmt.Errorf("draw ns: %w", err)
		}
		s.drawn = &drawnPicture{alt: pic.Alt(), link: link}
		return nil
	}
	if out == "" {
		return pic.Text(s.Out, colorOK(s))
	}
	var b bytes.Buffer
	// The mark, for writing it again; browsers skip a comment.
	fmt.Fprintf(&b, "<!-- %s (draw ns) -->\n", ownfile.Mark)
	if err := pic.SVG(&b); err != nil {
		return fmt.Errorf("draw ns: %w", err)
	}
	if err := writeOwnFile("draw", out, b.Bytes(), 0o644, force); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "wrote %s (open it in a browser)\n", out)
	return nil
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
