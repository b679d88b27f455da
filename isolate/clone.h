/* Making the child stage: clone3, then the stage's C code in the new
 * process, with no execve of nsh in between.
 * Part of the child stage: stage.c includes it into one translation unit.
 *
 * The new process is a copy of nsh, a multithreaded process, of which
 * only the calling thread goes on. So the child runs no Go and no libc
 * function that takes a lock another thread may have held at the clone
 * (malloc, fork, stdio's shared state, anything on musl's thread list);
 * only system calls and functions of its own memory (snprintf into a
 * buffer, strtol). It never returns from nsh_clone_stage: it ends in the
 * command's execve or in _exit.
 *
 * What an execve did for the stage before, the child does itself: signal
 * handlers Go installed go back to their defaults (ignored ones stay
 * ignored), every descriptor but the ones passed is closed, and it is
 * not dumpable. And what it must not have, it does not get: Go's memory
 * is marked MADV_DONTFORK (not_for_the_child, in nsh as dev/build.sh links
 * it), so the child has no copy of nsh's data (a pair token, another
 * child's plan) and nsh pays neither for copying it nor for the
 * copy-on-write faults of its own next writes to it.
 *
 * Where nsh has nothing to do until the command's execve, the stage is
 * no copy at all but runs in nsh's memory, nsh's thread suspended, as
 * posix_spawn's children do: see "A stage that shares nsh's memory". */
#ifndef NSH_CLONE_H
#define NSH_CLONE_H

#include "clone_args.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif

// The kernel's struct clone_args, as clone3(2) documents it.
struct nsh_kclone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

// The kernel's struct sigaction (rt_sigaction(2)), not libc's: musl
// refuses the signals it keeps for itself, which Go may still handle.
struct nsh_ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

// RLIMIT_NOFILE as nsh started with it: Go raises the soft limit to the
// hard one at start and gives children the original back (its own
// forkExec did, for the stage), as a process nsh runs expects.
static struct rlimit nofile_at_start;
static int nofile_known;

static void remember_nofile(void)
{
	nofile_known = getrlimit(RLIMIT_NOFILE, &nofile_at_start) == 0;
}

// hex reads a hexadecimal number from *p up to a byte that is not one.
static uintptr_t hex(const char **p)
{
	uintptr_t v = 0;
	for (;; (*p)++) {
		char c = **p;
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return v;
		v = v << 4 | (uintptr_t)d;
	}
}

extern char end[];                                // the linker's: the end of the binary's data and bss
extern ElfW(Dyn) _DYNAMIC[] __attribute__((weak)); // there in a dynamically linked binary only (declared as <link.h> does)

// not_for_the_child marks MADV_DONTFORK the private anonymous mappings the
// stage does not need: Go's heap and goroutine stacks, the runtime's own
// mappings, other threads' stacks. A copy of them would cost nsh a
// copy-on-write fault on each page it writes while the stage runs
// (hundreds: on this project's VM more than the execve of nsh this
// replaces), and would hand the stage a copy of nsh's data.
//
// Kept: all up to the binary's end (its data and bss, the stage's static
// memory and musl's), an anonymous mapping right after a file's (a bss),
// the brk heap, and the mappings of this thread's stack and of its
// thread pointer (TLS: errno). That is all the stage touches in nsh as
// dev/build.sh links it: static, with musl. A dynamically linked nsh
// (plain go build, go test) keeps everything: its loader and libc keep
// state in anonymous memory of their own (the loader's link maps), which
// a call through the PLT reads. Go randomises its heap's address (Go
// 1.26), so the mappings are read from /proc/self/maps each time.
static void not_for_the_child(void)
{
	if (_DYNAMIC)
		return;
	char here;
	uintptr_t sp = (uintptr_t)&here, tp = (uintptr_t)pthread_self(), bin_end = (uintptr_t)end;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[16384];
	size_t have = 0;
	uintptr_t after_file = 0; // the end of the last file mapping
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			// START-END PERMS OFFSET DEV INODE [PATH]
			const char *p = line;
			uintptr_t lo = hex(&p);
			p++;
			uintptr_t hi = hex(&p);
			p++;
			int rw = p[0] == 'r' && p[1] == 'w' && p[3] == 'p';
			int file = strchr(p, '/') != NULL, special = strchr(p, '[') != NULL;
			int mine = (sp >= lo && sp < hi) || (tp >= lo && tp < hi);
			if (mine) // marked when another thread made a stage: kept now
				madvise((void *)lo, hi - lo, MADV_DOFORK);
			else if (rw && !file && !special && lo >= bin_end && lo != after_file)
				madvise((void *)lo, hi - lo, MADV_DONTFORK);
			if (file)
				after_file = hi;
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		memmove(buf, line, have);
	}
	close(fd);
}

