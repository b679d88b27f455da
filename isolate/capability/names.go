// Package capability names, parses and decodes Linux capabilities, and
// reads and writes file capabilities (security.capability v2 and v3).
// Names come from github.com/moby/sys/capability; its file support stops
// at v2, so the xattr code here is nsh's own (v3 carries the rootid of a
// user namespace).
package capability

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	moby "github.com/moby/sys/capability"

	"nsh/internal/kfile"
	"nsh/internal/near"
)

// Docker is Docker's default capability set (0xa80425fb): the 14 that
// `docker run` keeps.
const Docker uint64 = 0xa80425fb

// Last is the kernel's highest capability number (cap_last_cap).
func Last() int {
	lastOnce.Do(func() { last = readLast() })
	return last
}

var (
	lastOnce sync.Once
	last     int
)

func readLast() int {
	b, err := kfile.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return n
		}
	}
	if c, err := moby.LastCap(); err == nil {
		return int(c)
	}
	return int(moby.CAP_CHECKPOINT_RESTORE)
}

// All is every capability the kernel has.
func All() uint64 {
	last := Last()
	if last >= 63 {
		return ^uint64(0)
	}
	return 1<<uint(last+1) - 1
}

// knownLast is the highest capability moby (and libcap) have a name for.
var knownLast = func() int {
	last := 0
	for _, c := range moby.ListKnown() {
		last = max(last, int(c))
	}
	return last
}()

// Name is cap_net_raw for 13; capabilities without a name are their
// number, as libcap (capsh, getcap) prints them.
func Name(c int) string {
	if c <= knownLast {
		return "cap_" + moby.Cap(c).String()
	}
	return strconv.Itoa(c)
}

// Parse reads one capability name: case-insensitive, with or without
// cap_, or its number.
func Parse(word string) (int, error) {
	w := strings.TrimPrefix(strings.ToLower(word), "cap_")
	last := Last()
	if n, err := strconv.Atoi(w); err == nil {
		if n < 0 || n > last {
			return 0, fmt.Errorf("capability %d does not exist: this kernel's go up to %d", n, last)
		}
		return n, nil
	}
	for c := 0; c <= knownLast; c++ {
		if moby.Cap(c).String() == w {
			if c > last {
				return 0, fmt.Errorf("%s is newer than this kernel (its last capability is %s)", Name(c), Name(last))
			}
			return c, nil
		}
	}
	var names []string
	for c := 0; c <= Last(); c++ {
		names = append(names, strings.TrimPrefix(Name(c), "cap_"))
	}
	return 0, fmt.Errorf("unknown capability %q%s: give a name such as net_raw or CAP_SYS_ADMIN, or all (`cap decode 0x%x` lists them)", word, near.Hint(strings.TrimPrefix(strings.ToLower(word), "cap_"), names), All())
}

// ParseList reads capability words into a mask; all is every one.
func ParseList(words []string) (uint64, error) {
	var m uint64
	for _, w := range words {
		for _, part := range strings.Split(w, ",") {
			if part == "" {
				continue
			}
			if strings.EqualFold(part, "all") {
				m |= All()
				continue
			}
			c, err := Parse(part)
			if err != nil {
				return 0, err
			}
			m |= 1 << uint(c)
		}
	}
	return m, nil
}

// Names lists the names in a mask, lowest first.
func Names(m uint64) []string {
	var out []string
	for c := 0; c < 64; c++ {
		if m&(1<<uint(c)) != 0 {
			out = append(out, Name(c))
		}
	}
	return out
}

// OCINames lists a mask as the runtime spec names capabilities:
// CAP_NET_RAW.
func OCINames(m uint64) []string {
	out := []string{}
	for _, n := range Names(m) {
		out = append(out, strings.ToUpper(n))
	}
	return out
}

// Decode is exactly what `capsh --decode=HEX` prints for the mask.
func Decode(m uint64) string {
	return fmt.Sprintf("0x%016x=%s", m, strings.Join(Names(m), ","))
}

// ParseHex reads a mask as capsh does: hexadecimal with or without 0x.
func ParseHex(w string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(w), "0x"), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("bad mask %q: give hexadecimal such as 0xa80425fb (from CapEff in /proc/PID/status)", w)
	}
	return v, nil
}
