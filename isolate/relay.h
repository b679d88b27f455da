/* The relay: the parent left behind when the stage forks (a joined pid
 * namespace, or the guard of a child with neither a cgroup nor a pid
 * namespace of its own) passes on signals and the child's status.
 * Part of the child stage: stage.c includes it into one translation unit,
 * so every function stays static. */
#ifndef NSH_RELAY_H
#define NSH_RELAY_H

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
			kill(getpid(), SIGSTOP); // not raise: musl's knows the tid of nsh's thread (clone.h)
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

#endif
