package isolate

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// NSLinks are the entries of /proc/PID/ns, in the order ls shows them.
var NSLinks = []string{"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts"}

// NSEntry is one namespace a process is in.
type NSEntry struct {
	Link  string // "uts", "pid_for_children", ...
	Inode uint64 // 0 when it cannot be read (e.g. pid_for_children before the first fork)
}

// ProcessNamespaces reads /proc/PID/ns of a process; pid 0 means nsh itself.
func ProcessNamespaces(pid int) ([]NSEntry, error) {
	dir := "/proc/self/ns"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/ns"
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("read namespaces of pid %d: %w", pid, err)
	}
	var out []NSEntry
	for _, l := range NSLinks {
		target, err := os.Readlink(dir + "/" + l)
		if err != nil {
			if os.IsNotExist(err) {
				continue // an older kernel without this type
			}
			out = append(out, NSEntry{Link: l})
			continue
		}
		ino, err := parseNSLink(target)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", dir, l, err)
		}
		out = append(out, NSEntry{Link: l, Inode: ino})
	}
	return out, nil
}

// parseNSLink turns "uts:[4026531838]" into 4026531838.
func parseNSLink(target string) (uint64, error) {
	_, rest, ok := strings.Cut(target, ":[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return 0, fmt.Errorf("unexpected namespace link %q", target)
	}
	return strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
}
