package commands

import (
	"errors"
	"fmt"

	"nsh/isolate/cgroup"
)

// cgroupDevices plans device rules, or lists what a child gets.
func cgroupDevices(s *Session, c *Command, args []string) error {
	if len(args) == 0 {
		var rules []cgroup.DeviceRule
		if s.Spec.Cgroup != nil {
			rules = s.Spec.Cgroup.Devices
		}
		eff := cgroup.EffectiveDevices(s.Spec.Rootfs != nil, rules)
		if len(eff) == 0 {
			fmt.Fprintln(s.Out, "no device rules: children see every device the host's cgroup allows (a rootfs brings runc's default list)")
			return nil
		}
		var rows [][]string
		for i, r := range eff {
			from := "cgroup devices"
			if s.Spec.Rootfs != nil && i < len(cgroup.DefaultDevices()) {
				from = "runc's default (rootfs)"
			}
			rows = append(rows, []string{r.Text(), from})
		}
		return printTable(s.Out, []string{"RULE", "FROM"}, rows)
	}
	next := s.Spec.Clone()
	if next.Cgroup == nil {
		next.Cgroup = &cgroup.Config{}
	}
	switch args[0] {
	case "reset":
		if len(args) != 1 {
			return usageError(c, "cgroup devices reset takes no arguments")
		}
		next.Cgroup.Devices = nil
	case "allow", "deny":
		r, err := cgroup.ParseDeviceRule(args[0] == "allow", args[1:])
		if err != nil {
			return fmt.Errorf("cgroup devices: %w", err)
		}
		if h, err := cgroup.Detect(); err == nil && !h.CanLimitDevices() {
			return errors.New("cgroup devices: this host has neither the v1 devices controller nor cgroup v2: device rules cannot be applied here")
		}
		next.Cgroup.Devices = append(next.Cgroup.Devices, r)
	default:
		return usageError(c, fmt.Sprintf("unknown cgroup devices operation %q: allow, deny or reset", args[0]))
	}
	return s.commit(next)
}
