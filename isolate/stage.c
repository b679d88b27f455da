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
#include "prefault.h"
#include "hide.h"

#define NSH_STAGE_FD 3
#define MAX_JOIN 16

static void send_line(const char *line)
{
	size_t len = strlen(line), off = 0;
	while (off < len) {
		ssize_t n = write(NSH_STAGE_FD, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += n;
	}
}

// Messages hold only names and numbers, so no JSON escaping is needed.
static void step(const char *fmt, ...)
{
	char text[512], line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	snprintf(line, sizeof line, "{\"step\":\"%s\"}\n", text);
	send_line(line);
}

static void die(int err, const char *fmt, ...)
{
	char text[512], line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	snprintf(line, sizeof line, "{\"error\":\"%s\",\"errno\":%d}\n", text, err);
	send_line(line);
	_exit(1);
}

static const struct {
	int flag;
	const char *name;
} ns_flags[] = {
	{CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {CLONE_NEWIPC, "CLONE_NEWIPC"},
	{CLONE_NEWNS, "CLONE_NEWNS"},         {CLONE_NEWNET, "CLONE_NEWNET"},
	{CLONE_NEWPID, "CLONE_NEWPID"},       {0x00000080 /* CLONE_NEWTIME */, "CLONE_NEWTIME"},
	{CLONE_NEWUSER, "CLONE_NEWUSER"},     {CLONE_NEWUTS, "CLONE_NEWUTS"},
};

static void flag_names(int flags, char *buf, size_t size)
{
	buf[0] = '\0';
	if (flags == 0) {
		snprintf(buf, size, "0");
		return;
	}
	for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++) {
		if (flags & ns_flags[i].flag) {
			if (buf[0])
				strncat(buf, "|", size - strlen(buf) - 1);
			strncat(buf, ns_flags[i].name, size - strlen(buf) - 1);
		}
	}
}

static int env_fd(const char *name)
{
	const char *v = getenv(name);
	return v ? atoi(v) : -1;
}

static pid_t relay_child;

static void relay_signal(int sig)
{
	if (relay_child > 0)
		kill(relay_child, sig);
}

// stage_parent is nsh, as the stage saw it when it started.
static pid_t stage_parent;

// The guard: a relay for a child with neither a cgroup nor a pid
// namespace of its own. Nothing of the kernel's would end what such a
// child leaves behind if nsh were killed outright (a command whose file
// capabilities clear the parent-death signal, a setsid grandchild), so
// the relay stays its parent and its subreaper, takes a catchable signal
// when nsh dies, and then ends the command and every process that came
// to it.
#define GUARD_SIG (SIGRTMIN + 1)
static volatile sig_atomic_t guard_fired;

static void guard_signal(int sig)
{
	(void)sig;
	guard_fired = 1;
}

static void guard_end(pid_t child)
{
	kill(child, SIGKILL);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
	for (int round = 0; round < 300; round++) {
		char buf[8192];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = 0;
			for (char *p = buf; *p;) {
				long pid = strtol(p, &p, 10);
				if (pid > 1)
					kill((pid_t)pid, SIGKILL);
				while (*p == ' ' || *p == '\n')
					p++;
			}
		}
		int status;
		pid_t r;
		while ((r = waitpid(-1, &status, WNOHANG)) > 0)
			;
		if (r < 0 && errno == ECHILD)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	_exit(128 + SIGKILL);
}

// relay waits for the child that runs the command and ends as it ended;
// with guard, it also ends everything when nsh dies (above).
static void relay(pid_t child, int guard)
{
	static const int forwarded[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = relay_signal;
	sa.sa_flags = SA_RESTART;
	relay_child = child;
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaction(forwarded[i], &sa, NULL);
	// The terminal's Ctrl-Z reaches the child directly; the relay stops
	// when the child does, so nsh sees a stopped job.
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	prctl(PR_SET_NAME, "nsh:[relay]", 0, 0, 0);
	if (guard) {
		struct sigaction ga;
		memset(&ga, 0, sizeof ga);
		ga.sa_handler = guard_signal; // no SA_RESTART: waitpid returns
		sigaction(GUARD_SIG, &ga, NULL);
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
		prctl(PR_SET_PDEATHSIG, GUARD_SIG, 0, 0, 0);
		if (getppid() != stage_parent)
			guard_end(child); // nsh died before the signal was armed
	}
	for (;;) {
		int status;
		pid_t r = waitpid(child, &status, WUNTRACED);
		if (r < 0) {
			if (errno == EINTR) {
				if (guard_fired)
					guard_end(child);
				continue;
			}
			_exit(1);
		}
		if (WIFSTOPPED(status)) {
			raise(SIGSTOP);
			continue;
		}
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		if (WIFSIGNALED(status)) {
			int sig = WTERMSIG(status);
			signal(sig, SIG_DFL);
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, sig);
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); // no core file for a relayed SIGQUIT
			kill(getpid(), sig);
			_exit(128 + sig);
		}
	}
}

