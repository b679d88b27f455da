package isolate

// The cgroup a child is made in: one of its own under nsh's, numbered,
// made ahead when a script will spawn again.

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"nsh/isolate/cgroup"
	"nsh/plan"
)

// newGroup makes the child's cgroup, or takes the one made ahead for it.
// With no cgroup settings planned, a host that will not let nsh make one
// (no permission, nothing mounted) costs the child its cgroup, not its
// start.
func newGroup(spec *plan.Spec, opt *Options) (*cgroup.Group, error) {
	cfg := cgroup.Config{}
	if spec.Cgroup != nil {
		cfg = *spec.Cgroup
	}
	if cfg.Off {
		cgroup.DropAhead(opt.Step)
		return nil, nil
	}
	h, err := cgroup.Detect()
	if err == nil && cfg.Use == "" {
		if len(cfg.Devices) == 0 && spec.Rootfs != nil && !h.CanLimitDevices() {
			// runc's default list, where nsh cannot apply it: said,
			// not silently dropped (rules the user asked for are
			// refused instead, by New).
			opt.step("no device allowlist: this host has neither the v1 devices controller nor cgroup v2")
		} else {
			cfg.Devices = cgroup.EffectiveDevices(spec.Rootfs != nil, cfg.Devices)
		}
	}
	if err == nil {
		if opt.Step != nil {
			// explain shows the group's mkdirs and writes: one made
			// before explain was on goes, shown going.
			cgroup.DropAhead(opt.Step)
		} else if g := cgroup.TakeAhead(h, cfg, nil); g != nil {
			opt.Timing.madeAhead()
			return g, nil
		}
	}
	// A directory of that name left by a dead nsh whose pid and pid
	// namespace were both reused: the next number.
	for try := 0; err == nil && try < 8; try++ {
		var g *cgroup.Group
		g, err = cgroup.New(h, cfg, nextGroupName(), opt.Step)
		if err == nil {
			return g, nil
		}
		if !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if len(cfg.Settings) == 0 && cfg.Use == "" && cfg.Parent == "" {
		opt.step("no cgroup for this child: %v", err)
		noCgroupOnce.Do(func() {
			if opt.Notice != nil {
				cause := err
				for errors.Unwrap(cause) != nil {
					cause = errors.Unwrap(cause)
				}
				opt.Notice(fmt.Sprintf("no cgroups for children here (%v): nsh ends them, and what they leave behind, as their subreaper", cause))
			}
		})
		return nil, nil
	}
	return nil, fmt.Errorf("cgroup: %w", err)
}

var (
	groupSeq     atomic.Int64 // numbers children's cgroups; Launch may run on several goroutines
	noCgroupOnce sync.Once
)

// nextGroupName names the cgroup of the next child.
func nextGroupName() string { return fmt.Sprintf("%s-%d", cgroup.NamePrefix(), groupSeq.Add(1)) }
