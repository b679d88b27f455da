package isolate

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/internal/near"
)

// RlimitInfo is one resource limit as prlimit(1) presents it.
type RlimitInfo struct {
	Name     string // as prlimit's options spell it: nofile
	Resource int    // RLIMIT_*
	Desc     string // prlimit's DESCRIPTION
	Units    string // prlimit's UNITS
	proc     string // the row of /proc/PID/limits
}

// RlimitInfos are every RLIMIT_*, in prlimit's order.
var RlimitInfos = []RlimitInfo{
	{"as", unix.RLIMIT_AS, "address space limit", "bytes", "Max address space"},
	{"core", unix.RLIMIT_CORE, "max core file size", "bytes", "Max core file size"},
	{"cpu", unix.RLIMIT_CPU, "CPU time", "seconds", "Max cpu time"},
	{"data", unix.RLIMIT_DATA, "max data size", "bytes", "Max data size"},
	{"fsize", unix.RLIMIT_FSIZE, "max file size", "bytes", "Max file size"},
	{"locks", unix.RLIMIT_LOCKS, "max number of file locks held", "locks", "Max file locks"},
	{"memlock", unix.RLIMIT_MEMLOCK, "max locked-in-memory address space", "bytes", "Max locked memory"},
	{"msgqueue", unix.RLIMIT_MSGQUEUE, "max bytes in POSIX mqueues", "bytes", "Max msgqueue size"},
	{"nice", unix.RLIMIT_NICE, "max nice prio allowed to raise", "", "Max nice priority"},
	{"nofile", unix.RLIMIT_NOFILE, "max number of open files", "files", "Max open files"},
	{"nproc", unix.RLIMIT_NPROC, "max number of processes", "processes", "Max processes"},
	{"rss", unix.RLIMIT_RSS, "max resident set size", "bytes", "Max resident set"},
	{"rtprio", unix.RLIMIT_RTPRIO, "max real-time priority", "", "Max realtime priority"},
	{"rttime", unix.RLIMIT_RTTIME, "timeout for real-time tasks", "microsecs", "Max realtime timeout"},
	{"sigpending", unix.RLIMIT_SIGPENDING, "max number of pending signals", "signals", "Max pending signals"},
	{"stack", unix.RLIMIT_STACK, "max stack size", "bytes", "Max stack size"},
}

// RlimitNames are the names rlimit takes.
func RlimitNames() []string {
	var n []string
	for _, r := range RlimitInfos {
		n = append(n, r.Name)
	}
	return n
}

// LookupRlimit finds a limit by prlimit's name (nofile, NOFILE) or the
// kernel's (RLIMIT_NOFILE).
func LookupRlimit(name string) (RlimitInfo, error) {
	w := strings.TrimPrefix(strings.ToLower(name), "rlimit_")
	for _, r := range RlimitInfos {
		if r.Name == w {
			return r, nil
		}
	}
	return RlimitInfo{}, fmt.Errorf("unknown resource limit %q%s: use one of %s", name, near.Hint(w, RlimitNames()), strings.Join(RlimitNames(), " "))
}

// Unlimited is RLIM_INFINITY.
const Unlimited = uint64(math.MaxUint64)