static void join_namespaces(void)
{
	const char *spec = getenv("_NSH_SETNS");
	if (spec == NULL || *spec == '\0')
		return;

	int fds[MAX_JOIN], flags[MAX_JOIN], n = 0, all = 0;
	const char *p = spec;
	while (*p && n < MAX_JOIN) {
		char *end;
		fds[n] = (int)strtol(p, &end, 10);
		if (*end != ':')
			die(EINVAL, "bad _NSH_SETNS %s", spec);
		flags[n] = (int)strtol(end + 1, &end, 10);
		all |= flags[n];
		n++;
		p = (*end == ',') ? end + 1 : end;
	}

	// As nsenter does: first everything but the user namespace, while
	// the stage still has its privileges over namespaces of its own user
	// namespace (root joining a child's); what that refuses is joined
	// after the user namespace, whose owner it then is (a non-root user
	// joining a child of its own user namespace).
	int joined[MAX_JOIN] = {0};
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < n; i++) {
			int user_only = flags[i] == CLONE_NEWUSER;
			if (joined[i] || (pass == 1) != user_only)
				continue;
			char names[256];
			flag_names(flags[i], names, sizeof names);
			if (pass > 0)
				step("setns(%d, %s)", fds[i], names);
			if (setns(fds[i], flags[i]) < 0) {
				if (pass == 0 && errno == EPERM)
					continue;
				die(errno, "setns(%s)", names);
			}
			if (pass == 0)
				step("setns(%d, %s)", fds[i], names);
			joined[i] = 1;
			close(fds[i]);
		}
	}

	int root = env_fd("_NSH_SETNS_ROOT"), cwd = env_fd("_NSH_SETNS_CWD");
	if (root >= 0) {
		step("chroot to the target's root (fchdir, chroot .)");
		if (fchdir(root) < 0 || chroot(".") < 0)
			die(errno, "chroot to the target's root");
		close(root);
	}
	if (cwd >= 0) {
		if (fchdir(cwd) < 0)
			die(errno, "chdir to the target's working directory");
		close(cwd);
	}
	unsetenv("_NSH_SETNS");
	unsetenv("_NSH_SETNS_ROOT");
	unsetenv("_NSH_SETNS_CWD");

	if (all & CLONE_NEWPID) {
		step("fork: a joined pid namespace applies to children only");
		pid_t child = fork();
		if (child < 0)
			die(errno, "fork into the joined pid namespace");
		if (child == 0) {
			// getppid() is 0 here: the relay is outside this pid
			// namespace, so a died-before-prctl check cannot see it.
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		} else {
			close(NSH_STAGE_FD); // end of file comes when the child execs
			relay(child, 0);
		}
	}
	// Which process runs the command is said by the kernel, not by us: a
	// pid this process computed (getpid) is a number of its own pid
	// namespace, 1 in a new one, and means another process to nsh. The
	// parent reads this line's sender from SCM_CREDENTIALS, which the
	// kernel translates into nsh's pid namespace.
	send_line("{\"here\":true}\n");
}

/* ---- The program: what Go planned for this child (plan.go). ---- */

#include "ops.h"

#define MAX_ARGS 4096

static int explain;

