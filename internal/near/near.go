// Package near finds the names closest to a mistyped one, for the "did you
// mean" of every refusal that names a command, a subcommand, a
// namespace type, a capability or a cgroup key.
package near

import (
	"sort"
	"strings"
)

// Words lists the words closest to w (case-insensitive edit distance,
// or a shared prefix), for "did you mean": at most three, nearest first.
func Words(w string, words []string) []string {
	lw := strings.ToLower(w)
	type cand struct {
		word string
		d    int
	}
	var cs []cand
	for _, x := range words {
		lx := strings.ToLower(x)
		d := editDistance(lw, lx)
		if lw == lx || strings.HasPrefix(lx, lw) || (len(lw) > 2 && strings.HasPrefix(lw, lx)) {
			d = 0
		}
		if d <= max(1, len(lw)/3) {
			cs = append(cs, cand{x, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for i := 0; i < len(cs) && i < 3; i++ {
		out = append(out, cs[i].word)
	}
	return out
}

// editDistance is Damerau-Levenshtein's optimal string alignment:
// spwan is one step from spawn.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// Hint is " (did you mean A, B?)" for the words closest to w, or "".
func Hint(w string, words []string) string {
	if n := Words(w, words); len(n) > 0 {
		return " (did you mean " + strings.Join(n, ", ") + "?)"
	}
	return ""
}
