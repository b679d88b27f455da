package isolate

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Creds are a process's ids and capability sets, as seen inside its own
// user namespace.
type Creds struct {
	UID, GID    int
	Groups      []int
	Inheritable uint64
	Permitted   uint64
	Effective   uint64
	Bounding    uint64
	Ambient     uint64
	NoNewPrivs  bool
}

// ReadCreds reads /proc/PID/status. Ids there are as nsh sees them; with
// inside set they are translated into the process's own user namespace
// through its uid_map and gid_map.
func ReadCreds(pid int, inside bool) (*Creds, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	st, err := procStatus(pid)
	if err != nil {
		return nil, fmt.Errorf("read credentials of pid %d: %w", pid, err)
	}
	c := &Creds{}
	hex := func(key string) uint64 {
		v, _ := strconv.ParseUint(st[key], 16, 64)
		return v
	}
	if f := strings.Fields(st["Uid"]); len(f) > 1 {
		c.UID, _ = strconv.Atoi(f[1]) // effective
	}
	if f := strings.Fields(st["Gid"]); len(f) > 1 {
		c.GID, _ = strconv.Atoi(f[1])
	}
	for _, g := range strings.Fields(st["Groups"]) {
		n, _ := strconv.Atoi(g)
		c.Groups = append(c.Groups, n)
	}
	c.Inheritable, c.Permitted, c.Effective = hex("CapInh"), hex("CapPrm"), hex("CapEff")
	c.Bounding, c.Ambient = hex("CapBnd"), hex("CapAmb")
	c.NoNewPrivs = st["NoNewPrivs"] == "1"
	if inside {
		uids, err := readIDMap(dir + "/uid_map")
		if err != nil {
			return nil, err
		}
		gids, err := readIDMap(dir + "/gid_map")
		if err != nil {
			return nil, err
		}
		c.UID = uids.inside(c.UID)
		c.GID = gids.inside(c.GID)
		var groups []int
		for _, g := range c.Groups {
			if in := gids.inside(g); in != overflowID {
				groups = append(groups, in)
			}
		}
		c.Groups = groups
	}
	return c, nil
}

// OwnCreds are nsh's own credentials, read once: only a process itself
// changes its ids and capabilities, and nsh never changes its own (its
// children get theirs in the stage). Every spawn asks. Read-only.
var OwnCreds = sync.OnceValues(func() (*Creds, error) { return ReadCreds(os.Getpid(), false) })

const overflowID = 65534

type idMap [][3]int // inside, outside, count

func readIDMap(path string) (idMap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var m idMap
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e [3]int
		if n, _ := fmt.Sscan(line, &e[0], &e[1], &e[2]); n == 3 {
			m = append(m, e)
		}
	}
	return m, nil
}

func (m idMap) inside(outside int) int {
	for _, e := range m {
		if outside >= e[1] && outside < e[1]+e[2] {
			return outside - e[1] + e[0]
		}
	}
	return overflowID
}
