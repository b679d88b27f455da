// Starting the janitor (janitor.c) before Go does.
//
// A script's first spawn waits for the janitor: no cgroup may exist before
// it. Started from Go, it costs a vfork and an exec on the spawn's path,
// while the vfork holds one of Go's processors. A script run (`nsh -c
// SCRIPT`, `nsh FILE`) starts it here instead, while the process is a
// single-threaded C program with no Go runtime, with posix_spawn on a
// thread of its own that overlaps the runtime's start (below).
// It was a plain fork until issue 35: the fork copied nsh's page tables,
// nsh then took a copy-on-write fault for each page it had touched, and
// the new process's first run, on a machine whose page faults are dear,
// often took nsh's own CPU for most of a millisecond. A vfork and exec
// of nsh as nsh:janitor leaves nsh's memory alone and puts what the new
// image costs on the janitor (bench/CHANGELOG.md has the figures).
// Go adopts it (cgroup.AdoptJanitor) and, before the first cgroup, reads
// its status pipe: end of file once it runs (its close_range closes the
// pipe's other end). If it has died by then, or the spawn failed, Go
// starts one itself. A script that makes no cgroup leaves it nothing to do:
// it sees the end of its pipe when nsh ends. The REPL and the other modes
// start it from Go when first needed (the same exec of nsh).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <unistd.h>

int nsh_early_janitor_pid = -1;
int nsh_early_janitor_in = -1;     // nsh's end of the janitor's pipe
int nsh_early_janitor_status = -1; // end of file once it runs

// script_args is how many arguments nsh was started with when that was as
// `nsh -c SCRIPT` or `nsh FILE`, else 0 (musl gives constructors no
// arguments: they are read from /proc).
static int script_args(void)
{
	char buf[256];
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *args[4] = {0};
	int argc = 0;
	for (char *p = buf; p < buf + n && argc < 4; p += strlen(p) + 1)
		args[argc++] = p;
	if (argc == 3 && strcmp(args[1], "-c") == 0)
		return 3;
	return argc == 2 && args[1][0] != '-' ? 2 : 0;
}

// above_stdio moves fd to 3 or above: nsh fills a missing 0, 1 or 2
// with /dev/null (main.go), which must not be the janitor's pipe.
static int above_stdio(int fd)
{
	if (fd > 2)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return moved;
}

extern char **environ;

// spawn_janitor starts nsh:janitor as Go does (an exec of nsh with
// _NSH_STAGE=janitor, in a process group of its own, away from the
// terminal's signals, with every signal blocked and its pipe as stdin),
// and returns its pid, or -1. st_w stays open across the execve, until
// the janitor's close_range.
static int spawn_janitor(int in, int st_w, char **env)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all;
	sigfillset(&all);
	int pid = -1;
	if (posix_spawn_file_actions_init(&fa) == 0) {
		if (posix_spawnattr_init(&at) == 0) {
			char *argv[] = {"nsh:janitor", NULL};
			if (posix_spawn_file_actions_adddup2(&fa, in, 0) == 0 &&
			    posix_spawn_file_actions_adddup2(&fa, st_w, st_w) == 0 &&
			    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK) == 0 &&
			    posix_spawnattr_setpgroup(&at, 0) == 0 &&
			    posix_spawnattr_setsigmask(&at, &all) == 0 &&
			    posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv, env) != 0)
				pid = -1;
			posix_spawnattr_destroy(&at);
		}
		posix_spawn_file_actions_destroy(&fa);
	}
	return pid;
}

// janitor_env is nsh's environment and _NSH_STAGE=janitor, copied while
// the constructor is the only thread: Go's initialisers change environ
// later (stage.go drops inherited _NSH_ variables).
static char **janitor_env(void)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = malloc((n + 2) * sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		env[i] = environ[i];
	env[n] = "_NSH_STAGE=janitor";
	env[n + 1] = NULL;
	return env;
}

// fill_stdio opens /dev/null as any of descriptors 0, 1 and 2 that is
// closed, as Go's runtime (checkfds) and main.go (ensureStdio) would
// later: the spawn below runs beside the runtime's start, and a pipe of
// its (musl's posix_spawn makes one, and closes it) that took a missing
// 0, 1 or 2 would be seen by checkfds as that descriptor, or make the
// runtime's own /dev/null land on another number, which it throws on.
static void fill_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			int got = open("/dev/null", O_RDWR);
			if (got >= 0 && got != fd)
				close(got);
		}
}

// What the spawning thread is given, made before it starts.
static struct {
	int theirs, st_w, ours, st_r;
	char **env;
} early;
static pthread_t early_thread;
static int early_thread_runs;

void nsh_prefetch(void); // prefetch.c

// early_spawn spawns the janitor and, on the thread (read_ahead not
// NULL), reads ahead what cgroup detection will read.
static void *early_spawn(void *read_ahead)
{
	int pid = early.env ? spawn_janitor(early.theirs, early.st_w, early.env) : -1;
	free(early.env);
	early.env = NULL;
	if (pid > 0) {
		// The child has its own copies of the descriptors.
		close(early.theirs);
		close(early.st_w);
		nsh_early_janitor_pid = pid;
		nsh_early_janitor_in = early.ours;
		nsh_early_janitor_status = early.st_r;
	} else {
		int fds[] = {early.ours, early.theirs, early.st_r, early.st_w};
		for (int i = 0; i < 4; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	if (read_ahead)
		nsh_prefetch();
	return NULL;
}

// nsh_janitor_early_join waits for the spawning thread, if one runs; Go
// calls it before it reads nsh_early_janitor_*.
void nsh_janitor_early_join(void)
{
	if (early_thread_runs) {
		pthread_join(early_thread, NULL);
		early_thread_runs = 0;
	}
}

void nsh_janitor_early(void)
{
	int argc = script_args();
	if (argc == 0)
		return;
	fill_stdio();
	int pipefd[2], status[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return;
	if (pipe2(status, O_CLOEXEC) < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return;
	}
	early.ours = above_stdio(pipefd[1]);
	early.theirs = above_stdio(pipefd[0]);
	early.st_r = above_stdio(status[0]);
	early.st_w = above_stdio(status[1]);
	early.env = early.ours >= 0 && early.theirs >= 0 && early.st_r >= 0 && early.st_w >= 0 ? janitor_env() : NULL;
	// The spawn waits for the janitor's execve (posix_spawn is a vfork):
	// 0.15 ms on the way to Go's start where it ran here. On a thread of
	// its own, with every signal blocked (Go installs its handlers
	// meanwhile), it overlaps the runtime's start instead.
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	static int read_ahead = 1;
	early_thread_runs = pthread_create(&early_thread, NULL, early_spawn, &read_ahead) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!early_thread_runs)
		early_spawn(NULL);
}
