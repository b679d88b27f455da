package cgroup

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"nsh/internal/kfile"
)

// Holds says whether the group's files hold st now, as nsh would have
// written it on this host (a v2 file, or its v1 translation), and what
// they hold, for a check that says what it looked at.
func (g *Group) Holds(st Setting) (bool, string, error) {
	writes, err := g.host.writesFor(st, []Setting{st})
	if err != nil {
		return false, "", err
	}
	ok := true
	var seen []string
	for _, w := range writes {
		d := g.dirFor(w.Hierarchy)
		if d == "" {
			return false, "", fmt.Errorf("%s: the process has no cgroup in that hierarchy", w.File)
		}
		file := filepath.Join(d, w.File)
		b, err := kfile.ReadFile(file)
		if err != nil {
			return false, "", fmt.Errorf("read %s: %w", file, err)
		}
		got := strings.Join(strings.Fields(string(b)), " ")
		seen = append(seen, fmt.Sprintf("%s holds %q", file, got))
		if got != w.Value && !(w.Value == "-1" && v1Unlimited(got)) {
			ok = false
		}
	}
	return ok, strings.Join(seen, "; "), nil
}

// v1Unlimited says whether a v1 limit read back means "max": -1 is
// written, the largest page-aligned value is read.
func v1Unlimited(v string) bool {
	n, err := strconv.ParseUint(v, 10, 64)
	return v == "-1" || err == nil && n >= 1<<62
}
