package draw

import (
	"fmt"
	"io"
	"strings"
)

// CapSets are a process's five capability sets, as masks.
type CapSets struct {
	Bounding, Permitted, Effective, Inheritable, Ambient uint64
}

// capSetNames are the columns, in the order capabilities(7) explains them:
// the bounding set limits what can be gained, permitted what may be made
// effective, effective what the kernel checks, inheritable and ambient
// what passes across execve.
var capSetNames = []string{"bounding", "permitted", "effective", "inheritable", "ambient"}

func (c CapSets) masks() []uint64 {
	return []uint64{c.Bounding, c.Permitted, c.Effective, c.Inheritable, c.Ambient}
}

// CapsPicture is a process's five sets as a grid of every capability of
// the kernel; Ref is nsh's, to mark what the process lost from its
// bounding set ("dropped": it can never have it again).
type CapsPicture struct {
	Title string
	Label string   // the process
	Names []string // capability names, by number: the kernel's
	Sets  CapSets
	Ref   CapSets
}

// dropped says whether nsh may have capability c and the process never can.
func (p *CapsPicture) dropped(c int) bool {
	return p.Ref.Bounding&(1<<c) != 0 && p.Sets.Bounding&(1<<c) == 0
}

func (p *CapsPicture) counts() []int {
	n := make([]int, len(capSetNames))
	for i, m := range p.Sets.masks() {
		for c := range p.Names {
			if m&(1<<c) != 0 {
				n[i]++
			}
		}
	}
	return n
}

// Text writes the grid for a terminal: ● where a set holds the
// capability, · where it does not, and which ones were dropped.
func (p *CapsPicture) Text(w io.Writer, color bool) error {
	width := len("capability")
	for _, n := range p.Names {
		width = max(width, len(n))
	}
	var b strings.Builder
	if p.Title != "" {
		b.WriteString(p.Title + "\n")
	}
	head := fmt.Sprintf("%-*s", width+2, "capability")
	for _, s := range capSetNames {
		head += fmt.Sprintf(" %-11s", s)
	}
	b.WriteString(strings.TrimRight(head, " ") + "\n")
	masks := p.Sets.masks()
	for c, name := range p.Names {
		var row strings.Builder
		fmt.Fprintf(&row, "%-*s", width+2, name)
		for i := range capSetNames {
			mark := "·"
			if masks[i]&(1<<c) != 0 {
				mark = "●"
				if color {
					mark = "\033[32m●\033[0m"
				}
			}
			fmt.Fprintf(&row, " %s%s", mark, strings.Repeat(" ", 10))
		}
		if p.dropped(c) {
			d := "dropped"
			if color {
				d = "\033[31mdropped\033[0m"
			}
			row.WriteString(d)
		}
		b.WriteString(strings.TrimRight(row.String(), " ") + "\n")
	}
	n := p.counts()
	foot := fmt.Sprintf("%-*s", width+2, "(of "+fmt.Sprint(len(p.Names))+")")
	for i := range capSetNames {
		foot += fmt.Sprintf(" %-11d", n[i])
	}
	b.WriteString(strings.TrimRight(foot, " ") + "\n● in the set · not in it; dropped: out of the bounding set, which nsh's still holds: never to be had again\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Colours of the five sets in the SVG.
var setFills = []string{"#9e9e9e", "#64b5f6", "#43a047", "#ffb74d", "#ba68c8"}

// SVG writes the grid as a standalone SVG document.
func (p *CapsPicture) SVG(w io.Writer) error {
	const (
		pad, rowH, colW, top = 16, 18, 96, 84
		font                 = `font-family="DejaVu Sans, Verdana, sans-serif"`
	)
	nameW := 190
	width := pad*2 + nameW + colW*len(capSetNames) + 90
	height := top + rowH*(len(p.Names)+1) + 60
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	title := p.Title
	if title == "" {
		title = "Capabilities"
	}
	fmt.Fprintf(&b, `<text x="%d" y="30" %s font-size="18" font-weight="bold" fill="#222">%s</text>`+"\n", pad, font, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="52" %s font-size="13" fill="#444">%s</text>`+"\n", pad, font, esc(p.Label))
	for i, s := range capSetNames {
		x := pad + nameW + colW*i + colW/2
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="13" font-weight="bold" fill="#333" text-anchor="middle">%s</text>`+"\n", x, top-8, font, s)
	}
	masks := p.Sets.masks()
	for c, name := range p.Names {
		y := top + rowH*c
		if c%2 == 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#f5f5f5"/>`+"\n", pad, y, width-2*pad, rowH)
		}
		fill := "#222"
		if p.dropped(c) {
			fill = "#c62828"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="%s">%s</text>`+"\n", pad+4, y+rowH-5, font, fill, esc(name))
		for i := range capSetNames {
			x := pad + nameW + colW*i + colW/2 - 7
			if masks[i]&(1<<c) != 0 {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="12" rx="2" fill="%s"><title>%s: in %s</title></rect>`+"\n", x, y+3, setFills[i], esc(name), capSetNames[i])
			} else {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="12" rx="2" fill="none" stroke="#ccc"/>`+"\n", x, y+3)
			}
		}
		if p.dropped(c) {
			fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="#c62828">dropped</text>`+"\n", pad+nameW+colW*len(capSetNames)+6, y+rowH-5, font)
		}
	}
	y := top + rowH*len(p.Names) + 16
	n := p.counts()
	for i := range capSetNames {
		x := pad + nameW + colW*i + colW/2
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="#333" text-anchor="middle">%d of %d</text>`+"\n", x, y, font, n[i], len(p.Names))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="#444">%s</text>`+"\n", pad, y+26, font,
		esc("a filled square: the set holds it; dropped (red): out of the bounding set, which nsh's still holds"))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Alt says in words what the picture shows.
func (p *CapsPicture) Alt() string {
	n := p.counts()
	var parts []string
	for i, s := range capSetNames {
		parts = append(parts, fmt.Sprintf("%s %d", s, n[i]))
	}
	drops := 0
	for c := range p.Names {
		if p.dropped(c) {
			drops++
		}
	}
	return fmt.Sprintf("Capability sets of %s, of %d capabilities: %s; %d dropped", p.Label, len(p.Names), strings.Join(parts, ", "), drops)
}