// nsh_stage_forgets_go says whether the stage is made without a copy of
// Go's memory (not_for_the_child): in a static nsh. For its test.
int nsh_stage_forgets_go(void)
{
	return _DYNAMIC == NULL;
}

// default_signal_handlers does what an execve would: a handler goes back
// to the default, an ignored signal stays ignored. One call each (set
// and read back the old), a second only for an ignored one; every signal
// is blocked meanwhile. For kernels before 5.5: later ones do the same in
// clone3 itself (CLONE_CLEAR_SIGHAND), without 62 system calls.
static void default_signal_handlers(void)
{
	struct nsh_ksigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.handler = SIG_DFL;
	for (int sig = 1; sig <= 64; sig++) {
		struct nsh_ksigaction old;
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, &dfl, &old, 8) == 0 && old.handler == SIG_IGN)
			syscall(SYS_rt_sigaction, sig, &old, NULL, 8);
	}
}

// close_from closes every descriptor from fd up.
static void close_from(int from)
{
	if (syscall(SYS_close_range, from, ~0U, 0) == 0)
		return;
	// Kernels before 5.9: the directory by hand (opendir allocates).
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return;
	char buf[4096];
	for (;;) {
		long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long at = 0; at < n;) {
			struct dirent *e = (struct dirent *)(buf + at); // musl's is linux_dirent64's layout
			at += e->d_reclen;
			int fd = atoi(e->d_name);
			if (e->d_name[0] != '.' && fd >= from && fd != dir)
				close(fd);
		}
	}
	close(dir);
}

