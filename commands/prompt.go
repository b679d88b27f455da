package commands

import (
	"os"
	"strings"
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
	if limits := cgroupPrompt(s.Spec.Cgroup); len(limits) > 0 {
		parts = append(parts, strings.Join(limits, " "))
	}
	if len(s.Spec.Join) > 0 {
		var joined []string
		for _, j := range s.Spec.Join {
			joined = append(joined, j.Type)
		}
		parts = append(parts, "join:"+strings.Join(joined, ","))
	}
	if len(parts) == 0 {
		return "nsh" + sign + " "
	}
	return "nsh[" + strings.Join(parts, " ") + "]" + sign + " "
}
