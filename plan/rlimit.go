package plan

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"nsh/internal/near"
)

// RlimitInfo is one resource limit as prlimit(1) presents it.
type RlimitInfo struct {
	Name  string // as prlimit's options spell it: nofile
	Desc  string // prlimit's DESCRIPTION
	Units string // prlimit's UNITS
	Proc  string // the row of /proc/PID/limits
}

// RlimitInfos are every RLIMIT_*, in prlimit's order.
var RlimitInfos = []RlimitInfo{
	{"as", "address space limit", "bytes", "Max address space"},
	{"core", "max core file size", "bytes", "Max core file size"},
	{"cpu", "CPU time", "seconds", "Max cpu time"},
	{"data", "max data size", "bytes", "Max data size"},
	{"fsize", "max file size", "bytes", "Max file size"},
	{"locks", "max number of file locks held", "locks", "Max file locks"},
	{"memlock", "max locked-in-memory address space", "bytes", "Max locked memory"},
	{"msgqueue", "max bytes in POSIX mqueues", "bytes", "Max msgqueue size"},
	{"nice", "max nice prio allowed to raise", "", "Max nice priority"},
	{"nofile", "max number of open files", "files", "Max open files"},
	{"nproc", "max number of processes", "processes", "Max processes"},
	{"rss", "max resident set size", "bytes", "Max resident set"},
	{"rtprio", "max real-time priority", "", "Max realtime priority"},
	{"rttime", "timeout for real-time tasks", "microsecs", "Max realtime timeout"},
	{"sigpending", "max number of pending signals", "signals", "Max pending signals"},
	{"stack", "max stack size", "bytes", "Max stack size"},
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

// SetRlimit puts r into the list, replacing a limit of the same name.
func SetRlimit(list []Rlimit, r Rlimit) []Rlimit {
	list = slices.DeleteFunc(slices.Clone(list), func(x Rlimit) bool { return x.Name == r.Name })
	list = append(list, r)
	slices.SortStableFunc(list, func(a, b Rlimit) int { return strings.Compare(a.Name, b.Name) })
	return list
}
