package cgroup

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The device allowlist: which device nodes a child may create (mknod) and
// open. Without one, a root child that keeps CAP_MKNOD (Docker's default
// set does) can make a node for the host's disk and open it. runc applies
// its default list to every container; nsh applies the same one whenever
// a rootfs is planned (a child without a rootfs uses the host's /dev),
// and `cgroup devices allow|deny RULE` adds to it or makes a list of its
// own. On v1 the rules are written to the devices controller
// (devices.deny, devices.allow); on v2, which has no devices controller,
// they are compiled into an eBPF program attached to the child's cgroup
// (devices_bpf.go); a hybrid host gets both.

// DeviceRule is one rule: allow or deny TYPE MAJOR:MINOR ACCESS, as the
// v1 devices.allow and devices.deny files take it.
type DeviceRule struct {
	Allow  bool   `json:"allow"`
	Type   string `json:"type"`  // a (all), b (block) or c (char)
	Major  int    `json:"major"` // -1 is *
	Minor  int    `json:"minor"` // -1 is *
	Access string `json:"access"`
}

// String is the rule as devices.allow takes it: "c 1:3 rwm", "a *:* rwm".
func (r DeviceRule) String() string {
	n := func(v int) string {
		if v < 0 {
			return "*"
		}
		return strconv.Itoa(v)
	}
	return fmt.Sprintf("%s %s:%s %s", r.Type, n(r.Major), n(r.Minor), r.Access)
}

// Text is the rule as `cgroup devices` takes it: allow c 1:3 rwm.
func (r DeviceRule) Text() string {
	if r.Allow {
		return "allow " + r.String()
	}
	return "deny " + r.String()
}

// ParseDeviceRule reads TYPE [MAJOR:MINOR [ACCESS]]: a alone is every
// device; * is any number; ACCESS is some of r, w and m (default rwm).
func ParseDeviceRule(allow bool, words []string) (DeviceRule, error) {
	bad := func(why string) (DeviceRule, error) {
		return DeviceRule{}, fmt.Errorf("bad device rule %q: %s; write it as devices.allow does: TYPE MAJOR:MINOR ACCESS, e.g. c 1:3 rwm, c 136:* rw, b *:* m, or a for all", strings.Join(words, " "), why)
	}
	if len(words) == 0 || len(words) > 3 {
		return bad("give TYPE, MAJOR:MINOR and ACCESS")
	}
	r := DeviceRule{Allow: allow, Type: words[0], Major: -1, Minor: -1, Access: "rwm"}
	switch r.Type {
	case "a", "b", "c":
	default:
		return bad("the type is a, b or c")
	}
	if len(words) >= 2 {
		maj, min, ok := strings.Cut(words[1], ":")
		if !ok {
			return bad("the device is MAJOR:MINOR")
		}
		var err error
		for _, p := range []struct {
			s string
			v *int
		}{{maj, &r.Major}, {min, &r.Minor}} {
			if p.s == "*" {
				continue
			}
			if *p.v, err = strconv.Atoi(p.s); err != nil || *p.v < 0 || *p.v > 1<<20 {
				return bad(fmt.Sprintf("%q is not a device number or *", p.s))
			}
		}
	}
	if len(words) == 3 {
		r.Access = words[2]
		if r.Access == "" || strings.Trim(r.Access, "rwm") != "" || len(r.Access) > 3 {
			return bad("the access is some of r, w and m")
		}
	}
	if r.Type == "a" && (r.Major >= 0 || r.Minor >= 0) {
		return bad("a is every device: give no number")
	}
	return r, nil
}

// DefaultDevices is runc's default allowlist (libcontainer/specconv's
// AllowedDevices): everything denied, then mknod of any node, the usual
// character devices, the pty's and the tun device.
func DefaultDevices() []DeviceRule {
	c := func(maj, min int, acc string) DeviceRule {
		return DeviceRule{Allow: true, Type: "c", Major: maj, Minor: min, Access: acc}
	}
	return []DeviceRule{
		{Allow: false, Type: "a", Major: -1, Minor: -1, Access: "rwm"},
		c(-1, -1, "m"),
		{Allow: true, Type: "b", Major: -1, Minor: -1, Access: "m"},
		c(1, 3, "rwm"),    // /dev/null
		c(1, 8, "rwm"),    // /dev/random
		c(1, 7, "rwm"),    // /dev/full
		c(5, 0, "rwm"),    // /dev/tty
		c(1, 5, "rwm"),    // /dev/zero
		c(1, 9, "rwm"),    // /dev/urandom
		c(136, -1, "rwm"), // /dev/pts/*
		c(5, 2, "rwm"),    // /dev/ptmx
		c(10, 200, "rwm"), // /dev/net/tun
	}
}

// CanLimitDevices says whether this host can apply a device list: the v1
// devices controller, or a v2 hierarchy for the eBPF program.
func (h *Host) CanLimitDevices() bool { return h.V1For("devices") != nil || h.Unified() != nil }

// EffectiveDevices is the list a child gets: runc's default when it has
// a rootfs, then the plan's own rules in order; nil when neither applies.
func EffectiveDevices(rootfs bool, rules []DeviceRule) []DeviceRule {
	var out []DeviceRule
	if rootfs {
		out = DefaultDevices()
	}
	return append(out, rules...)
}

// deviceWrites are the v1 writes of a list, in order.
func (h *Host) deviceWrites(rules []DeviceRule) ([]Write, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	x := h.V1For("devices")
	if x == nil {
		if h.Unified() != nil {
			return nil, nil // the eBPF program alone
		}
		return nil, errors.New("a device allowlist needs the v1 devices controller or a cgroup v2 hierarchy, and this host has neither")
	}
	var out []Write
	for _, r := range rules {
		f := "devices.deny"
		if r.Allow {
			f = "devices.allow"
		}
		out = append(out, Write{x, f, r.String()})
	}
	return out, nil
}
