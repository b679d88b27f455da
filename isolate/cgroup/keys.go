package cgroup

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"nsh/internal/kfile"
)

// Setting is one planned cgroup value: a v2 key and the v2 text for it.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Known is every key nsh understands beyond writing a file as named,
// with what it takes.
var Known = []struct{ Key, Takes string }{
	{"memory.max", "a size (K/M/G/T, powers of 1024) or max"},
	{"memory.high", "a size or max (v2 only)"},
	{"memory.low", "a size"},
	{"memory.min", "a size (v2 only)"},
	{"memory.swap.max", "a size or max"},
	{"cpu.max", "QUOTA PERIOD in µs, max [PERIOD], or a number of cores such as 0.5"},
	{"cpu.weight", "1-10000 (default 100)"},
	{"pids.max", "a number of processes or max"},
	{"cpuset.cpus", "CPUs of this machine, e.g. 0 or 0-1,3"},
	{"cpuset.mems", "memory nodes of this machine, e.g. 0"},
	{"io.max", "MAJ:MIN rbps=N wbps=N riops=N wiops=N (each optional, N or max)"},
	{"io.weight", "1-10000 (default 100; v1 blkio.weight 10-1000, as runc converts)"},
	{"hugetlb.2MB.max", "a size or max (any page size this host has: hugetlb.1GB.max...)"},
}

// KnownKeys lists the keys of Known, for completion and messages.
func KnownKeys() []string {
	var out []string
	for _, k := range Known {
		out = append(out, k.Key)
	}
	return out
}

// keyName admits controller.file names and nothing that could leave the
// child's cgroup directory: words of letters, digits and underscores
// joined by single dots, two words at least, the first (the controller)
// lower case and starting with a letter. It says what
// ^[a-z][a-z0-9_]*\.[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$ says (a test holds
// them to it), without compiling a regexp at each start of nsh.
func keyName(key string) bool {
	words := 0
	for w := range strings.SplitSeq(key, ".") {
		if w == "" {
			return false
		}
		for i, c := range w {
			letter := c >= 'a' && c <= 'z'
			other := c >= '0' && c <= '9' || c == '_'
			switch {
			case words == 0 && i == 0 && !letter, // the controller starts with a letter
				words == 0 && !letter && !other, // and is lower case
				!letter && !other && !(c >= 'A' && c <= 'Z'):
				return false
			}
		}
		words++
	}
	return words >= 2
}

// ValidateKey refuses keys that are not interface files of a controller.
func ValidateKey(key string) error {
	if !keyName(key) {
		return fmt.Errorf("bad key %q: a cgroup key is a controller's file name such as memory.max (known: %s)", key, strings.Join(KnownKeys(), " "))
	}
	if strings.HasPrefix(key, "cgroup.") {
		return fmt.Errorf("%s is cgroup core state that nsh manages itself; set a controller's file such as memory.max", key)
	}
	return nil
}

// Controller is the controller a key belongs to: memory for memory.max.
func Controller(key string) string {
	c, _, _ := strings.Cut(key, ".")
	return c
}

