// The child stage, and the constructor that runs before the Go runtime.
//
// The child stage is C that nsh runs in the new process straight after
// clone3 (clone.h), with no execve of nsh: it runs the program the parent
// sends on fd 3 (the steps Go planned in plan.go: mounts, hostname,
// pivot_root, sysctls, capabilities...) and execve's the command. Before
// the program it joins namespaces if asked (join.h): setns(2) into a
// mount namespace fails for a process that shares its filesystem
// information with other threads, and into a user namespace for any
// multithreaded process; the stage is a process of one thread, as runc's
// nsexec is after its clone.
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
//
// The constructor runs first in every process of nsh's image, while it
// still has one thread, and with _NSH_STAGE in the environment runs a
// helper instead of nsh:
//
//   _NSH_STAGE=janitor   remove the cgroups nsh made once nsh is gone
//                        (janitor.c; the protocol is in cgroup/janitor.go)
//   _NSH_STAGE=ttywatch  the terminal watcher, a stage in Go (tty.go)

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
#include <sys/resource.h>
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

#include "clone_args.h"

// The stage in parts, in the order each uses the ones before it.
#include "stage_io.h"
#include "relay.h"
#include "join.h"
#include "steps.h"
#include "in_root.h"
#include "hide.h"
#include "program.h"
#include "clone.h"


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
// before the runtime starts (the janitor never runs Go). It no longer
// maps the whole image ahead (madvise MADV_POPULATE_*): on the machine of
// issue 35 that cost more than the faults it saved, 6.9 ms of a 28.1 ms
// one-shot and 7.6 ms of a 20.1 ms nsh --version, in one interleaved run
// of 200 rounds (bench/CHANGELOG.md); a start faults in only the pages it
// touches.
static void go_start(void)
{
	go_thread_stacks();
	remember_nofile();
}

// program_invocation_name is argv[0]: glibc and musl both set it before
// they run constructors (only glibc passes main's arguments to them).
__attribute__((constructor)) static void nsh_stage(void)
{
	const char *stage = getenv("_NSH_STAGE");
	if (stage == NULL) {
		nsh_janitor_early(); // first: before Go's threads and heap exist
		go_start();
		return;
	}
	// A helper is what nsh itself started: the variable and the name nsh
	// gives it.
	const char *name = program_invocation_name ? program_invocation_name : "";
	if (strcmp(stage, "janitor") == 0 && strcmp(name, "nsh:janitor") == 0)
		nsh_janitor();
	if (strcmp(stage, "ttywatch") == 0 && strcmp(name, "nsh:[ttywatch]") == 0) {
		go_start();
		return; // a stage written in Go (tty.go)
	}
	// A _NSH_STAGE that came from elsewhere (a user's environment) is
	// dropped, and nsh runs as nsh.
	unsetenv("_NSH_STAGE");
	go_start();
}