// clone_child is the new process: it arranges what nsh gave it, then
// runs the stage. Nothing is written to nsh before fd 3 is the channel.
static void clone_child(const struct nsh_clone_args *a, pid_t parent, const sigset_t *mask, int handlers_cleared)
{
	// Non-dumpable before anything else, as runc's nsexec is: a process
	// of the child (or of an entered one) that sees this stage in /proc
	// cannot open its /proc/PID/exe (nsh's binary, CVE-2019-5736), its
	// memory or its descriptors. execve of the command makes it dumpable
	// again, as the command needs. In a new user namespace, once nsh has
	// written its id maps (below): a non-dumpable process's
	// /proc/PID/uid_map is root's, and nsh without root could not write
	// it. Until then no process but the stage is in its namespaces.
	int new_user = (a->flags & CLONE_NEWUSER) != 0;
	// A stage in nsh's memory (below) makes nsh non-dumpable with it
	// (the flag is the memory's), until nsh is back from the clone.
	if (!new_user)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	// RLIMIT_NOFILE back as nsh started with it, by the stage itself:
	// nsh no longer does it after the clone, so the program may be in
	// the socket before the stage runs (launch.sendAhead). Lowering one's
	// own soft limit needs no privilege, in any user namespace; the raw
	// call, as musl's setrlimit would stop every thread it thinks nsh has.
	if (nofile_known)
		syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &nofile_at_start, NULL);
	if (!handlers_cleared)
		default_signal_handlers();
	if (a->pdeathsig) {
		prctl(PR_SET_PDEATHSIG, a->pdeathsig, 0, 0, 0);
		// nsh died before the signal was armed. In a new pid namespace
		// the parent is outside it and getppid() is 0: the channel's end
		// of file ends the stage instead.
		if (!(a->flags & CLONE_NEWPID) && getppid() != parent)
			_exit(1);
	}
	// The descriptors nsh passed become 0, 1, 2, 3...: first each above
	// them all, so that none overwrites one still to be moved.
	int tmp[NSH_CLONE_MAX_FDS];
	for (int i = 0; i < a->nfds; i++)
		if ((tmp[i] = fcntl(a->fds[i], F_DUPFD_CLOEXEC, a->nfds)) < 0)
			_exit(126);
	// 0, 1 and 2 are the command's; from 3 on they are the stage's
	// alone, and close on exec: the channel's end of file tells nsh
	// that the command's execve succeeded.
	for (int i = 0; i < a->nfds; i++)
		if (dup3(tmp[i], i, i >= NSH_STAGE_FD ? O_CLOEXEC : 0) < 0)
			_exit(126);
	close_from(a->nfds);
	if (new_user) {
		// nsh says when the maps are written: before the stage joins
		// anything, so that nothing it joins sees it dumpable.
		char written;
		if (read_full(NSH_STAGE_FD, &written, 1) < 0)
			_exit(1);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	if (a->setsid && setsid() < 0)
		die(errno, "setsid");
	if ((a->setpgid || a->foreground) && setpgid(0, 0) < 0)
		die(errno, "setpgid");
	if (a->foreground) {
		// With every signal still blocked: a background group's
		// TIOCSPGRP would otherwise stop it with SIGTTOU.
		pid_t pgrp = getpid();
		if (ioctl(a->ctty, TIOCSPGRP, &pgrp) < 0)
			die(errno, "make the child's group the terminal's foreground (TIOCSPGRP)");
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, mask, NULL, 8);
	if (a->setctty && ioctl(a->ctty, TIOCSCTTY, 1) < 0)
		die(errno, "take the terminal as the child's controlling terminal (TIOCSCTTY)");
	stage_parent = getppid();
	prctl(PR_SET_NAME, "nsh:init", 0, 0, 0);
	join_namespaces(a);
	run_program();
}

// A stage that shares nsh's memory.
//
// Made as the others are, a stage is a copy of nsh: clone3 copies nsh's
// page tables (what not_for_the_child leaves), nsh then takes a
// copy-on-write fault for each page it writes while the copy lives, and
// the stage's execve tears the copy down again. Where nsh has nothing to
// do between the clone and the command's execve (the whole program is in
// the socket already, no id maps, no relay, no step nsh must show, no
// namespace joined: launch.sharesMemory), the stage is made as
// posix_spawn makes a child instead: CLONE_VM|CLONE_VFORK, on a stack of
// its own, with nsh's calling thread suspended until the execve (or the
// stage's exit). Go's other threads go on meanwhile; the stage touches
// only its stack, its static memory (one stage at a time: the mutex is
// held until the execve) and its own thread's TLS, and maps nothing (a
// program that would need more than stage_mem is not sent this way).
// It is non-dumpable from its first instruction, as a copy is: the flag
// is the memory's, so nsh is too until the stage's execve, when nsh sets
// it back (launch.sharesMemory asks for a shared stage only where nsh
// runs as root, whose own /proc files that leaves readable).
//
// clone3 with a new stack returns in the child on that stack, where no
// C function's frame is: the child's first instructions are ours
// (x86-64 only; elsewhere every stage is a copy).
#if defined(__x86_64__)
static long clone3_on_stack(struct nsh_kclone_args *ca, void (*fn)(void *), void *arg)
{
	register void (*r12)(void *) __asm__("r12") = fn;
	register void *r13 __asm__("r13") = arg;
	long ret = SYS_clone3;
	__asm__ volatile("syscall\n\t"
			 "testq %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xorl %%ebp, %%ebp\n\t"
			 "movq %%r13, %%rdi\n\t"
			 "callq *%%r12\n\t"
			 "movl $60, %%eax\n\t" // SYS_exit, should fn return
			 "movl $127, %%edi\n\t"
			 "syscall\n\t"
			 "hlt\n\t"
			 "1:\n\t"
			 : "+a"(ret)
			 : "D"(ca), "S"(sizeof *ca), "r"(r12), "r"(r13)
			 : "rcx", "r11", "memory");
	return ret;
}
#define NSH_SHARED_STAGE 1
#else
#define NSH_SHARED_STAGE 0
#endif