// json_string writes s as a JSON string body.
static void json_string(char *out, size_t size, const char *s)
{
	size_t j = 0;
	for (; *s && j < size - 8; s++) {
		unsigned char c = *s;
		if (c == '"' || c == '\\') {
			out[j++] = '\\';
			out[j++] = c;
		} else if (c < 0x20) {
			j += snprintf(out + j, size - j, "\\u%04x", c);
		} else {
			out[j++] = c;
		}
	}
	out[j] = 0;
}

static void op_step_exec(int op, const char *path)
{
	char esc[8192], line[8300];
	json_string(esc, sizeof esc, path);
	snprintf(line, sizeof line, "{\"op\":%d,\"exec\":\"%s\"}\n", op, esc);
	send_line(line);
}

// op_failed reports which step failed and why; the parent words it.
static void op_failed(int op, int err, const char *exec_path)
{
	char line[8300];
	if (exec_path) {
		char esc[8192];
		json_string(esc, sizeof esc, exec_path);
		snprintf(line, sizeof line, "{\"op\":%d,\"errno\":%d,\"exec\":\"%s\"}\n", op, err, esc);
	} else {
		snprintf(line, sizeof line, "{\"op\":%d,\"errno\":%d}\n", op, err);
	}
	send_line(line);
	_exit(1);
}

// num reads a number nsh wrote (strconv: decimal, perhaps negative; a
// negative one wraps as strtoull's would). By hand: strtoull reads a
// table of musl's, a page the stage would otherwise fault in for it.
static uint64_t num(const char *s)
{
	int neg = *s == '-';
	s += neg;
	uint64_t v = 0;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	return neg ? -v : v;
}

static int read_full(int fd, void *buf, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t r = read(fd, (char *)buf + off, n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += r;
	}
	return 0;
}

