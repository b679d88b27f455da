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
#include <link.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

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

// populate_image maps the read-only part of nsh's image (code, read-only
// data, Go's tables) into the process in one madvise(MADV_POPULATE_READ)
// per segment, from the page cache: a start otherwise takes a page fault
// for each 64 KiB of it the kernel maps around a touched page, 80 of
// them a one-shot, at 8 to 20 us each on the machine of issue 35, and
// mapping the 6.5 MiB costs 0.15 to 0.25 ms there. Only these pages: the
// whole image, written pages too, was a loss when every spawn started
// the image again as its stage (bench/CHANGELOG.md); the stage is a clone
// now, whose own pages are its own. Nothing is read or written, so a
// kernel without MADV_POPULATE_READ (before 5.14) just refuses.
enum { image_ranges_max = 8 };
static struct {
	uintptr_t at;
	size_t len;
	int err;
} image_ranges[image_ranges_max]; // what was populated, for its test
static int nimage_ranges;

static int populate_image(struct dl_phdr_info *info, size_t size, void *unused)
{
	(void)size;
	(void)unused;
	for (int i = 0; i < info->dlpi_phnum && nimage_ranges < image_ranges_max; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		uintptr_t lo = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)4095;
		uintptr_t hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
		int err = madvise((void *)lo, hi - lo, MADV_POPULATE_READ) == 0 ? 0 : errno;
		image_ranges[nimage_ranges].at = lo;
		image_ranges[nimage_ranges].len = hi - lo;
		image_ranges[nimage_ranges++].err = err;
	}
	return 1; // the program itself comes first; nothing after it
}

// nsh_image_populated gives range i of those populate_image populated,
// and returns how many there are. For its test.
int nsh_image_populated(int i, uintptr_t *at, size_t *len, int *err)
{
	if (i >= 0 && i < nimage_ranges) {
		*at = image_ranges[i].at;
		*len = image_ranges[i].len;
		*err = image_ranges[i].err;
	}
	return nimage_ranges;
}

// go_start is what a process of nsh's image that goes on to run Go does
// before the runtime starts (the janitor never runs Go).
void nsh_populate_decide(void);
int nsh_populate_chosen(int *heap, long *trap);

static void go_start(void)
{
	nsh_populate_decide(); // heap.c: whether traps are dear here
	if (nsh_populate_chosen(NULL, NULL))
		dl_iterate_phdr(populate_image, NULL);
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