// As large as the stack a copy runs on (a thread of Go's: go_thread_stacks
// in stage.c): in_root.h follows up to 40 links a level at a time, 16 KiB
// a level. Only what the stage touches is ever resident.
enum { shared_stack_size = 2 << 20 };
static char *shared_stack; // its lowest byte, above a guard page; made once
static long shared_stages; // how many were made, for the tests

struct shared_start {
	const struct nsh_clone_args *a;
	pid_t parent;
	const sigset_t *mask;
	int cleared;
};

static void shared_child(void *p)
{
	const struct shared_start *s = p;
	clone_child(s->a, s->parent, s->mask, s->cleared);
}

// nsh_shared_stage_possible says whether stages may share nsh's memory
// here (x86-64). For tests.
int nsh_shared_stage_possible(void)
{
	return NSH_SHARED_STAGE;
}

// nsh_shared_stages is how many stages shared nsh's memory. For tests.
long nsh_shared_stages(void)
{
	return __atomic_load_n(&shared_stages, __ATOMIC_RELAXED);
}

// nsh_clone_stage makes the child stage as in, and returns its pid (the
// kernel's, in nsh's pid namespace) with its pidfd in in->pidfd, or
// -errno. in is copied first: the child reads nothing of Go's memory.
long nsh_clone_stage(struct nsh_clone_args *in)
{
	struct nsh_clone_args a = *in;
	if (a.nfds < NSH_STAGE_FD + 1 || a.nfds > NSH_CLONE_MAX_FDS || a.njoin > NSH_CLONE_MAX_JOIN)
		return -EINVAL;
	// One stage at a time: a thread's stack is another thread's to mark
	// until that thread makes a stage of its own.
	static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&one);
	if (a.share_memory && !shared_stack && NSH_SHARED_STAGE) {
		char *m = mmap(NULL, shared_stack_size + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED && mprotect(m, 4096, PROT_NONE) == 0)
			shared_stack = m + 4096;
	}
	if (!shared_stack || !NSH_SHARED_STAGE)
		a.share_memory = 0;
	if (!a.share_memory)
		not_for_the_child();
	sigset_t all, old;
	sigfillset(&all);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
	pid_t parent = getpid();
	int pidfd = -1;
	struct nsh_kclone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = a.flags | CLONE_PIDFD;
	ca.pidfd = (uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	if (a.cgroup_fd >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)a.cgroup_fd;
	}
	ca.flags |= CLONE_CLEAR_SIGHAND;
	long pid;
	int cleared = 1, err = 0;
#if NSH_SHARED_STAGE
	if (a.share_memory) {
		ca.flags |= CLONE_VM | CLONE_VFORK;
		ca.stack = (uintptr_t)shared_stack;
		ca.stack_size = shared_stack_size;
		struct shared_start st = {&a, parent, &old, 1};
		int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		pid = clone3_on_stack(&ca, shared_child, &st);
		if (pid == -EINVAL) { // before Linux 5.5
			ca.flags &= ~CLONE_CLEAR_SIGHAND;
			st.cleared = 0;
			pid = clone3_on_stack(&ca, shared_child, &st);
		}
		if (dumpable == 1) // the stage made it 0, where it ran
			prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		if (pid < 0) {
			err = (int)-pid;
			pid = -1;
		} else
			__atomic_add_fetch(&shared_stages, 1, __ATOMIC_RELAXED);
	} else
#endif
	{
		pid = syscall(SYS_clone3, &ca, sizeof ca);
		if (pid < 0 && errno == EINVAL) { // before Linux 5.5
			ca.flags &= ~CLONE_CLEAR_SIGHAND;
			cleared = 0;
			pid = syscall(SYS_clone3, &ca, sizeof ca);
		}
		if (pid == 0)
			clone_child(&a, parent, &old, cleared); // does not return
		err = errno;
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
	pthread_mutex_unlock(&one);
	if (pid < 0)
		return -err;
	in->pidfd = pidfd;
	return pid;
}

#endif