static int write_all(int fd, const char *data, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, data, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		data += w;
		n -= w;
	}
	return 0;
}

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = write_all(fd, data, strlen(data));
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static int capset3(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {
		{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
	};
	return syscall(SYS_capset, &hdr, data);
}

static int clear_inheritable(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	data[0].inheritable = data[1].inheritable = 0;
	return syscall(SYS_capset, &hdr, data);
}

static int link_up(const char *name)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct ifreq req;
	memset(&req, 0, sizeof req);
	strncpy(req.ifr_name, name, IFNAMSIZ - 1);
	int r = ioctl(fd, SIOCGIFFLAGS, &req);
	if (r == 0) {
		req.ifr_flags |= IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &req);
	}
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// mark_cloexec_from makes every descriptor from fd up close on exec.
static void mark_cloexec_from(int from)
{
	if (syscall(SYS_close_range, from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	DIR *d = opendir("/proc/self/fd"); // kernels before 5.11
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (atoi(e->d_name) >= from && atoi(e->d_name) != dirfd(d))
			fcntl(atoi(e->d_name), F_SETFD, FD_CLOEXEC);
	closedir(d);
}

// join_path writes DIR/FILE (dir the first n bytes of dir; FILE alone when
// n is 0) into out, or says ENAMETOOLONG. By hand, as num is: printf reads
// a table of musl's, a page the stage would otherwise fault in for it.
static int join_path(char *out, size_t size, const char *dir, size_t n, const char *file)
{
	size_t fn = strlen(file);
	if (n + (n > 0) + fn + 1 > size)
		return ENAMETOOLONG;
	memcpy(out, dir, n);
	if (n > 0)
		out[n++] = '/';
	memcpy(out + n, file, fn + 1);
	return 0;
}

// exec_ok says why path cannot be executed, 0 if it can.
static int exec_ok(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	return access(path, X_OK) < 0 ? errno : 0;
}

// find_exec looks file up as Go's lookPath did: a name with a slash is
// used as is; else each PATH entry in turn. The first error other than
// "not there" wins over "not found".
static int find_exec(const char *file, const char *pathenv, char *out, size_t size)
{
	if (strchr(file, '/'))
		return join_path(out, size, "", 0, file) ? ENAMETOOLONG : exec_ok(out);
	int first = 0;
	const char *p = pathenv;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		int err = n == 0 ? join_path(out, size, ".", 1, file) : join_path(out, size, p, n, file);
		if (err == 0)
			err = exec_ok(out);
		if (err == 0)
			return 0;
		if (!first && err != ENOENT && err != ENOTDIR)
			first = err;
		if (!colon)
			break;
		p = colon + 1;
	}
	return first ? first : ENOENT;
}

/* ---- Paths inside a rootfs. ----
 *
 * Every path below the rootfs is resolved inside it and never leaves it:
 * a symlink in the rootfs (absolute, "..", a loop) is followed as if the
 * rootfs were /, by the kernel (openat2 RESOLVE_IN_ROOT), and what is made
 * is made through descriptors, not host paths. A mount goes on the
 * resolved descriptor (/proc/self/fd/N), as runc does. */

static int rootfd = -1;

static int open_in_root(const char *rel, int flags, mode_t mode)
{
	while (*rel == '/')
		rel++;
	if (!*rel)
		rel = ".";
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	for (;;) {
		int fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
		if (fd < 0 && errno == EAGAIN)
			continue; // a rename raced the lookup: once more
		return fd;
	}
}

// mkdir_in_root makes rel and any missing parents inside the rootfs. A
// symlink whose target is missing gets its target made, inside the
// rootfs too (as runc's MkdirAll through securejoin does).
static int mkdir_in_root_depth(const char *rel, mode_t mode, int depth);

static int mkdir_in_root(const char *rel, mode_t mode) { return mkdir_in_root_depth(rel, mode, 0); }

static int mkdir_in_root_depth(const char *rel, mode_t mode, int depth)
{
	if (depth > 40) {
		errno = ELOOP;
		return -1;
	}
	while (*rel == '/')
		rel++;
	char path[4096];
	size_t n = strlen(rel);
	if (n >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, rel, n + 1);
	for (size_t i = 0; i <= n; i++) {
		if (path[i] != '/' && path[i] != 0)
			continue;
		if (i == 0 || path[i - 1] == '/')
			continue;
		char saved = path[i];
		path[i] = 0;
		int fd = open_in_root(path, O_PATH | O_DIRECTORY, 0);
		if (fd < 0 && errno == ENOENT) {
			char *slash = strrchr(path, '/');
			const char *base = slash ? slash + 1 : path;
			int parent;
			if (slash) {
				*slash = 0;
				parent = open_in_root(path, O_PATH | O_DIRECTORY, 0);
				*slash = '/';
			} else {
				parent = open_in_root(".", O_PATH | O_DIRECTORY, 0);
			}
			if (parent < 0)
				return -1;
			int r = mkdirat(parent, base, mode);
			int e = errno;
			char link[4096];
			ssize_t ln = -1;
			if (r < 0 && e == EEXIST)
				ln = readlinkat(parent, base, link, sizeof link - 1);
			close(parent);
			if (r < 0 && e != EEXIST) {
				errno = e;
				return -1;
			}
			if (ln > 0) {
				// A symlink to nothing yet: make its target, read
				// as the kernel would inside the rootfs.
				char next[8192];
				link[ln] = 0;
				if (link[0] == '/')
					snprintf(next, sizeof next, "%s", link);
				else if (slash)
					snprintf(next, sizeof next, "%.*s/%s", (int)(slash - path), path, link);
				else
					snprintf(next, sizeof next, "%s", link);
				if (mkdir_in_root_depth(next, mode, depth + 1) < 0)
					return -1;
			}
			fd = open_in_root(path, O_PATH | O_DIRECTORY, 0);
		}
		if (fd < 0)
			return -1;
		close(fd);
		path[i] = saved;
	}
	return 0;
}

static int parent_in_root(const char *rel, const char **base)
{
	while (*rel == '/')
		rel++;
	char dir[4096];
	const char *slash = strrchr(rel, '/');
	if (!slash) {
		*base = rel;
		return open_in_root(".", O_PATH | O_DIRECTORY, 0);
	}
	size_t n = (size_t)(slash - rel);
	if (n >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, rel, n);
	dir[n] = 0;
	*base = slash + 1;
	if (n > 0 && mkdir_in_root(dir, 0755) < 0)
		return -1;
	return open_in_root(n ? dir : ".", O_PATH | O_DIRECTORY, 0);
}

static int mount_in_root(const char *src, const char *rel, const char *type, unsigned long flags, const char *data)
{
	int fd = open_in_root(rel, O_PATH, 0);
	if (fd < 0)
		return -1;
	char target[64];
	snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
	int r = mount(src, target, type, flags, data);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

// A filter the program asked to install just before execve (with
// no_new_privs, as late as runc installs it), and the step that asked.
static const char *late_filter;
static uint32_t late_filter_len;
static int late_filter_op;

static int install_filter(const char *bpf, uint32_t len)
{
	struct sock_fprog prog = {.len = (unsigned short)(len / 8), .filter = (struct sock_filter *)bpf};
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

// install_late installs the deferred filter; nothing of the stage's own
// runs under it but execve (or the probe).
static void install_late(void)
{
	if (late_filter && install_filter(late_filter, late_filter_len) < 0)
		op_failed(late_filter_op, errno, NULL);
}

// probe makes one system call as the command would, then says what the
// kernel answered. A call that forks returns twice: the new process
// leaves quietly. One that blocks is ended by the alarm; one the filter
// kills ends by SIGSYS, which nsh reads from the wait status.
static void probe_blocked(int sig)
{
	(void)sig;
	send_line("{\"probe\":true,\"blocked\":true}\n");
	_exit(0);
}

static void probe(char **args)
{
	long nr = (long)num(args[0]);
	uint64_t a[6];
	for (int i = 0; i < 6; i++)
		a[i] = num(args[1 + i]);
	pid_t me = getpid();
	// A handler, not the default action: PID 1 of a pid namespace
	// ignores a SIGALRM it has no handler for.
	signal(SIGALRM, probe_blocked);
	alarm(2);
	install_late();
	errno = 0;
	long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	int err = errno;
	if (syscall(SYS_getpid) != me)
		_exit(0);
	char line[128];
	snprintf(line, sizeof line, "{\"probe\":true,\"ret\":%ld,\"perr\":%d}\n", r < 0 ? -1L : r, r < 0 ? err : 0);
	send_line(line);
	_exit(0);
}

// stage_mem holds the program, one step's arguments and the command's
// path side by side. The stage is a new process, and each page it touches
// first costs a fault that is dearer in a new address space than in an old
// one (on the development VM about as much as tens of system calls): the
// program in malloc's memory and three arrays of their own took five
// pages, these take two for a program of a few kilobytes. A larger
// program gets memory of its own.
static char stage_mem[48 * 1024] __attribute__((aligned(16)));

static void run_program(void)
{
	uint32_t len;
	if (read_full(NSH_STAGE_FD, &len, sizeof len) < 0 || len > (64u << 20))
		die(EPROTO, "read the program from nsh");
	// An argument takes at least five bytes of the program (its length
	// and its NUL), so no step has more than len/5; exec adds two NULLs.
	size_t cap = len / 5 + 2;
	if (cap > MAX_ARGS + 2)
		cap = MAX_ARGS + 2;
	size_t at_args = ((size_t)len + 1 + 7) & ~(size_t)7;
	size_t at_path = at_args + cap * (sizeof(char *) + sizeof(uint32_t));
	size_t need = at_path + PATH_MAX;
	char *mem = stage_mem;
	if (need > sizeof stage_mem) {
		mem = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			die(errno, "memory for the program");
	}
	char *prog = mem;
	char **args = (char **)(mem + at_args);
	uint32_t *arglen = (uint32_t *)(args + cap);
	char *path = mem + at_path;
	if (read_full(NSH_STAGE_FD, prog, len) < 0)
		die(EPROTO, "read the program from nsh");
	prog[len] = 0;
	char *p = prog, *end = prog + len;
	explain = *p++;
	for (int op = 1; p < end; op++) {
		if (end - p < 3)
			die(EPROTO, "truncated program");
		int code = (unsigned char)*p++;
		unsigned nargs = (unsigned char)p[0] | (unsigned char)p[1] << 8;
		p += 2;
		if (nargs > MAX_ARGS || nargs + 2 > cap)
			die(EPROTO, "too many arguments");
		for (unsigned i = 0; i < nargs; i++) {
			uint32_t n;
			if (end - p < 4)
				die(EPROTO, "truncated program");
			memcpy(&n, p, 4);
			p += 4;
			if ((uint32_t)(end - p) < n)
				die(EPROTO, "truncated program");
			args[i] = p;
			arglen[i] = n;
			p += n;
			// Each argument is followed by a NUL that the parent wrote.
			p++;
		}
		args[nargs] = NULL;
		if (explain && code != OP_EXEC && code != OP_EXECFORK) {
			char line[64];
			snprintf(line, sizeof line, "{\"op\":%d}\n", op);
			send_line(line);
		}
		int r = 0;
		switch (code) {
		case OP_UNSHARE:
			r = unshare((int)num(args[0]));
			break;
		case OP_MOUNT:
			r = mount(*args[0] ? args[0] : NULL, args[1], *args[2] ? args[2] : NULL, num(args[3]), *args[4] ? args[4] : NULL);
			break;
		case OP_UMOUNT:
			r = umount2(args[0], (int)num(args[1]));
			break;
		case OP_SETHOSTNAME:
			r = sethostname(args[0], strlen(args[0]));
			break;
		case OP_WRITE:
			r = write_file(args[0], args[1]);
			break;
		case OP_WRITEFD: {
			int fd = (int)num(args[0]);
			r = write_all(fd, args[1], strlen(args[1]));
			close(fd);
			break;
		}
		case OP_MKDIR:
			r = mkdir(args[0], (mode_t)num(args[1]));
			if (r < 0 && errno == EEXIST)
				r = 0;
			break;
		case OP_CREATE: {
			int fd = open(args[0], O_CREAT | O_WRONLY | O_CLOEXEC, (mode_t)num(args[1]));
			r = fd < 0 ? -1 : close(fd);
			break;
		}
		case OP_SYMLINK:
			r = symlink(args[0], args[1]);
			if (r < 0 && errno == EEXIST)
				r = 0;
			break;
		case OP_CHDIR:
			r = chdir(args[0]);
			break;
		case OP_PIVOT:
			r = syscall(SYS_pivot_root, args[0], args[1]);
			break;
		case OP_LINKUP:
			r = link_up(args[0]);
			break;
		case OP_PRCTL:
			r = prctl((int)num(args[0]), (unsigned long)num(args[1]), (unsigned long)num(args[2]), 0, 0);
			break;
		case OP_SETGROUPS: {
			gid_t gs[256];
			unsigned n = 0;
			for (unsigned i = 0; i < nargs && n < 256; i++)
				gs[n++] = (gid_t)num(args[i]);
			r = syscall(SYS_setgroups, n, gs);
			// Denied in a user namespace whose gid_map was written
			// without privilege; there are no groups to clear then.
			if (r < 0 && errno == EPERM)
				r = 0;
			break;
		}
		case OP_SETRESGID: {
			gid_t g = (gid_t)num(args[0]);
			r = syscall(SYS_setresgid, g, g, g);
			break;
		}
		case OP_SETRESUID: {
			uid_t u = (uid_t)num(args[0]);
			r = syscall(SYS_setresuid, u, u, u);
			break;
		}
		case OP_CAPSET:
			r = capset3(num(args[0]), num(args[1]), num(args[2]));
			break;
		case OP_CLEARINH:
			r = clear_inheritable();
			break;
		case OP_AMBIENT: {
			uint64_t raise = num(args[0]);
			r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
			for (int c = 0; c < 64 && r == 0; c++)
				if (raise & (1ULL << c))
					r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
			break;
		}
		case OP_EXEC:
		case OP_EXECFORK:
		case OP_EXECGUARD: {
			// args: PATH, argc, argv..., envp...
			unsigned argc = (unsigned)num(args[1]);
			char **argv = &args[2];
			char **envp = &args[2 + argc + 1];
			// Split argv from envp with the NULL execve wants.
			for (unsigned i = nargs; i > 2 + argc; i--)
				args[i] = args[i - 1];
			args[2 + argc] = NULL;
			args[nargs + 1] = NULL;
			// Nothing of nsh's but 0, 1 and 2 reaches the command,
			// not even what nsh itself inherited without close-on-exec.
			mark_cloexec_from(3);
			int err = find_exec(argv[0], args[0], path, PATH_MAX);
			if (err)
				op_failed(op, err, argv[0]);
			if (explain) {
				op_step_exec(op, path);
				// nsh says when it has shown the step: the command's
				// first output must not come before its execve line.
				char ack;
				if (read_full(NSH_STAGE_FD, &ack, 1) < 0)
					_exit(1);
			}
			if (code == OP_EXECFORK || code == OP_EXECGUARD) {
				pid_t child = fork();
				if (child < 0)
					op_failed(op, errno, NULL);
				if (child == 0) {
					install_late();
					if (code == OP_EXECGUARD) {
						prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
						// nsh reads who runs the command from
						// the credentials of this line.
						send_line("{\"here\":true}\n");
					}
					execve(path, argv, envp);
					op_failed(op, errno, argv[0]);
				}
				close(NSH_STAGE_FD);
				relay(child, code == OP_EXECGUARD);
			}
			install_late();
			execve(path, argv, envp);
			op_failed(op, errno, argv[0]);
		}
		case OP_ROOTFD:
			if (rootfd >= 0)
				close(rootfd);
			rootfd = open(args[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
			r = rootfd < 0 ? -1 : 0;
			break;
		case OP_MOUNTIN:
			r = mount_in_root(*args[0] ? args[0] : NULL, args[1], *args[2] ? args[2] : NULL, num(args[3]), *args[4] ? args[4] : NULL);
			break;
		case OP_MKDIRIN:
			r = mkdir_in_root(args[0], (mode_t)num(args[1]));
			break;
		case OP_MASKIN:
			r = mask_in_root(args[0]);
			break;
		case OP_READONLYIN:
			r = readonly_in_root(args[0]);
			break;
		case OP_CREATEIN: {
			const char *base;
			int dir = parent_in_root(args[0], &base);
			if (dir < 0) {
				r = -1;
				break;
			}
			close(dir);
			// There already (a file, a device node): the mount decides.
			int fd = open_in_root(args[0], O_PATH, 0);
			if (fd < 0 && errno == ENOENT)
				fd = open_in_root(args[0], O_CREAT | O_EXCL | O_WRONLY, (mode_t)num(args[1]));
			r = fd < 0 ? -1 : close(fd);
			break;
		}
		case OP_SYMLINKIN: {
			const char *base;
			int dir = parent_in_root(args[1], &base);
			if (dir < 0) {
				r = -1;
				break;
			}
			r = symlinkat(args[0], dir, base);
			if (r < 0 && errno == EEXIST)
				r = 0;
			int e = errno;
			close(dir);
			errno = e;
			break;
		}
		case OP_SECCOMP:
			// args: "now" or "exec", the program (struct sock_filter[])
			if (nargs != 2 || arglen[1] % 8 != 0 || arglen[1] == 0 || arglen[1] / 8 > 65535)
				die(EPROTO, "bad seccomp program");
			if (strcmp(args[0], "now") == 0) {
				r = install_filter(args[1], arglen[1]);
			} else {
				late_filter = args[1];
				late_filter_len = arglen[1];
				late_filter_op = op;
			}
			break;
		case OP_PROBE:
			if (nargs != 7)
				die(EPROTO, "bad probe");
			probe(args);
			break;
		default:
			die(EPROTO, "unknown step %d", code);
		}
		if (r < 0)
			op_failed(op, errno, NULL);
	}
	die(EPROTO, "the program has no exec");
}

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
// before the runtime starts (the stage and the janitor never run Go).
static void go_start(void)
{
	go_thread_stacks();
	nsh_prefault();
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
