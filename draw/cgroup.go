package draw

import (
	"cmp"
	"fmt"
	"io"
	"strings"
)

// CgroupPlace is where a process's cgroup is in one hierarchy.
type CgroupPlace struct {
	Hierarchy string // "unified", "memory", "cpu,cpuacct", ...
	Path      string // from the hierarchy's root
}

// Bar is one figure against its limit (Limit < 0: none).
type Bar struct {
	Name        string // "memory", "pids", "cpu"
	Used, Limit float64
	UsedText    string // "12.3M", "3", "0.42 s"
	LimitText   string // "100M", "max"
	File        string // the file the limit is in, and its hierarchy
}

// CgroupPicture is a process's cgroup: its path from each hierarchy's
// root, and its usage against its limits.
type CgroupPicture struct {
	Title  string
	Label  string
	Places []CgroupPlace
	Bars   []Bar
}

func (p *CgroupPicture) fraction(b Bar) float64 {
	if b.Limit <= 0 || b.Used < 0 {
		return -1
	}
	return min(b.Used/b.Limit, 1)
}

// Text writes the picture for a terminal: each hierarchy's path as a
// chain from its root, then a bar per limit.
func (p *CgroupPicture) Text(w io.Writer, color bool) error {
	var b strings.Builder
	if p.Title != "" {
		b.WriteString(p.Title + "\n")
	}
	if p.Label != "" {
		b.WriteString(p.Label + "\n")
	}
	width := 0
	for _, pl := range p.Places {
		width = max(width, len(pl.Hierarchy))
	}
	for _, pl := range p.Places {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, pl.Hierarchy, chain(pl.Path))
	}
	b.WriteString("\n")
	for _, bar := range p.Bars {
		f := p.fraction(bar)
		const cells = 30
		var meter string
		if f < 0 {
			meter = "[" + strings.Repeat("·", cells) + "]"
		} else {
			n := int(f*cells + 0.5)
			fill := strings.Repeat("█", n)
			if color {
				fill = "\033[" + barColour(f) + "m" + fill + "\033[0m"
			}
			meter = "[" + fill + strings.Repeat("·", cells-n) + "]"
		}
		limit := bar.LimitText
		if bar.Limit < 0 {
			limit += " (no limit)"
		}
		fmt.Fprintf(&b, "  %-7s %s %s of %s   %s\n", bar.Name, meter, bar.UsedText, limit, bar.File)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func barColour(f float64) string {
	switch {
	case f >= 0.9:
		return "31"
	case f >= 0.6:
		return "33"
	}
	return "32"
}

// chain shows a path as the cgroups from the root down: / → a → b.
func chain(path string) string {
	parts := []string{"/"}
	for _, s := range strings.Split(strings.Trim(path, "/"), "/") {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " → ")
}

// SVG writes the picture as a standalone SVG document.
func (p *CgroupPicture) SVG(w io.Writer) error {
	const (
		pad = 16
	)
	width := 860
	for _, pl := range p.Places {
		width = max(width, pad*2+130+7*len([]rune(chain(pl.Path))))
	}
	height := 84 + 22*len(p.Places) + 30 + 46*len(p.Bars) + pad
	var b strings.Builder
	svgHead(&b, width, height, cmp.Or(p.Title, "cgroup"), p.Label)
	y := 84
	for _, pl := range p.Places {
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" font-weight="bold" fill="#333">%s</text>`+"\n", pad, y, font, esc(pl.Hierarchy))
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="#333">%s</text>`+"\n", pad+130, y, font, esc(chain(pl.Path)))
		y += 22
	}
	y += 20
	const barX, barW = 110, 420
	for _, bar := range p.Bars {
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="13" font-weight="bold" fill="#222">%s</text>`+"\n", pad, y+15, font, esc(bar.Name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="20" rx="3" fill="#f0f0f0" stroke="#999"/>`+"\n", barX, y, barW)
		if f := p.fraction(bar); f >= 0 {
			fill := map[string]string{"31": "#e53935", "33": "#fb8c00", "32": "#43a047"}[barColour(f)]
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="20" rx="3" fill="%s"/>`+"\n", barX, y, max(1, int(f*barW)), fill)
		}
		limit := bar.LimitText
		if bar.Limit < 0 {
			limit += " (no limit)"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" fill="#222">%s</text>`+"\n", barX+barW+12, y+15, font, esc(bar.UsedText+" of "+limit))
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="11" fill="#666">%s</text>`+"\n", barX, y+34, font, esc(bar.File))
		y += 46
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Alt says in words what the picture shows.
func (p *CgroupPicture) Alt() string {
	var parts []string
	for _, bar := range p.Bars {
		parts = append(parts, bar.Name+" "+bar.UsedText+" of "+bar.LimitText)
	}
	path := ""
	if len(p.Places) > 0 {
		path = " in " + p.Places[0].Path
	}
	return "The cgroup of " + p.Label + path + ": " + strings.Join(parts, ", ")
}
