package commands

import (
	"fmt"
	"path/filepath"

	"os"
	"strings"

	"nsh/isolate"
	"nsh/isolate/capability"
)

// Prompt shows the state at a glance: nsh[uts,pid]# .
func (s *Session) Prompt() string {
	sign := "#"
	if os.Geteuid() != 0 {
		sign = "$"
	}
	var parts []string
	if len(s.Spec.Namespaces) > 0 {
		parts = append(parts, strings.Join(s.Spec.Namespaces, ","))
	}
	if r := s.Spec.Rootfs; r != nil {
		root := "root=" + filepath.Base(r.Dir)
		if r.ReadOnly {
			root += ":ro"
		}
		if r.Overlay != nil {
			root += "+overlay"
		}
		parts = append(parts, root)
	}
	if n := len(s.Spec.Masked); n > 0 {
		parts = append(parts, fmt.Sprintf("masked=%d", n))
	}
	if n := len(s.Spec.Readonly); n > 0 {
		parts = append(parts, fmt.Sprintf("readonly=%d", n))
	}
	if n := s.Spec.Net; n != nil && len(n.Veths) > 0 {
		parts = append(parts, fmt.Sprintf("veth=%d", len(n.Veths)))
	}
	if limits := cgroupPrompt(s.Spec.Cgroup); len(limits) > 0 {
		parts = append(parts, strings.Join(limits, " "))
	}
	if c := capPrompt(s.Spec); c != "" {
		parts = append(parts, c)
	}
	if sc := s.Spec.Seccomp; sc != nil {
		w := "seccomp"
		if sc.Preset != "" {
			w += "=" + sc.Preset
		}
		if len(sc.Rules) > 0 || sc.Default != nil {
			w += "+"
		}
		parts = append(parts, w)
	}
	for _, r := range s.Spec.Rlimits {
		parts = append(parts, r.Name+"="+strings.TrimPrefix(r.String(), r.Name+" "))
	}
	// The OCI process, when set: what a bare spawn runs, and where.
	if c := s.Spec.Command; len(c) > 0 {
		parts = append(parts, "cmd="+filepath.Base(c[0]))
	}
	if s.Spec.Env != nil {
		parts = append(parts, fmt.Sprintf("env=%d", len(s.Spec.Env)))
	}
	if s.Spec.Cwd != "" {
		parts = append(parts, "cwd="+s.Spec.Cwd)
	}
	if len(s.Spec.Join) > 0 {
		var joined []string
		for _, j := range s.Spec.Join {
			joined = append(joined, j.Type)
		}
		parts = append(parts, "join:"+strings.Join(joined, ","))
	}
	// record FILE.nsh or record --cast is on (nsh --cast records a
	// whole run: its recording has no need to say so on every line).
	if s.recording != nil || s.tr != nil && s.tr.recorded {
		parts = append(parts, "rec")
	}
	if len(parts) == 0 {
		return "nsh" + sign + " "
	}
	return "nsh[" + strings.Join(parts, " ") + "]" + sign + " "
}

// capPrompt is the capability part of the prompt: the preset's name, or
// what was dropped from and added to nsh's own bounding set (-net_raw).
func capPrompt(sp *isolate.Spec) string {
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
			avail, _ := sp.Available()
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
