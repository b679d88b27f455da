package isolate

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
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

// ProcessHostname is the hostname a process sees: its uts namespace's.
// uname(2) answers only for the caller's namespace, so one locked thread
// joins pid's, asks, and goes back; a thread that could not go back is
// not handed back to Go, and ends with its goroutine. pid must be one the
// caller verified is its own (a child it has not reaped).
func ProcessHostname(pid int) (string, error) {
	type answer struct {
		name string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		name, err := hostnameIn(pid)
		ch <- answer{name, err}
	}()
	a := <-ch
	return a.name, a.err
}

func hostnameIn(pid int) (string, error) {
	theirs, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/uts")
	if err != nil {
		return "", fmt.Errorf("read the hostname of pid %d: %w", pid, err)
	}
	defer theirs.Close()
	runtime.LockOSThread()
	mine, err := os.Open("/proc/thread-self/ns/uts")
	if err != nil {
		runtime.UnlockOSThread()
		return "", fmt.Errorf("read the hostname of pid %d: %w", pid, err)
	}
	defer mine.Close()
	if err := unix.Setns(int(theirs.Fd()), unix.CLONE_NEWUTS); err != nil {
		runtime.UnlockOSThread()
		return "", fmt.Errorf("read the hostname of pid %d: join its uts namespace: %w", pid, err)
	}
	var u unix.Utsname
	uerr := unix.Uname(&u)
	if err := unix.Setns(int(mine.Fd()), unix.CLONE_NEWUTS); err != nil {
		// Stays locked: the thread dies with this goroutine.
		return "", fmt.Errorf("read the hostname of pid %d: return to nsh's uts namespace: %w", pid, err)
	}
	runtime.UnlockOSThread()
	if uerr != nil {
		return "", fmt.Errorf("read the hostname of pid %d: %w", pid, uerr)
	}
	return unix.ByteSliceToString(u.Nodename[:]), nil
}
