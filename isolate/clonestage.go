package isolate

// #include "clone_args.h"
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"nsh/internal/forkexec"

	"golang.org/x/sys/unix"
)

// stageClone is what a new child stage is made with (clone.h): the
// process attributes nsh uses of syscall.SysProcAttr, its descriptors and
// the namespaces it joins.
type stageClone struct {
	attr  *syscall.SysProcAttr
	files []*os.File // 0, 1, 2, the channel and the stage's other descriptors; nil is /dev/null
	// nsh's end of the channel: in a new user namespace the stage waits
	// on it for its id maps (clone.h).
	channel *os.File
	joins   []stageJoin
	// The target's root and working directory to take after joining,
	// as the stage's descriptor numbers; -1: none.
	root, cwd int
	// shareMemory: the stage may be made in nsh's memory, nsh's thread
	// waiting for its execve (clone.h; launch.sharesMemory says when).
	shareMemory bool
}

// stageJoin is one setns of the stage: a namespace file or pidfd by its
// descriptor number in the stage, and the namespaces it stands for.
type stageJoin struct{ fd, flags int }

// cloneStage makes the child stage: clone3 with the namespaces of attr,
// born in attr's cgroup, and in the new process the stage's C code, with
// no execve of nsh (clone.h). It returns the child's pid and sets
// *attr.PidFD. The caller holds the thread (Pdeathsig is the thread's).
func cloneStage(s *stageClone) (int, error) {
	attr := s.attr
	if len(s.files) > C.NSH_CLONE_MAX_FDS || len(s.joins) > C.NSH_CLONE_MAX_JOIN {
		return 0, fmt.Errorf("the child stage takes at most %d descriptors and %d namespaces to join", C.NSH_CLONE_MAX_FDS, C.NSH_CLONE_MAX_JOIN)
	}
	var a C.struct_nsh_clone_args
	a.flags = C.uint64_t(attr.Cloneflags)
	a.cgroup_fd = -1
	if attr.UseCgroupFD {
		a.cgroup_fd = C.int(attr.CgroupFD)
	}
	a.pdeathsig = C.int(attr.Pdeathsig)
	a.setsid, a.setctty, a.setpgid, a.foreground = cbool(attr.Setsid), cbool(attr.Setctty), cbool(attr.Setpgid), cbool(attr.Foreground)
	a.ctty = C.int(attr.Ctty)
	fds, done, err := forkexec.Descriptors(s.files)
	defer done()
	if err != nil {
		return 0, err
	}
	for i, fd := range fds {
		a.fds[i] = C.int(fd)
	}
	a.nfds = C.int(len(s.files))
	for i, j := range s.joins {
		a.join_fds[i], a.join_flags[i] = C.int(j.fd), C.int(j.flags)
	}
	a.njoin = C.int(len(s.joins))
	a.join_root, a.join_cwd = C.int(s.root), C.int(s.cwd)
	a.share_memory = cbool(s.shareMemory)
	a.pidfd = -1
	r := C.nsh_clone_stage(&a)
	if r < 0 {
		return 0, &os.SyscallError{Syscall: "clone3", Err: syscall.Errno(-r)}
	}
	pid := int(r)
	if err := writeIDMaps(pid, attr); err != nil {
		// Ours, just made, and not yet known to anyone: ended and
		// reaped here.
		unix.PidfdSendSignal(int(a.pidfd), unix.SIGKILL, nil, 0)
		unix.Close(int(a.pidfd))
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		return 0, err
	}
	if attr.Cloneflags&unix.CLONE_NEWUSER != 0 {
		if _, err := s.channel.Write([]byte{1}); err != nil {
			unix.Close(int(a.pidfd))
			return 0, fmt.Errorf("tell the child stage its id maps are written: %w", err)
		}
	}
	if attr.PidFD != nil {
		*attr.PidFD = int(a.pidfd)
	} else if a.pidfd >= 0 {
		unix.Close(int(a.pidfd))
	}
	return pid, nil
}

// sharedStages is how many stages were made in nsh's memory (clone.h).
// For tests.
func sharedStages() int64 { return int64(C.nsh_shared_stages()) }

// sharedStagePossible says whether stages may share nsh's memory on this
// architecture (clone.h). For tests.
func sharedStagePossible() bool { return C.nsh_shared_stage_possible() != 0 }

// stageForgetsGo says whether a stage is made without a copy of Go's
// memory: in a static nsh, as dev/build.sh links it (clone.h).
func stageForgetsGo() bool { return C.nsh_stage_forgets_go() != 0 }

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// writeIDMaps writes the child's id maps, as Go's own forkExec does for
// UidMappings and GidMappings: the stage waits for its program, which
// comes after them, before it does anything that needs an id.
func writeIDMaps(pid int, attr *syscall.SysProcAttr) error {
	if attr.UidMappings == nil && attr.GidMappings == nil {
		return nil
	}
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	write := func(name, text string) error {
		// O_WRONLY without O_CREAT or O_TRUNC: these files exist, and
		// take one write each.
		f, err := os.OpenFile(dir+name, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("write the child's %s: %w", name, err)
		}
		defer f.Close()
		if _, err := f.WriteString(text); err != nil {
			return fmt.Errorf("write the child's %s: %w", name, err)
		}
		return nil
	}
	if err := write("uid_map", idMapText(attr.UidMappings)); err != nil {
		return err
	}
	setgroups := "deny"
	if attr.GidMappingsEnableSetgroups {
		setgroups = "allow"
	}
	if err := write("setgroups", setgroups); err != nil {
		return err
	}
	return write("gid_map", idMapText(attr.GidMappings))
}

func idMapText(m []syscall.SysProcIDMap) string {
	var b strings.Builder
	for _, e := range m {
		fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return b.String()
}
