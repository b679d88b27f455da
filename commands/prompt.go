package commands

import (
	"fmt"

	"os"
	"strings"

	"nsh/isolate"
	"nsh/isolate/capability"
	"nsh/plan"
)

// Prompt shows the state at a glance: nsh[uts,pid]# .
func (s *Session) Prompt() string {
	sign := "#"
	if os.Geteuid() != 0 {
		sign = "$"
	}
	var parts []string
	for _, f := range facets {
		if f.prompt != nil {
			parts = append(parts, f.prompt(s.Spec)...)
		}
	}
	// record FILE.nsh or record --cast is on (nsh --cast records a
	// whole run: its recording has no need to say so on every line).
	var keep []string // never abbreviated away
	if s.recording != nil || s.tr != nil && s.tr.recorded {
		keep = append(keep, "rec")
	}
	if len(parts)+len(keep) == 0 {
		return "nsh" + sign + " "
	}
	return fitPrompt(parts, keep, sign)
}

// promptMax is the widest prompt: on an 80-column terminal it leaves
// room to type, and the line never wraps before the command does.
const promptMax = 48

// fitPrompt abbreviates a prompt wider than promptMax: the namespaces
// counted rather than named, then the last parts counted (+3); show has
// the whole plan.
func fitPrompt(parts, keep []string, sign string) string {
	join := func(ps ...[]string) string {
		var all []string
		for _, p := range ps {
			all = append(all, p...)
		}
		return "nsh[" + strings.Join(all, " ") + "]" + sign + " "
	}
	if len(join(parts, keep)) <= promptMax {
		return join(parts, keep)
	}
	ps := append([]string(nil), parts...)
	if len(ps) > 0 && !strings.ContainsAny(ps[0], "=: ") && len(ps[0]) > 20 {
		ps[0] = fmt.Sprintf("ns=%d", strings.Count(ps[0], ",")+1)
	}
	hidden := 0
	for len(ps) > 1 && len(join(ps, []string{fmt.Sprintf("+%d", hidden+1)}, keep)) > promptMax {
		ps = ps[:len(ps)-1]
		hidden++
	}
	if hidden > 0 {
		return join(ps, []string{fmt.Sprintf("+%d", hidden)}, keep)
	}
	return join(ps, keep)
}

// capPrompt is the capability part of the prompt: the preset's name, or
// what was dropped from and added to nsh's own bounding set (-net_raw).
func capPrompt(sp *plan.Spec) string {
	var parts []string
	if u := sp.User; u != nil {
		parts = append(parts, fmt.Sprintf("u=%d", u.UID))
	}
	if sp.NoNewPrivs {
		parts = append(parts, "nnp")
	}
	if c := sp.Caps; c != nil {
		if c.Preset != "" {
			parts = append(parts, "caps="+c.Preset)
		} else {
			// What the child loses of what it could hold here.
			avail, _ := isolate.Available(sp)
			var diff []string
			for _, n := range capability.Names(avail &^ c.Bounding) {
				diff = append(diff, "-"+strings.TrimPrefix(n, "cap_"))
			}
			if len(diff) > 3 {
				diff = append(diff[:2], fmt.Sprintf("(%d more)", len(diff)-2))
			}
			parts = append(parts, diff...)
		}
	}
	return strings.Join(parts, " ")
}
