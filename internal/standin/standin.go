// Package standin runs a package's tests below a stand-in PID 1: the test
// binary re-executes itself as the first process of a new pid namespace
// (with a private mount namespace and a /proc of its own), which starts
// the tests as its child and reaps orphans as init does. nsh acts on
// pids; a bug that takes a pid from the wrong namespace (it once moved
// the host's init into a child's cgroup) then reaches the stand-in, never
// the machine's PID 1, and Changed reports it so the test fails.
//
// Without root (or where the kernel refuses the namespaces) the tests run
// as they are: a non-root process cannot move or signal PID 1 anyway.
package standin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const env = "NSHTEST_STANDIN"

// Enter is called first in TestMain. Outside the stand-in's namespace it
// runs the whole test binary below a stand-in and exits with its status;
// inside it returns.
func Enter() {
	switch os.Getenv(env) {
	case "inside":
		return
	case "init":
		os.Exit(beInit())
	}
	if os.Geteuid() != 0 {
		return
	}
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: os.Args} // argv[0] names the binary (testscript)
	cmd.Env = append(os.Environ(), env+"=init")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS,
		Pdeathsig:  unix.SIGKILL,
	}
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "standin: cannot start the tests below a stand-in PID 1 (%v); running them as they are\n", err)
		return
	}
	os.Exit(0)
}

// beInit is the stand-in: PID 1 of the new pid namespace. Its mounts are
// its own (private), so the fresh /proc never reaches the host.
func beInit() int {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Fprintf(os.Stderr, "standin: make mounts private: %v\n", err)
		return 1
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		fmt.Fprintf(os.Stderr, "standin: mount /proc: %v\n", err)
		return 1
	}
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: os.Args} // argv[0] names the binary (testscript)
	cmd.Env = append(os.Environ(), env+"=inside")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "standin: start the tests: %v\n", err)
		return 1
	}
	// As init: reap every orphan, until the tests end.
	status := -1
	for status < 0 {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 1
		}
		if pid != cmd.Process.Pid {
			continue
		}
		switch {
		case ws.Exited():
			status = ws.ExitStatus()
		case ws.Signaled():
			status = 128 + int(ws.Signal())
		}
	}
	// When init exits, the kernel kills everything left in its pid
	// namespace, nsh's janitors too, before they have removed what a
	// killed nsh left: so init stays until they are done.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.ECHILD {
			break
		}
		if pid == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return status
}

// Active says whether the tests run below a stand-in.
func Active() bool { return os.Getenv(env) == "inside" && os.Getpid() != 1 }

// state is what nsh may never change of the stand-in: its cgroups, its
// namespaces and its credentials.
func state() string {
	var b strings.Builder
	cg, _ := os.ReadFile("/proc/1/cgroup")
	b.Write(cg)
	links, _ := filepath.Glob("/proc/1/ns/*")
	sort.Strings(links)
	for _, l := range links {
		t, _ := os.Readlink(l)
		fmt.Fprintf(&b, "%s %s\n", filepath.Base(l), t)
	}
	st, _ := os.ReadFile("/proc/1/status")
	for _, l := range strings.Split(string(st), "\n") {
		for _, k := range []string{"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:"} {
			if strings.HasPrefix(l, k) {
				b.WriteString(l + "\n")
			}
		}
	}
	return b.String()
}

var initial string

// Record notes the stand-in's state; Changed compares with it.
func Record() {
	if Active() {
		initial = state()
	}
}

// Changed says how the stand-in PID 1 changed since Record ("" if not).
func Changed() string {
	if !Active() || initial == "" {
		return ""
	}
	now := state()
	if now == initial {
		return ""
	}
	return fmt.Sprintf("the stand-in PID 1 changed:\nbefore:\n%safter:\n%s", initial, now)
}

// Main is a package's whole TestMain: the tests below a stand-in, failed
// if it changed.
func Main(m interface{ Run() int }) {
	Enter()
	os.Exit(M{Tests: m}.Run())
}

// M wraps a testing.M: its Run records the stand-in, runs the tests and
// fails them if the stand-in changed.
type M struct {
	Tests interface{ Run() int }
}

func (m M) Run() int {
	Record()
	code := m.Tests.Run()
	if d := Changed(); d != "" {
		fmt.Fprintln(os.Stderr, "FAIL: "+d)
		return 1
	}
	return code
}