// Rlimit is one limit for children.
type Rlimit struct {
	Name string `json:"name"`
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// Info is the limit's description.
func (r Rlimit) Info() RlimitInfo {
	i, _ := LookupRlimit(r.Name)
	return i
}

// LimitText is a value as prlimit writes it.
func LimitText(v uint64) string {
	if v == Unlimited {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

func (r Rlimit) String() string {
	if r.Soft == r.Hard {
		return r.Name + " " + LimitText(r.Soft)
	}
	return r.Name + " " + LimitText(r.Soft) + ":" + LimitText(r.Hard)
}

// ParseRlimit reads NAME and SOFT[:HARD] as prlimit takes them: a number
// or unlimited; SOFT alone sets both, as prlimit --nofile=64 does; an
// empty side (64: or :128) keeps what base has.
func ParseRlimit(name, value string, base *Rlimit) (Rlimit, error) {
	info, err := LookupRlimit(name)
	if err != nil {
		return Rlimit{}, err
	}
	r := Rlimit{Name: info.Name}
	num := func(s string) (uint64, error) {
		if s == "unlimited" || s == "infinity" || s == "-1" {
			return Unlimited, nil
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == Unlimited {
			return 0, fmt.Errorf("rlimit %s: %q is not a limit: give a number or unlimited, as SOFT or SOFT:HARD", info.Name, s)
		}
		return n, nil
	}
	soft, hard, pair := strings.Cut(value, ":")
	if !pair {
		if r.Soft, err = num(soft); err != nil {
			return Rlimit{}, err
		}
		r.Hard = r.Soft
		return r, nil
	}
	if soft == "" && hard == "" {
		return Rlimit{}, fmt.Errorf("rlimit %s: give SOFT, SOFT:HARD, SOFT: or :HARD", info.Name)
	}
	if soft == "" || hard == "" {
		if base == nil {
			return Rlimit{}, fmt.Errorf("rlimit %s %s: nothing to keep the other side from: give SOFT:HARD", info.Name, value)
		}
		r.Soft, r.Hard = base.Soft, base.Hard
	}
	if soft != "" {
		if r.Soft, err = num(soft); err != nil {
			return Rlimit{}, err
		}
	}
	if hard != "" {
		if r.Hard, err = num(hard); err != nil {
			return Rlimit{}, err
		}
	}
	if r.Soft > r.Hard {
		return Rlimit{}, fmt.Errorf("rlimit %s: soft limit %s is above hard limit %s: the soft limit may only go up to the hard one", info.Name, LimitText(r.Soft), LimitText(r.Hard))
	}
	return r, nil
}

// CheckRaise refuses a hard limit above nsh's own when nsh may not raise
// it (CAP_SYS_RESOURCE), as the kernel would refuse it at spawn.
func CheckRaise(r Rlimit) error {
	info := r.Info()
	var own unix.Rlimit
	if err := unix.Getrlimit(info.Resource, &own); err != nil {
		return fmt.Errorf("getrlimit %s: %w", info.Name, err)
	}
	if r.Hard <= own.Max {
		return nil
	}
	if c, err := OwnCreds(); err == nil && c.Effective&(1<<unix.CAP_SYS_RESOURCE) != 0 {
		return nil
	}
	return fmt.Errorf("rlimit %s: hard limit %s is above nsh's own (%s), and raising it needs CAP_SYS_RESOURCE, which nsh (uid %d) lacks: give at most %s", info.Name, LimitText(r.Hard), LimitText(own.Max), os.Getuid(), LimitText(own.Max))
}

// Prlimit sets a limit of process pid: prlimit(2).
func Prlimit(pid int, r Rlimit) error {
	info := r.Info()
	lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
	if err := unix.Prlimit(pid, info.Resource, &lim, nil); err != nil {
		return fmt.Errorf("prlimit(%d, RLIMIT_%s, %s, %s): %w", pid, strings.ToUpper(info.Name), LimitText(r.Soft), LimitText(r.Hard), err)
	}
	return nil
}

// ReadLimits reads every limit of pid from /proc/PID/limits, in
// RlimitInfos' order.
func ReadLimits(pid int) ([]Rlimit, error) {
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
				v[i] = Unlimited
			} else if v[i], err = strconv.ParseUint(fields[i], 10, 64); err != nil {
				v[i] = 0
			}
		}
		byRow[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var out []Rlimit
	for _, info := range RlimitInfos {
		v, ok := byRow[info.proc]
		if !ok {
			return nil, fmt.Errorf("/proc/%d/limits has no %q row", pid, info.proc)
		}
		out = append(out, Rlimit{Name: info.Name, Soft: v[0], Hard: v[1]})
	}
	return out, nil
}

// SetRlimit puts r into the list, replacing a limit of the same name.
func SetRlimit(list []Rlimit, r Rlimit) []Rlimit {
	list = slices.DeleteFunc(slices.Clone(list), func(x Rlimit) bool { return x.Name == r.Name })
	list = append(list, r)
	slices.SortStableFunc(list, func(a, b Rlimit) int { return strings.Compare(a.Name, b.Name) })
	return list
}

// Limits reads the limits of the process that runs the child's command.
func (c *Child) Limits() ([]Rlimit, error) {
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

// SetRlimit changes a limit of the running child: prlimit(2) on the
// process that runs its command, once own says it is the child's. What
// later enters the child gets the new limit too.
func (c *Child) SetRlimit(r Rlimit) error {
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
	c.rlimits = SetRlimit(c.rlimits, r)
	return nil
}
