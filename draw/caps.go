package draw

import (
	"cmp"
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
// bounding set ("dropped": it can never have it again). After, when set,
// is the sets after execve, drawn beside them (draw caps --exec).
type CapsPicture struct {
	Title string
	Label string   // the process
	Names []string // capability names, by number: the kernel's
	Sets  CapSets
	Ref   CapSets
	After *CapSets
	// Heads name the groups of columns when After is set.
	BeforeHead, AfterHead string
}

// groups are the sets drawn, group by group.
func (p *CapsPicture) groups() []CapSets {
	if p.After != nil {
		return []CapSets{p.Sets, *p.After}
	}
	return []CapSets{p.Sets}
}

// setAbbrev are the columns' short names when two groups share a line.
var setAbbrev = []string{"bnd", "prm", "eff", "inh", "amb"}

// dropped says whether nsh may have capability c and the process never can.
func (p *CapsPicture) dropped(c int) bool {
	return p.Ref.Bounding&(1<<c) != 0 && p.Sets.Bounding&(1<<c) == 0
}

func (p *CapsPicture) counts() []int { return counts(p.Sets, len(p.Names)) }

// counts is how many of the kernel's last capabilities each set holds.
func counts(s CapSets, last int) []int {
	n := make([]int, len(capSetNames))
	for i, m := range s.masks() {
		for c := 0; c < last; c++ {
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
	groups := p.groups()
	names, col := capSetNames, 12
	if len(groups) > 1 {
		names, col = setAbbrev, 4
	}
	var b strings.Builder
	if p.Title != "" {
		b.WriteString(p.Title + "\n")
	}
	if len(groups) > 1 {
		head := fmt.Sprintf("%-*s", width+2, "")
		for i, h := range []string{p.BeforeHead, p.AfterHead} {
			sep := ""
			if i > 0 {
				sep = " │"
			}
			head += fmt.Sprintf("%s %-*s", sep, col*len(names)-1, h)
		}
		b.WriteString(strings.TrimRight(head, " ") + "\n")
	}
	head := fmt.Sprintf("%-*s", width+2, "capability")
	for g := range groups {
		if g > 0 {
			head += " │"
		}
		for _, s := range names {
			head += fmt.Sprintf(" %-*s", col-1, s)
		}
	}
	b.WriteString(strings.TrimRight(head, " ") + "\n")
	for c, name := range p.Names {
		var row strings.Builder
		fmt.Fprintf(&row, "%-*s", width+2, name)
		for g, sets := range groups {
			if g > 0 {
				row.WriteString(" │")
			}
			for _, m := range sets.masks() {
				mark := "·"
				if m&(1<<c) != 0 {
					mark = "●"
					if color {
						mark = "\033[32m●\033[0m"
					}
				}
				fmt.Fprintf(&row, " %s%s", mark, strings.Repeat(" ", col-2))
			}
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
	foot := fmt.Sprintf("%-*s", width+2, "(of "+fmt.Sprint(len(p.Names))+")")
	for g, sets := range groups {
		if g > 0 {
			foot += " │"
		}
		for _, n := range counts(sets, len(p.Names)) {
			foot += fmt.Sprintf(" %-*d", col-1, n)
		}
	}
	b.WriteString(strings.TrimRight(foot, " ") + "\n● in the set · not in it; dropped: out of the bounding set, which nsh's still holds: never to be had again\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Colours of the five sets in the SVG.
var setFills = []string{"#9e9e9e", "#64b5f6", "#43a047", "#ffb74d", "#ba68c8"}

// SVG writes the grid as a standalone SVG document.
func (p *CapsPicture) SVG(w io.Writer) error {
	groups := p.groups()
	names, colW := capSetNames, 96
	if len(groups) > 1 {
		names, colW = setAbbrev, 44
	}
	const (
		pad, rowH, gap = 16, 18, 24
	)
	top := 84
	if len(groups) > 1 {
		top = 104
	}
	nameW := 190
	groupW := colW * len(names)
	colX := func(g, i int) int { return pad + nameW + g*(groupW+gap) + colW*i + colW/2 }
	width := pad*2 + nameW + len(groups)*(groupW+gap) + 70
	if len(groups) > 1 {
		width = max(width, pad*2+nameW+groupW+gap+8*len([]rune(p.AfterHead)))
	}
	height := top + rowH*(len(p.Names)+1) + 60
	var b strings.Builder
	svgHead(&b, width, height, cmp.Or(p.Title, "Capabilities"), p.Label)
	if len(groups) > 1 {
		for g, h := range []string{p.BeforeHead, p.AfterHead} {
			// From the group's left edge: the second, long, runs on
			// to the right, where nothing else is.
			fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="13" font-weight="bold" fill="#222">%s</text>`+"\n", colX(g, 0)-colW/2, top-30, font, esc(h))
		}
	}
	for g := range groups {
		for i, s := range names {
			fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" font-weight="bold" fill="#333" text-anchor="middle">%s</text>`+"\n", colX(g, i), top-8, font, s)
		}
	}
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
		for g, sets := range groups {
			for i, m := range sets.masks() {
				x := colX(g, i) - 7
				if m&(1<<c) != 0 {
					fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="12" rx="2" fill="%s"><title>%s: in %s</title></rect>`+"\n", x, y+3, setFills[i], esc(name), capSetNames[i])
				} else {
					fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="12" rx="2" fill="none" stroke="#ccc"/>`+"\n", x, y+3)
				}
			}
		}
		if p.dropped(c) {
			fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="#c62828">dropped</text>`+"\n", colX(len(groups)-1, len(names)-1)+colW/2+6, y+rowH-5, font)
		}
	}
	y := top + rowH*len(p.Names) + 16
	for g, sets := range groups {
		for i, n := range counts(sets, len(p.Names)) {
			text := fmt.Sprintf("%d of %d", n, len(p.Names))
			if len(groups) > 1 {
				text = fmt.Sprint(n)
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="#333" text-anchor="middle">%s</text>`+"\n", colX(g, i), y, font, text)
		}
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
	alt := fmt.Sprintf("Capability sets of %s, of %d capabilities: %s; %d dropped", p.Label, len(p.Names), strings.Join(parts, ", "), drops)
	if p.After != nil {
		parts = parts[:0]
		for i, n := range counts(*p.After, len(p.Names)) {
			parts = append(parts, fmt.Sprintf("%s %d", capSetNames[i], n))
		}
		alt += "; " + p.AfterHead + ": " + strings.Join(parts, ", ")
	}
	return alt
}
