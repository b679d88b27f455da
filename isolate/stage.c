// The child stage, and joining namespaces, before the Go runtime starts.
//
// nsh re-executes itself (/proc/self/exe) to make a child; this
// constructor runs first in the new process, while it still has one
// thread, when _NSH_STAGE is in the environment:
//
//   _NSH_STAGE=janitor  remove the cgroups nsh made once nsh is gone
//                       (janitor.c; the protocol is in cgroup/janitor.go)
//   _NSH_STAGE=init     the child stage: join namespaces if asked (below),
//                       then run the program the parent sends on fd 3 (the
//                       steps Go planned in plan.go: mounts, hostname,
//                       pivot_root, sysctls, capabilities...) and execve
//                       the command. The Go runtime never starts here, so a
//                       spawn costs one exec of nsh, not a second Go start.
//
// Joining: setns(2) into a mount namespace fails for a process that shares
// its filesystem information with other threads, and into a user namespace
// for any multithreaded process; a Go program has several threads before
// main runs. So, as runc's nsexec does, the stage joins first:
//
//   _NSH_SETNS=FD:FLAGS[,FD:FLAGS...]  setns(FD, FLAGS) for each; FD is a
//                                      namespace file or a pidfd
//   _NSH_SETNS_ROOT=FD                 then fchdir(FD) and chroot(".")
//   _NSH_SETNS_CWD=FD                  then fchdir(FD)
//
// Namespaces other than user are joined first: once in a new user
// namespace, the process has lost its privileges over namespaces owned by
// the old one; those it may join only as the owner of the user namespace
// are joined after it (nsenter's two passes). A pidfd with several flags
// is joined in one atomic call.
// Joining a pid namespace affects only children, so the stage then forks:
// the child goes on, the parent stays behind as a small relay that passes
// on signals and the child's status (like nsenter's fork). Messages go to
// fd 3 as JSON lines, the protocol of protocol.go.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdint.h>
#include <dirent.h>
#include <net/if.h>
#include <limits.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define NSH_STAGE_FD 3
#define MAX_JOIN 16

// The stage in parts, in the order each uses the ones before it.
#include "stage_io.h"
#include "relay.h"
#include "join.h"
#include "steps.h"
#include "in_root.h"
#include "hide.h"
#include "program.h"


// The janitor is a program of its own (janitor.c).
void nsh_janitor(void);
void nsh_janitor_early(void);

// go_thread_stacks gives the threads Go starts 2 MiB stacks (musl's own
// default is 128 KiB): cgo calls run there, and libseccomp compiles
// filters there. Asked for here, by the process that goes on to run Go,
// rather than linked in (-z stack-size), which makes musl write its
// default at the start of every process, the child stage and the janitor
// too: a copy-on-write fault each (dev/toolchain.sh).
static void go_thread_stacks(void)
{
	pthread_attr_t a;
	if (pthread_attr_init(&a) != 0)
		return;
	if (pthread_attr_setstacksize(&a, 2 << 20) == 0)
		pthread_setattr_default_np(&a);
	pthread_attr_destroy(&a);
}

// go_start is what a process of nsh's image that goes on to run Go does
// before the runtime starts (the stage and the janitor never run Go). It
// no longer maps the whole image ahead (madvise MADV_POPULATE_*): on the
// machine of issue 35 that cost more than the faults it saved, 6.9 ms of
// a 28.1 ms one-shot and 7.6 ms of a 20.1 ms nsh --version, in one
// interleaved run of 200 rounds (bench/CHANGELOG.md); a start faults in
// only the pages it touches.
static void go_start(void)
{
	go_thread_stacks();
}

// is_socket says whether fd is a socket: the init stage's channel is.
static int is_socket(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

// program_invocation_name is argv[0]: glibc and musl both set it before
// they run constructors (only glibc passes main's arguments to them).
__attribute__((constructor)) static void nsh_stage(void)
{
	const char *stage = getenv("_NSH_STAGE");
	if (stage == NULL) {
		nsh_janitor_early(); // first: a fork copies least before the image is mapped
		go_start();
		return;
	}
	// A stage is what nsh itself started: the variable, the name nsh
	// gives it and its channel. A _NSH_STAGE that came from elsewhere
	// (a user's environment) is dropped, and nsh runs as nsh.
	const char *name = program_invocation_name ? program_invocation_name : "";
	if (strcmp(stage, "janitor") == 0 && strcmp(name, "nsh:janitor") == 0)
		nsh_janitor();
	if (strcmp(stage, "ttywatch") == 0 && strcmp(name, "nsh:[ttywatch]") == 0) {
		go_start();
		return; // a stage written in Go (tty.go)
	}
	if (strcmp(stage, "init") != 0 || strcmp(name, "nsh:[init]") != 0 || !is_socket(NSH_STAGE_FD)) {
		unsetenv("_NSH_STAGE");
		go_start();
		return;
	}
	unsetenv("_NSH_STAGE");
	// Non-dumpable before anything else, as runc's nsexec is: a process
	// of the child (or of an entered one) that sees this stage in /proc
	// cannot open its /proc/PID/exe (nsh's binary, CVE-2019-5736), its
	// memory or its descriptors. execve of the command makes it dumpable
	// again, as the command needs.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	stage_parent = getppid();
	prctl(PR_SET_NAME, "nsh:init", 0, 0, 0);
	// The command must not inherit the channel; on a successful execve
	// its closing tells the parent that all went well.
	fcntl(NSH_STAGE_FD, F_SETFD, FD_CLOEXEC);
	join_namespaces();
	run_program();
}
