// Package draw makes pictures of what nsh reads from the kernel: a text
// version for the terminal (box drawing, colour when the terminal has it)
// and an SVG that opens in any browser by itself (no script, no external
// font or image). It draws facts it is given and reads nothing itself.
package draw

import (
	"cmp"
	"fmt"
	"io"
	"strings"
)

// NSTypes are the eight namespace types, in the order they are drawn.
var NSTypes = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// NSProc is one process's namespaces: inode by type (0: unreadable).
type NSProc struct {
	Label  string // "nsh (pid 812)", "@1 box (pid 4951)"
	Inodes map[string]uint64
}

// NSPicture is processes against the namespace types. The first process
// is the reference (nsh itself): a namespace it is in is "nsh's"; every
// other one gets a letter per type (A, B, ...) in order of appearance, so
// the same namespace has the same letter and colour wherever it appears.
type NSPicture struct {
	Title string
	Procs []NSProc
}

// cell is what one process has for one type.
type cell struct {
	inode  uint64
	letter string // "" for the reference's namespace
	index  int    // colour: 0 for the reference's, then 1, 2, ...
	first  bool   // the first process drawn in it: "new" (not nsh's)
}

// cells works out the letters: per type, each namespace not the
// reference's gets the next letter.
func (p *NSPicture) cells() [][]cell {
	out := make([][]cell, len(p.Procs))
	for i := range out {
		out[i] = make([]cell, len(NSTypes))
	}
	for j, typ := range NSTypes {
		seen := map[uint64]int{}
		var ref uint64
		if len(p.Procs) > 0 {
			ref = p.Procs[0].Inodes[typ]
		}
		for i, pr := range p.Procs {
			ino := pr.Inodes[typ]
			c := cell{inode: ino}
			switch {
			case ino == 0:
				c.letter, c.index = "?", -1
			case ino == ref:
			default:
				n, ok := seen[ino]
				if !ok {
					n = len(seen) + 1
					seen[ino] = n
				}
				c.letter, c.index, c.first = letter(n), n, !ok
			}
			out[i][j] = c
		}
	}
	return out
}

func letter(n int) string {
	s := ""
	for n > 0 {
		n--
		s = string(rune('A'+n%26)) + s
		n /= 26
	}
	return s
}

// ANSI background colours for the letters, and the reference's.
var ansi = []string{"\033[48;5;153m", "\033[48;5;217m", "\033[48;5;157m", "\033[48;5;223m", "\033[48;5;183m", "\033[48;5;195m"}

