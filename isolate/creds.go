package isolate

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
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
	f, err := os.Open(dir + "/status")
	if err != nil {
		return nil, fmt.Errorf("read credentials of pid %d: %w", pid, err)
	}
	defer f.Close()
	c := &Creds{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		hex := func() uint64 {
			v, _ := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
			return v
		}
		switch key {
		case "Uid":
			c.UID, _ = strconv.Atoi(fields[1]) // effective
		case "Gid":
			c.GID, _ = strconv.Atoi(fields[1])
		case "Groups":
			for _, g := range fields {
				n, _ := strconv.Atoi(g)
				c.Groups = append(c.Groups, n)
			}
		case "CapInh":
			c.Inheritable = hex()
		case "CapPrm":
			c.Permitted = hex()
		case "CapEff":
			c.Effective = hex()
		case "CapBnd":
			c.Bounding = hex()
		case "CapAmb":
			c.Ambient = hex()
		case "NoNewPrivs":
			c.NoNewPrivs = strings.TrimSpace(val) == "1"
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read credentials of pid %d: %w", pid, err)
	}
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

// apply takes on the credentials, in runc's order: the bounding set while
// still privileged, keep capabilities across the change of ids, the ids,
// the capability sets, ambient last. It runs on the thread that will
// execve: capabilities are per thread.
func (c *Creds) apply(step func(string, ...any)) error {
	last := lastCap()
	for cp := 0; cp <= last; cp++ {
		if c.Bounding&(1<<uint(cp)) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(cp), 0, 0, 0); err != nil {
				return fmt.Errorf("prctl(PR_CAPBSET_DROP, %d): %w", cp, err)
			}
		}
	}
	step("prctl(PR_CAPBSET_DROP) down to bounding set %#016x", c.Bounding)
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", err)
	}
	groups := make([]int, len(c.Groups))
	copy(groups, c.Groups)
	// setgroups is denied in a user namespace whose gid_map was written
	// without privilege; the groups then stay as they are.
	if err := syscall.Setgroups(groups); err != nil && err != syscall.EPERM {
		return fmt.Errorf("setgroups(%v): %w", groups, err)
	}
	step("setresgid(%d), setresuid(%d)", c.GID, c.UID)
	if err := syscall.Setresgid(c.GID, c.GID, c.GID); err != nil {
		return fmt.Errorf("setresgid(%d): %w", c.GID, err)
	}
	if err := syscall.Setresuid(c.UID, c.UID, c.UID); err != nil {
		return fmt.Errorf("setresuid(%d): %w", c.UID, err)
	}
	unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
	step("capset(eff=%#x, prm=%#x, inh=%#x)", c.Effective, c.Permitted, c.Inheritable)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(c.Effective), Permitted: uint32(c.Permitted), Inheritable: uint32(c.Inheritable)},
		{Effective: uint32(c.Effective >> 32), Permitted: uint32(c.Permitted >> 32), Inheritable: uint32(c.Inheritable >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	for cp := 0; cp <= last; cp++ {
		if c.Ambient&(1<<uint(cp)) != 0 {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(cp), 0, 0); err != nil {
				return fmt.Errorf("prctl(PR_CAP_AMBIENT_RAISE, %d): %w", cp, err)
			}
		}
	}
	if c.NoNewPrivs {
		step("prctl(PR_SET_NO_NEW_PRIVS, 1)")
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
		}
	}
	return nil
}
