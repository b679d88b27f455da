// Joining namespaces before the Go runtime starts.
//
// setns(2) into a mount namespace fails for a process that shares its
// filesystem information with other threads, and into a user namespace
// for any multithreaded process; a Go program has several threads before
// main runs. So, as runc's nsexec does, this constructor runs first, while
// the process still has one thread, whenever nsh re-executes itself with
// _NSH_SETNS in the environment:
//
//   _NSH_SETNS=FD:FLAGS[,FD:FLAGS...]  setns(FD, FLAGS) for each; FD is a
//                                      namespace file or a pidfd
//   _NSH_SETNS_ROOT=FD                 then fchdir(FD) and chroot(".")
//   _NSH_SETNS_CWD=FD                  then fchdir(FD)
//
// Namespaces other than user are joined first: once in a new user
// namespace, the process has lost its privileges over namespaces owned by
// the old one. A pidfd with several flags is joined in one atomic call.
// Joining a pid namespace affects only children, so the constructor then
// forks: the child goes on into Go, the parent stays behind as a small
// relay that passes on signals and the child's status (like nsenter's
// fork). Steps and errors go to fd 3 as JSON lines, the protocol of
// protocol.go; {"pid":N} tells nsh which process will run the command.

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

// relay waits for the child that runs the command and ends as it ended.
static void relay(pid_t child)
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
	for (;;) {
		int status;
		pid_t r = waitpid(child, &status, WUNTRACED);
		if (r < 0) {
			if (errno == EINTR)
				continue;
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

__attribute__((constructor)) static void nsh_setns(void)
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

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			int user_only = flags[i] == CLONE_NEWUSER;
			if ((pass == 0) == user_only)
				continue;
			char names[256];
			flag_names(flags[i], names, sizeof names);
			step("setns(%d, %s)", fds[i], names);
			if (setns(fds[i], flags[i]) < 0)
				die(errno, "setns(%s)", names);
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
			return; // into Go, in the new pid namespace
		}
		char line[64];
		snprintf(line, sizeof line, "{\"pid\":%d}\n", child);
		send_line(line);
		close(NSH_STAGE_FD); // end of file comes when the child execs
		relay(child);
	}
	char line[64];
	snprintf(line, sizeof line, "{\"pid\":%d}\n", getpid());
	send_line(line);
}