// Parse validates the words given for key and returns the setting in v2
// form. Nothing is written: every value is checked before anything is.
func Parse(key string, args []string) (Setting, error) {
	if err := ValidateKey(key); err != nil {
		return Setting{}, err
	}
	if len(args) == 0 {
		return Setting{}, fmt.Errorf("%s needs a value", key)
	}
	one := func() (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("%s takes one value, not %d", key, len(args))
		}
		return args[0], nil
	}
	var v string
	var err error
	switch key {
	case "memory.max", "memory.high", "memory.swap.max", "memory.low", "memory.min":
		if v, err = one(); err == nil {
			v, err = ParseSize(v)
		}
		// Below this no process starts: nsh's child stage, before the
		// command, is killed by the OOM killer (measured: 64K fails,
		// 256K runs /bin/true).
		if n, perr := strconv.ParseUint(v, 10, 64); err == nil && perr == nil && key == "memory.max" && n < minMemoryMax {
			err = fmt.Errorf("%s cannot run any process (the child stage alone is OOM-killed below about 256K): give 256K or more, and a few M for a shell", FormatSize(v))
		}
	case hugetlbKey(key):
		if v, err = one(); err == nil {
			v, err = ParseSize(v)
		}
	case "cpu.max":
		v, err = parseCPUMax(args)
	case "cpu.weight", "io.weight":
		if v, err = one(); err == nil {
			v, err = parseRange(v, 1, 10000)
		}
	case "pids.max":
		if v, err = one(); err == nil && v != "max" {
			v, err = parseRange(v, 1, math.MaxInt32)
		}
	case "cpuset.cpus":
		if v, err = one(); err == nil {
			v, err = parseList(v, "/sys/devices/system/cpu/online", "CPU")
		}
	case "cpuset.mems":
		if v, err = one(); err == nil {
			v, err = parseList(v, "/sys/devices/system/node/online", "memory node")
		}
	case "io.max":
		v, err = parseIOMax(args)
	default:
		v = strings.Join(args, " ")
		if strings.ContainsAny(v, "\n") {
			err = errors.New("a value is one line")
		}
	}
	if err != nil {
		return Setting{}, fmt.Errorf("%s: %w", key, err)
	}
	return Setting{Key: key, Value: v}, nil
}

// ParseSize reads 100M, 1G, 512K, 4096 or max; K, M, G and T are powers
// of 1024. It returns bytes as text, or max.
func ParseSize(w string) (string, error) {
	if w == "max" {
		return "max", nil
	}
	mult := uint64(1)
	num := strings.TrimSuffix(strings.ToUpper(w), "B")
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			num = num[:n-1]
		}
	}
	v, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", fmt.Errorf("bad size %q: give bytes with an optional K, M, G or T (powers of 1024), or max", w)
	}
	if v > math.MaxInt64/mult {
		return "", fmt.Errorf("size %q is too large", w)
	}
	return strconv.FormatUint(v*mult, 10), nil
}

// FormatSize is the short form of a byte count for the prompt: 100M.
func FormatSize(v string) string {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return v
	}
	for _, u := range []struct {
		s string
		m uint64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatUint(n/u.m, 10) + u.s
		}
	}
	return v
}

func parseRange(w string, lo, hi int64) (string, error) {
	n, err := strconv.ParseInt(w, 10, 64)
	if err != nil || n < lo || n > hi {
		return "", fmt.Errorf("bad value %q: give a whole number from %d to %d", w, lo, hi)
	}
	return strconv.FormatInt(n, 10), nil
}

const defaultPeriod = 100000

// minMemoryMax is the least memory.max nsh plans (see Parse).
const minMemoryMax = 256 << 10

// parseCPUMax reads "QUOTA PERIOD", "max [PERIOD]" or a number of cores.
func parseCPUMax(args []string) (string, error) {
	period := int64(defaultPeriod)
	switch len(args) {
	case 1:
		if args[0] == "max" {
			return fmt.Sprintf("max %d", period), nil
		}
		if n, err := strconv.ParseInt(args[0], 10, 64); err == nil {
			if n <= 0 {
				return "", fmt.Errorf("bad quota %q: give a number of cores above 0 (0.5 is half a core), or QUOTA PERIOD", args[0])
			}
			// 2: two cores, or a quota of 2µs? Never guessed.
			return "", fmt.Errorf("%q is ambiguous: give %d.0 for %d cores, or QUOTA PERIOD in µs such as %d %d", args[0], n, n, n*defaultPeriod, defaultPeriod)
		}
		if strings.Contains(args[0], ".") || !isInt(args[0]) {
			cores, err := strconv.ParseFloat(args[0], 64)
			if err != nil || cores <= 0 || math.IsInf(cores, 0) || cores > 1<<20 {
				return "", fmt.Errorf("bad value %q: give a number of cores above 0 (0.5 is half a core), or QUOTA PERIOD", args[0])
			}
			quota := int64(math.Round(cores * float64(period)))
			if quota < 1000 {
				return "", fmt.Errorf("%s cores is below the kernel's least quota of 1000µs per %dµs", args[0], period)
			}
			return fmt.Sprintf("%d %d", quota, period), nil
		}
		args = append(args, strconv.Itoa(defaultPeriod))
		fallthrough
	case 2:
		p, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || p < 1000 || p > 1000000 {
			return "", fmt.Errorf("bad period %q: give 1000-1000000 µs", args[1])
		}
		period = p
		if args[0] == "max" {
			return fmt.Sprintf("max %d", period), nil
		}
		q, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || q <= 0 {
			return "", fmt.Errorf("bad quota %q: give µs above 0 per period, or max", args[0])
		}
		if q < 1000 {
			return "", fmt.Errorf("quota %dµs is below the kernel's least of 1000µs", q)
		}
		return fmt.Sprintf("%d %d", q, period), nil
	}
	return "", errors.New("give QUOTA PERIOD, max, or a number of cores")
}

