package isolate

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"nsh/internal/kfile"
	"nsh/isolate/cgroup"
)

// ErrUntouchable says nsh never changes the process, whatever --force
// says.
var ErrUntouchable = errors.New("nsh never changes it, with or without --force")

// pfKthread is PF_KTHREAD in /proc/PID/stat's flags (include/linux/sched.h).
const pfKthread = 0x00200000

// Untouchable says why nsh never changes (signals, limits, moves) the
// process, or nil: the init of nsh's pid namespace, nsh itself, a kernel
// thread (prlimit on kthreadd stays for good where root lacks
// CAP_SYS_RESOURCE), or a helper of nsh's (this session's janitor, or any
// nsh's janitor, relay or stage: without its janitor a killed nsh leaves
// cgroups and layers behind).
func Untouchable(pid int) error {
	why := untouchable(pid)
	if why == "" {
		return nil
	}
	return fmt.Errorf("pid %d is %s: %w", pid, why, ErrUntouchable)
}

func untouchable(pid int) string {
	switch {
	case pid <= 1:
		return "the init of nsh's pid namespace (the machine's, or a stand-in's)"
	case pid == os.Getpid():
		return "nsh itself"
	case pid == cgroup.JanitorPid():
		return "nsh's janitor (it removes what nsh made when nsh is killed)"
	}
	comm, ppid, flags, err := readStat(pid)
	switch {
	case err != nil:
		return "a process whose /proc entry cannot be read (" + err.Error() + ")"
	case flags&pfKthread != 0:
		return "a kernel thread (" + comm + ")"
	case strings.HasPrefix(comm, "nsh:"):
		return "a helper of nsh's (" + comm + ")"
	case ppid == os.Getpid():
		return "nsh's own child, not one of the session's (" + comm + "): a helper of nsh's, or what a child left that nsh reaps; end it through the child that made it"
	}
	return ""
}

// readStat reads a process's name, parent and flags from /proc/PID/stat.
func readStat(pid int) (comm string, ppid int, flags uint64, err error) {
	b, err := kfile.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, 0, err
	}
	return parseStat(string(b))
}

// parseStat reads "PID (COMM) STATE PPID PGRP SESSION TTY TPGID FLAGS ...";
// COMM may hold spaces and parentheses, so it ends at the last ')'.
func parseStat(s string) (comm string, ppid int, flags uint64, err error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, 0, fmt.Errorf("unexpected /proc stat line %q", s)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 7 {
		return "", 0, 0, fmt.Errorf("unexpected /proc stat line %q", s)
	}
	ppid, err = strconv.Atoi(f[1])
	if err == nil {
		flags, err = strconv.ParseUint(f[6], 10, 64)
	}
	return s[open+1 : end], ppid, flags, err
}