// Text writes the picture for a terminal: a grid of processes and types,
// "·" where a process shares nsh's namespace, a letter (and, with color,
// its colour) where it has another, then what each letter is.
func (p *NSPicture) Text(w io.Writer, color bool) error {
	cells := p.cells()
	width := len("process")
	for _, pr := range p.Procs {
		width = max(width, len([]rune(pr.Label)))
	}
	const col = 8
	var b strings.Builder
	if p.Title != "" {
		b.WriteString(p.Title + "\n")
	}
	line := func(left, mid, right string) {
		b.WriteString(left + strings.Repeat("─", width+2))
		for range NSTypes {
			b.WriteString(mid + strings.Repeat("─", col))
		}
		b.WriteString(right + "\n")
	}
	line("┌", "┬", "┐")
	fmt.Fprintf(&b, "│ %-*s ", width, "process")
	for _, t := range NSTypes {
		fmt.Fprintf(&b, "│%-*s", col, " "+t)
	}
	b.WriteString("│\n")
	line("├", "┼", "┤")
	for i, pr := range p.Procs {
		fmt.Fprintf(&b, "│ %s%s ", pr.Label, strings.Repeat(" ", width-len([]rune(pr.Label))))
		for j := range NSTypes {
			c := cells[i][j]
			text := " ·"
			if c.letter != "" {
				text = " " + c.letter
				if c.first {
					text += " new"
				}
			}
			text += strings.Repeat(" ", max(0, col-len([]rune(text))))
			if color && c.index > 0 {
				text = ansi[(c.index-1)%len(ansi)] + "\033[30m" + text + "\033[0m"
			}
			b.WriteString("│" + text)
		}
		b.WriteString("│\n")
	}
	line("└", "┴", "┘")
	b.WriteString("· the same namespace as " + p.refName() + "; a letter: another one, \"new\" where it first appears (the same letter, the same namespace)\n")
	for _, l := range p.legend(cells) {
		b.WriteString("  " + l + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (p *NSPicture) refName() string {
	if len(p.Procs) == 0 {
		return "nsh"
	}
	return p.Procs[0].Label
}

// legend says what each letter is: its type, inode and who is in it.
func (p *NSPicture) legend(cells [][]cell) []string {
	var out []string
	for j, typ := range NSTypes {
		done := map[string]bool{}
		for i := range p.Procs {
			c := cells[i][j]
			if c.index <= 0 || done[c.letter] {
				continue
			}
			done[c.letter] = true
			var who []string
			for k := range p.Procs {
				if cells[k][j].letter == c.letter {
					who = append(who, p.Procs[k].Label)
				}
			}
			out = append(out, fmt.Sprintf("%s %s = %s:[%d]: %s", typ, c.letter, typ, c.inode, strings.Join(who, ", ")))
		}
	}
	return out
}

// Alt says in words what the picture shows, for who cannot see it.
func (p *NSPicture) Alt() string {
	cells := p.cells()
	var parts []string
	for i, pr := range p.Procs {
		if i == 0 {
			continue
		}
		var own []string
		for j, t := range NSTypes {
			if c := cells[i][j]; c.index > 0 {
				own = append(own, t+" "+c.letter)
			}
		}
		if len(own) == 0 {
			parts = append(parts, pr.Label+" shares every namespace with "+p.refName())
		} else {
			parts = append(parts, pr.Label+" has "+strings.Join(own, ", "))
		}
	}
	if len(parts) == 0 {
		return "the namespaces of " + p.refName()
	}
	return "Namespaces against " + p.refName() + "'s: " + strings.Join(parts, "; ")
}

// Fills for SVG cells: the reference's namespaces grey, the others in
// the same order as the terminal's colours.
var fills = []string{"#bcdcff", "#ffc4c4", "#c4f5d0", "#ffe2b8", "#e0c8ff", "#c8f4ff"}

// SVG writes the picture as a standalone SVG document.
func (p *NSPicture) SVG(w io.Writer) error {
	cells := p.cells()
	const (
		pad, rowH, colW, top = 16, 34, 86, 56
	)
	labelW := 150
	for _, pr := range p.Procs {
		labelW = max(labelW, 8*len([]rune(pr.Label))+24)
	}
	legend := p.legend(cells)
	width := pad*2 + labelW + colW*len(NSTypes)
	gridH := rowH * (len(p.Procs) + 1)
	height := top + gridH + 58 + 20*len(legend) + pad
	var b strings.Builder
	svgHead(&b, width, height, cmp.Or(p.Title, "Namespaces"), "")
	y := top
	// Header row.
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="13" fill="#555">process</text>`+"\n", pad+6, y+rowH/2+5, font)
	for j, t := range NSTypes {
		x := pad + labelW + colW*j
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="13" font-weight="bold" fill="#333" text-anchor="middle">%s</text>`+"\n", x+colW/2, y+rowH/2+5, font, t)
	}
	y += rowH
	for i, pr := range p.Procs {
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="13" fill="#222">%s</text>`+"\n", pad+6, y+rowH/2+5, font, esc(pr.Label))
		for j := range NSTypes {
			c := cells[i][j]
			x := pad + labelW + colW*j
			fill, text := "#eeeeee", "nsh's"
			switch {
			case c.index < 0:
				fill, text = "#ffffff", "?"
			case c.index > 0:
				fill = fills[(c.index-1)%len(fills)]
				text = c.letter
				if c.first {
					text += " new"
				}
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="5" fill="%s" stroke="#999" stroke-width="1"><title>%s:[%d]</title></rect>`+"\n",
				x+3, y+3, colW-6, rowH-6, fill, NSTypes[j], c.inode)
			weight := "normal"
			if c.index > 0 {
				weight = "bold"
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="13" font-weight="%s" fill="#222" text-anchor="middle">%s</text>`+"\n", x+colW/2, y+rowH/2+5, font, weight, esc(text))
		}
		y += rowH
	}
	y += 24
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="#444">%s</text>`+"\n", pad, y, font,
		esc("grey: the same namespace as "+p.refName()+"; a letter and a colour: another one,"))
	y += 18
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="#444">%s</text>`+"\n", pad, y, font,
		esc("\"new\" where it first appears; the same letter, the same namespace"))
	for _, l := range legend {
		y += 20
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="#444">%s</text>`+"\n", pad, y, font, esc(l))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// font is every picture's: fonts any system has, none fetched.
const font = `font-family="DejaVu Sans, Verdana, sans-serif"`

// svgHead starts a picture: a white page, its title and a line under it.
func svgHead(b *strings.Builder, width, height int, title, subtitle string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", width, height, width, height)
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(b, `<text x="16" y="30" %s font-size="18" font-weight="bold" fill="#222">%s</text>`+"\n", font, esc(title))
	if subtitle != "" {
		fmt.Fprintf(b, `<text x="16" y="52" %s font-size="13" fill="#444">%s</text>`+"\n", font, esc(subtitle))
	}
}

func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
