//go:build floorcgo

// Built with this file (go build -tags floorcgo, static, as nsh is), the
// floor is linked as the brief's design makes nsh: a C constructor that
// runs before the Go runtime. Its stage-* modes also have the design's
// child stage: the child re-executes the floor, whose constructor moves
// itself into its v1 cgroups and mounts a fresh /proc, as nsh's stage does
// for a new pid and mount namespace, and executes the command without
// ever starting Go. Its cchild-* modes have the child stage nsh has now:
// no re-exec, the child runs C straight after clone3 (floor_clone, below:
// it places itself in its v1 cgroups, mounts a fresh /proc and executes
// the command). That is the fastest Go program doing what the design
// requires, which nsh's ratios can be read against.

package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../isolate
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdint.h>
#include <sched.h>

struct floor_kclone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

// floor_clone: clone3 into the cgroup (cgfd >= 0) with the namespaces,
// and in the child, C only: 0 to each v1 tasks file, a private / and a
// fresh /proc, execv. Go's signal handlers are left as they are (a
// floor's shortcut: nsh resets them, an execve would): the child blocks
// every signal until its execve instead. argv is C memory.
static long floor_clone(int flags, int cgfd, int *place, int nplace, char **argv)
{
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	struct floor_kclone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = (uint64_t)(unsigned)flags;
	ca.exit_signal = SIGCHLD;
	if (cgfd >= 0) {
		ca.flags |= 0x200000000ULL; // CLONE_INTO_CGROUP
		ca.cgroup = (uint64_t)cgfd;
	}
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0) {
		for (int i = 0; i < nplace; i++)
			if (write(place[i], "0", 1) != 1)
				_exit(126);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
			_exit(126);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execv(argv[0], argv);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

// The command comes in _FLOOR_STAGE, its words split by \x1f: musl,
// unlike glibc, passes a constructor no arguments.
__attribute__((constructor)) static void floor_stage(void)
{
	char *words = getenv("_FLOOR_STAGE");
	if (words == NULL)
		return; // a Go start, as nsh's: nothing mapped ahead
	char *argv[64];
	int n = 0;
	for (char *w = words; w != NULL && n < 63;) {
		argv[n++] = w;
		w = strchr(w, 0x1f);
		if (w != NULL)
			*w++ = 0;
	}
	argv[n] = NULL;
	const char *place = getenv("_FLOOR_PLACE");
	for (int i = 0, np = place ? atoi(place) : 0; i < np; i++) {
		if (write(3 + i, "0", 1) != 1)
			_exit(126);
		close(3 + i);
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}
*/
import "C"

import (
	"os"
	"unsafe"
)

func init() {
	stageAvailable = true
	cloneChild = cClone
}

// cClone starts cmd through floor_clone and returns its pid.
func cClone(flags uintptr, cgfd int, place []*os.File, cmd []string) (int, error) {
	argv := make([]*C.char, len(cmd)+1)
	for i, w := range cmd {
		argv[i] = C.CString(w)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	cargv := (**C.char)(C.malloc(C.size_t(len(argv)) * C.size_t(unsafe.Sizeof(argv[0]))))
	defer C.free(unsafe.Pointer(cargv))
	copy(unsafe.Slice(cargv, len(argv)), argv)
	fds := (*C.int)(C.malloc(C.size_t(len(place)+1) * C.size_t(unsafe.Sizeof(C.int(0)))))
	defer C.free(unsafe.Pointer(fds))
	for i, f := range place {
		unsafe.Slice(fds, len(place))[i] = C.int(f.Fd())
	}
	pid, err := C.floor_clone(C.int(flags), C.int(cgfd), fds, C.int(len(place)), cargv)
	if pid < 0 {
		return 0, err
	}
	return int(pid), nil
}
