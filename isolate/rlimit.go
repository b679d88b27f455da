package isolate

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"nsh/plan"

	"golang.org/x/sys/unix"
)

// CheckRaise refuses a hard limit above nsh's own when nsh may not raise
// it (CAP_SYS_RESOURCE), as the kernel would refuse it at spawn.
func CheckRaise(r plan.Rlimit) error {
	info := r.Info()
	var own unix.Rlimit
	if err := unix.Getrlimit(rlimitResource[info.Name], &own); err != nil {
		return fmt.Errorf("getrlimit %s: %w", info.Name, err)
	}
	if r.Hard <= own.Max {
		return nil
	}
	if c, err := OwnCreds(); err == nil && c.Effective&(1<<unix.CAP_SYS_RESOURCE) != 0 {
		return nil
	}
	return fmt.Errorf("rlimit %s: hard limit %s is above nsh's own (%s), and raising it needs CAP_SYS_RESOURCE, which nsh (uid %d) lacks: give at most %s", info.Name, plan.LimitText(r.Hard), plan.LimitText(own.Max), os.Getuid(), plan.LimitText(own.Max))
}

// Prlimit sets a limit of process pid: prlimit(2).
func Prlimit(pid int, r plan.Rlimit) error {
	info := r.Info()
	lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
	if err := unix.Prlimit(pid, rlimitResource[info.Name], &lim, nil); err != nil {
		return fmt.Errorf("prlimit(%d, RLIMIT_%s, %s, %s): %w", pid, strings.ToUpper(info.Name), plan.LimitText(r.Soft), plan.LimitText(r.Hard), err)
	}
	return nil
}

// ReadLimits reads every limit of pid from /proc/PID/limits, in
// plan.RlimitInfos' order.
func ReadLimits(pid int) ([]plan.Rlimit, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	byRow := map[string][2]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		// Fixed columns (fs/proc/base.c): a 25-wide name, then soft
		// and hard 20 wide each.
		if len(line) < 26 {
			continue
		}
		name := strings.TrimSpace(line[:25])
		fields := strings.Fields(line[25:])
		if len(fields) < 2 {
			continue
		}
		var v [2]uint64
		for i := range v {
			if fields[i] == "unlimited" {
				v[i] = plan.Unlimited
			} else if v[i], err = strconv.ParseUint(fields[i], 10, 64); err != nil {
				v[i] = 0
			}
		}
		byRow[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var out []plan.Rlimit
	for _, info := range plan.RlimitInfos {
		v, ok := byRow[info.Proc]
		if !ok {
			return nil, fmt.Errorf("/proc/%d/limits has no %q row", pid, info.Proc)
		}
		out = append(out, plan.Rlimit{Name: info.Name, Soft: v[0], Hard: v[1]})
	}
	return out, nil
}

// Limits reads the limits of the process that runs the child's command.
func (c *Child) Limits() ([]plan.Rlimit, error) {
	if err := c.own(c.Pid); err != nil {
		return nil, err
	}
	if !c.Alive() {
		return nil, errors.New("the child has exited")
	}
	l, err := ReadLimits(c.Pid)
	if err != nil {
		return nil, err
	}
	// Read through a pid: it was this child's only if it still runs.
	if !c.Alive() {
		return nil, errors.New("the child has exited")
	}
	return l, nil
}

// plan.SetRlimit changes a limit of the running child: prlimit(2) on the
// process that runs its command, once own says it is the child's. What
// later enters the child gets the new limit too.
func (c *Child) SetRlimit(r plan.Rlimit) error {
	if err := c.own(c.Pid); err != nil {
		return err
	}
	if c.foreign {
		if err := Untouchable(c.Pid); err != nil {
			return err
		}
	}
	// After the last read: the pid was this process's only if it runs.
	if !c.Alive() {
		return errors.New("the child has exited")
	}
	if err := Prlimit(c.Pid, r); err != nil {
		return err
	}
	c.rlimits = plan.SetRlimit(c.rlimits, r)
	return nil
}

// rlimitResource is each limit's RLIMIT_* number.
var rlimitResource = map[string]int{
	"as":         unix.RLIMIT_AS,
	"core":       unix.RLIMIT_CORE,
	"cpu":        unix.RLIMIT_CPU,
	"data":       unix.RLIMIT_DATA,
	"fsize":      unix.RLIMIT_FSIZE,
	"locks":      unix.RLIMIT_LOCKS,
	"memlock":    unix.RLIMIT_MEMLOCK,
	"msgqueue":   unix.RLIMIT_MSGQUEUE,
	"nice":       unix.RLIMIT_NICE,
	"nofile":     unix.RLIMIT_NOFILE,
	"nproc":      unix.RLIMIT_NPROC,
	"rss":        unix.RLIMIT_RSS,
	"rtprio":     unix.RLIMIT_RTPRIO,
	"rttime":     unix.RLIMIT_RTTIME,
	"sigpending": unix.RLIMIT_SIGPENDING,
	"stack":      unix.RLIMIT_STACK,
}

// OwnRlimit is nsh's own limit of that name.
func OwnRlimit(name string) plan.Rlimit {
	var l unix.Rlimit
	unix.Getrlimit(rlimitResource[name], &l)
	return plan.Rlimit{Name: name, Soft: l.Cur, Hard: l.Max}
}
