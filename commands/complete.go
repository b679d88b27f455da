package commands

import (
	"sort"
	"strings"
)

// Complete returns the candidates for the word being typed at the end of
// line, and that partial word. Everything comes from the registry.
func (s *Session) Complete(line string) (candidates []string, partial string) {
	// Only the current statement matters.
	if i := strings.LastIndexByte(line, ';'); i >= 0 {
		line = line[i+1:]
	}
	words := strings.Fields(line)
	if len(words) > 0 && !strings.HasSuffix(line, " ") && !strings.HasSuffix(line, "\t") {
		partial = words[len(words)-1]
		words = words[:len(words)-1]
	}
	var all []string
	if len(words) == 0 {
		all = Names()
	} else if c, ok := Lookup(words[0]); ok && c.Complete != nil {
		all = c.Complete(s, words[1:], partial)
	}
	seen := map[string]bool{}
	for _, w := range all {
		if strings.HasPrefix(w, partial) && !seen[w] {
			seen[w] = true
			candidates = append(candidates, w)
		}
	}
	sort.Strings(candidates)
	return candidates, partial
}