func isInt(w string) bool {
	_, err := strconv.ParseInt(w, 10, 64)
	return err == nil
}

// parseList reads a cpuset list such as 0-2,4 and checks every member
// against what the machine has online (listed in file). Ranges are
// compared, never expanded, so a list of huge ranges costs nothing.
func parseList(w, file, what string) (string, error) {
	online, err := kfile.ReadFile(file)
	if err != nil {
		online = []byte("0")
	}
	have, err := parseRanges(strings.TrimSpace(string(online)))
	if err != nil {
		return "", err
	}
	want, err := parseRanges(w)
	if err != nil || len(want) == 0 {
		return "", fmt.Errorf("bad list %q: give numbers and ranges such as 0 or 0-1,3", w)
	}
	for _, r := range want {
		for n := r[0]; n <= r[1]; {
			in := false
			for _, h := range have {
				if n >= h[0] && n <= h[1] {
					n, in = h[1]+1, true // skip the rest of this online range
					break
				}
			}
			if !in {
				return "", fmt.Errorf("%s %d is not on this machine (online: %s)", what, n, strings.TrimSpace(string(online)))
			}
		}
	}
	return w, nil
}

// parseRanges reads 0-2,4 as [[0 2] [4 4]].
func parseRanges(w string) ([][2]int, error) {
	var out [][2]int
	for _, part := range strings.Split(w, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad list %q", w)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad list %q", w)
			}
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

var ioMaxKeys = map[string]bool{"rbps": true, "wbps": true, "riops": true, "wiops": true}

// parseIOMax reads MAJ:MIN rbps=N wbps=N riops=N wiops=N.
func parseIOMax(args []string) (string, error) {
	if len(args) == 1 {
		// Quoted whole, as the file takes it: "8:0 rbps=1048576".
		args = strings.Fields(args[0])
	}
	if len(args) < 2 {
		return "", errors.New("give MAJ:MIN and at least one of rbps= wbps= riops= wiops=")
	}
	maj, min, ok := strings.Cut(args[0], ":")
	if !ok || !isInt(maj) || !isInt(min) {
		return "", fmt.Errorf("bad device %q: give MAJ:MIN as lsblk shows it, e.g. 8:0", args[0])
	}
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !ioMaxKeys[k] {
			return "", fmt.Errorf("bad limit %q: give rbps=, wbps=, riops= or wiops=", kv)
		}
		if v != "max" {
			if n, err := strconv.ParseUint(v, 10, 64); err != nil || n == 0 {
				return "", fmt.Errorf("bad limit %q: give a number above 0, or max", kv)
			}
		}
	}
	return strings.Join(args, " "), nil
}

// hugetlbKey returns key when it is a hugetlb limit (hugetlb.2MB.max),
// so that a switch can match it; "" otherwise.
func hugetlbKey(key string) string {
	if strings.HasPrefix(key, "hugetlb.") && strings.HasSuffix(key, ".max") && strings.Count(key, ".") == 2 {
		return key
	}
	return ""
}
