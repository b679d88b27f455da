package importer

// linux.resources: cgroup limits, as v2 keys, and the device allowlist.

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"nsh/isolate/cgroup"
)

func (im *importer) cgroup() *cgroup.Config {
	if im.sp.Cgroup == nil {
		im.sp.Cgroup = &cgroup.Config{}
	}
	return im.sp.Cgroup
}

func (im *importer) set(path, key, value string) {
	if err := im.setting(key, value); err != nil {
		im.skip(path, err.Error())
		return
	}
	im.consume(path)
}

// setKey is set for a value under a map key with dots (unified).
func (im *importer) setKey(mapPath, mapKey, key, value string) {
	if err := im.setting(key, value); err != nil {
		im.skipKey(mapPath, mapKey, err.Error())
		return
	}
	im.consumeKey(mapPath, mapKey)
}

func (im *importer) setting(key, value string) error {
	c := im.cgroup()
	if _, ok := c.Get(key); ok {
		return fmt.Errorf("%s set twice", key)
	}
	if err := cgroup.ValidateKey(key); err != nil {
		return err
	}
	c.Settings = append(c.Settings, cgroup.Setting{Key: key, Value: value})
	return nil
}

func num(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

func (im *importer) resources(r *specs.LinuxResources) {
	const base = "linux.resources"
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			im.set(base+".memory.limit", "memory.max", num(*m.Limit))
		}
		if m.Reservation != nil {
			im.set(base+".memory.reservation", "memory.low", num(*m.Reservation))
		}
		if m.Swap != nil {
			// memory+swap, as v1 counts it.
			switch {
			case *m.Swap < 0:
				im.set(base+".memory.swap", "memory.swap.max", "max")
			case m.Limit != nil && *m.Limit >= 0 && *m.Swap >= *m.Limit:
				im.set(base+".memory.swap", "memory.swap.max", strconv.FormatInt(*m.Swap-*m.Limit, 10))
			default:
				im.skip(base+".memory.swap", "memory+swap without a memory limit below it: give memory.limit too")
			}
		}
		if m.Swappiness != nil {
			im.set(base+".memory.swappiness", "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10))
		}
	}
	if c := r.CPU; c != nil {
		if c.Quota != nil || c.Period != nil {
			period := uint64(100000)
			if c.Period != nil {
				period = *c.Period
			}
			q := "max"
			if c.Quota != nil && *c.Quota > 0 {
				q = strconv.FormatInt(*c.Quota, 10)
			}
			im.set(base+".cpu.quota", "cpu.max", q+" "+strconv.FormatUint(period, 10))
			im.consume(base + ".cpu.period")
		}
		if c.Shares != nil {
			im.set(base+".cpu.shares", "cpu.weight", strconv.FormatUint(weightFor(*c.Shares), 10))
		}
		if c.Cpus != "" {
			im.set(base+".cpu.cpus", "cpuset.cpus", c.Cpus)
		}
		if c.Mems != "" {
			im.set(base+".cpu.mems", "cpuset.mems", c.Mems)
		}
	}
	if p := r.Pids; p != nil {
		im.set(base+".pids.limit", "pids.max", num(p.Limit))
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil {
			im.set(base+".blockIO.weight", "io.weight", strconv.FormatUint(ioWeightFor(uint64(*b.Weight)), 10))
		}
		im.ioMax(b)
	}
	for i, h := range r.HugepageLimits {
		im.set(fmt.Sprintf("%s.hugepageLimits[%d]", base, i), "hugetlb."+h.Pagesize+".max", strconv.FormatUint(h.Limit, 10))
	}
	ukeys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		ukeys = append(ukeys, k)
	}
	sort.Strings(ukeys)
	for _, k := range ukeys {
		im.setKey(base+".unified", k, k, r.Unified[k])
	}
	im.devices(r.Devices)
}

// weightFor is the cpu.weight whose shares (as export and runc convert
// it) are these, so that a weight exported comes back the same.
func weightFor(shares uint64) uint64 {
	w := cgroup.SharesToWeight(shares)
	for c := max(w, 2) - 1; c <= w+2; c++ {
		if cgroup.WeightToShares(c) == shares {
			return c
		}
	}
	return w
}

// ioWeightFor is an io.weight with this blkio weight; many share one,
// and the roundest is the likeliest to have been typed (300, not 299).
func ioWeightFor(blkio uint64) uint64 {
	best, bestScore := uint64(0), -1
	for w := uint64(1); w <= 10000; w++ {
		if cgroup.IOWeightToBlkio(w) != blkio {
			continue
		}
		score := 0
		for _, m := range []uint64{10, 50, 100, 1000} {
			if w%m == 0 {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = w, score
		}
	}
	if best == 0 {
		return 100
	}
	return best
}

// ioMax gathers blockIO's throttle lists into one io.max per device.
func (im *importer) ioMax(b *specs.LinuxBlockIO) {
	const base = "linux.resources.blockIO."
	type dev struct{ major, minor int64 }
	var order []dev
	limits := map[dev][]string{}
	for _, l := range []struct {
		name string
		key  string
		list []specs.LinuxThrottleDevice
	}{{"throttleReadBpsDevice", "rbps", b.ThrottleReadBpsDevice}, {"throttleWriteBpsDevice", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "riops", b.ThrottleReadIOPSDevice}, {"throttleWriteIOPSDevice", "wiops", b.ThrottleWriteIOPSDevice}} {
		for i, t := range l.list {
			d := dev{t.Major, t.Minor}
			if _, ok := limits[d]; !ok {
				order = append(order, d)
			}
			limits[d] = append(limits[d], fmt.Sprintf("%s=%d", l.key, t.Rate))
			im.consume(fmt.Sprintf("%s%s[%d]", base, l.name, i))
		}
	}
	for _, d := range order {
		v := fmt.Sprintf("%d:%d %s", d.major, d.minor, strings.Join(limits[d], " "))
		c := im.cgroup()
		c.Settings = append(c.Settings, cgroup.Setting{Key: "io.max", Value: v})
	}
}

// devices takes the device allowlist: runc's own default list (which
// spawn gives every child with a rootfs) or runc spec's deny-all (on
// which runc puts that list) is no rule of the plan's; the rest are.
func (im *importer) devices(list []specs.LinuxDeviceCgroup) {
	var rules []cgroup.DeviceRule
	for _, d := range list {
		r := cgroup.DeviceRule{Allow: d.Allow, Type: d.Type, Major: -1, Minor: -1, Access: d.Access}
		if r.Type == "" {
			r.Type = "a"
		}
		if d.Major != nil {
			r.Major = int(*d.Major)
		}
		if d.Minor != nil {
			r.Minor = int(*d.Minor)
		}
		rules = append(rules, r)
	}
	def := cgroup.DefaultDevices()
	switch {
	case len(rules) >= len(def) && reflect.DeepEqual(rules[:len(def)], def):
		rules = rules[len(def):]
	case len(rules) > 0 && !rules[0].Allow && rules[0].Type == "a" && rules[0].Major == -1 && rules[0].Minor == -1:
		rules = rules[1:]
	}
	if len(rules) > 0 {
		im.cgroup().Devices = rules
	}
	im.consume("linux.resources.devices")
}
