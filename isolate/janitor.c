// The janitor: nsh re-executed as nsh:janitor, run by the constructor in
// stage.c; for a script run, started by nsh's constructor before any Go
// runtime starts (nsh_janitor_early, below), otherwise by Go. It reads
// lines from a pipe whose other end only nsh holds (the protocol is in
// cgroup/janitor.go) and, at end of file, which comes however nsh ends,
// removes what nsh made and did not remove itself. It has no fixed
// capacity and no path length limit: every line and every path is
// allocated as it comes.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { INTENT = 1, MADE = 2 };

struct entry {
	char *path;
	int state; // INTENT: nsh was about to make it; MADE: nsh made it
};

static struct entry *dirs;
static size_t ndirs, capdirs;
static char **subtrees;
static size_t nsub, capsub;
static char *leaf, *leafparent;
static char **trees;
static size_t ntrees, captrees;

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 64;
	void *q = realloc(p, *cap * size);
	if (!q)
		_exit(1);
	return q;
}

static char *copy(const char *s)
{
	char *d = strdup(s);
	if (!d)
		_exit(1);
	return d;
}

static char *join(const char *dir, const char *file)
{
	char *out;
	if (asprintf(&out, "%s/%s", dir, file) < 0)
		_exit(1);
	return out;
}

static void write_str(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size_t n = strlen(data);
	while (n > 0) {
		ssize_t w = write(fd, data, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		data += w;
		n -= (size_t)w;
	}
	close(fd);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

// read_procs reads dir's cgroup.procs into a buffer the caller frees.
static char *read_procs(const char *dir)
{
	char *f = join(dir, "cgroup.procs");
	int fd = open(f, O_RDONLY | O_CLOEXEC);
	free(f);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			_exit(1);
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

static int holds_init(const char *procs)
{
	for (const char *p = procs; (p = strstr(p, "1\n")); p++)
		if (p == procs || p[-1] == '\n')
			return 1;
	return 0;
}

static void remove_dir(const char *dir)
{
	for (int try = 0; try < 100 && rmdir(dir) < 0 && errno == EBUSY; try++)
		sleep_ms(20);
}

// thaw undoes a freeze (cgroup freeze, or commit's) once SIGKILL is
// pending: under the v1 freezer a frozen task dies only when thawed
// (runc thaws a paused container it destroys). v2's cgroup.kill ends
// frozen tasks; its thaw is for a kernel without cgroup.kill.
static void thaw(const char *dir)
{
	char *f = join(dir, "freezer.state");
	write_str(f, "THAWED");
	free(f);
	f = join(dir, "cgroup.freeze");
	write_str(f, "0");
	free(f);
}

// sweep kills what is left in a cgroup nsh made, then removes it. Only
// nsh's children are ever placed there; pid 1 and the janitor itself
// would be a bug's doing and are never signalled.
static void sweep(const char *dir)
{
	pid_t self = (pid_t)syscall(SYS_getpid);
	char *procs = read_procs(dir);
	if (procs && !holds_init(procs)) {
		char *kill_file = join(dir, "cgroup.kill");
		write_str(kill_file, "1");
		free(kill_file);
	}
	for (int try = 0; procs && try < 50; try++) {
		int any = 0;
		for (char *p = procs; *p;) {
			long pid = strtol(p, &p, 10);
			if (pid > 1 && pid != self) {
				kill((pid_t)pid, SIGKILL);
				any = 1;
			}
			while (*p == '\n')
				p++;
		}
		free(procs);
		procs = NULL;
		if (!any)
			break;
		if (try == 0)
			thaw(dir);
		sleep_ms(10);
		procs = read_procs(dir);
	}
	free(procs);
	remove_dir(dir);
}

static struct entry *find(const char *path)
{
	for (size_t k = ndirs; k-- > 0;)
		if (dirs[k].state && strcmp(dirs[k].path, path) == 0)
			return &dirs[k];
	return NULL;
}

static void line(char *l)
{
	char *arg = strchr(l, ' ');
	if (!arg)
		return;
	*arg++ = 0;
	if (strcmp(l, "add") == 0) {
		dirs = grow(dirs, &capdirs, ndirs, sizeof *dirs);
		dirs[ndirs++] = (struct entry){copy(arg), INTENT};
	} else if (strcmp(l, "made") == 0) {
		struct entry *e = find(arg);
		if (e)
			e->state = MADE;
	} else if (strcmp(l, "del") == 0) {
		struct entry *e = find(arg);
		if (e) {
			e->state = 0;
			free(e->path);
			e->path = NULL;
		}
	} else if (strcmp(l, "subtree") == 0) {
		subtrees = grow(subtrees, &capsub, nsub, sizeof *subtrees);
		subtrees[nsub++] = copy(arg);
	} else if (strcmp(l, "tree") == 0) {
		trees = grow(trees, &captrees, ntrees, sizeof *trees);
		trees[ntrees++] = copy(arg);
	} else if (strcmp(l, "untree") == 0) {
		for (size_t k = 0; k < ntrees; k++)
			if (trees[k] && strcmp(trees[k], arg) == 0) {
				free(trees[k]);
				trees[k] = NULL;
			}
	} else if (strcmp(l, "leaf") == 0) {
		char *sp = strchr(arg, ' ');
		if (sp) {
			*sp++ = 0;
			free(leaf);
			free(leafparent);
			leaf = copy(arg);
			leafparent = copy(sp);
		}
	}
}

// empty_dir removes everything below the directory dfd (and closes it),
// by descriptors: never through a symlink, never onto another
// filesystem, and at any depth (nftw fails below PATH_MAX: a child can
// nest its upper 820 levels deep).
static void empty_dir(int dfd, dev_t dev)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	// Entries removed while reading may hide others: read again until a
	// pass removes nothing.
	for (int pass = 0, removed = 1; removed && pass < 8; pass++) {
		removed = 0;
		rewinddir(d);
		struct dirent *e;
		while ((e = readdir(d))) {
			const char *n = e->d_name;
			if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)))
				continue;
			struct stat st;
			if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (S_ISDIR(st.st_mode)) {
				if (st.st_dev != dev)
					continue; // a mount on the tree is not the tree
				int sub = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				// overlayfs leaves work/work at mode 000: an owner
				// who is not root opens it before emptying it.
				if (sub < 0 && errno == EACCES && fchmodat(dfd, n, 0700, 0) == 0)
					sub = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub >= 0)
					empty_dir(sub, dev);
				removed |= unlinkat(dfd, n, AT_REMOVEDIR) == 0;
			} else {
				removed |= unlinkat(dfd, n, 0) == 0;
			}
		}
	}
	closedir(d);
}

// remove_tree removes the directory tree nsh made at path.
static void remove_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return;
	}
	empty_dir(fd, st.st_dev);
	rmdir(path);
}

// others_below says whether dir has a child cgroup other than leaf: then
// controllers nsh enabled in it stay on, since turning one off takes its
// files from every child that uses it (another nsh's too).
static int others_below(const char *dir, const char *leaf)
{
	DIR *d = opendir(dir);
	if (!d)
		return 1;
	const char *leafname = leaf ? strrchr(leaf, '/') : NULL;
	int found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (leafname && strcmp(e->d_name, leafname + 1) == 0)
			continue;
		found = 1;
	}
	closedir(d);
	return found;
}

static void finish(void)
{
	// A layer nsh made (tree): never followed through a symlink or into
	// another filesystem (remove_tree), so nothing but what nsh made is
	// removed.
	for (size_t k = ntrees; k-- > 0;)
		if (trees[k])
			remove_tree(trees[k]);
	// Children's cgroups were announced after their parents: newest
	// first. One nsh was only about to make holds nothing of nsh's (a
	// child is placed only once its cgroup is made): it is removed if it
	// exists and is empty, never swept.
	for (size_t k = ndirs; k-- > 0;) {
		if (dirs[k].state == MADE)
			sweep(dirs[k].path);
		else if (dirs[k].state == INTENT)
			rmdir(dirs[k].path);
	}
	for (size_t k = nsub; k-- > 0;) {
		// "DIR CTRL CTRL..." -> "-CTRL -CTRL" into DIR/cgroup.subtree_control
		char *dir = subtrees[k], *rest = strchr(dir, ' ');
		if (!rest)
			continue;
		*rest++ = 0;
		if (others_below(dir, leaf))
			continue;
		char *minus = malloc(2 * strlen(rest) + 2), *m = minus;
		if (!minus)
			_exit(1);
		for (char *c = rest; *c; c++) {
			if (c == rest || c[-1] == ' ')
				*m++ = '-';
			*m++ = *c;
		}
		*m = 0;
		char *f = join(dir, "cgroup.subtree_control");
		write_str(f, minus);
		free(f);
		free(minus);
	}
	if (leaf) {
		char me[24];
		snprintf(me, sizeof me, "%ld", (long)syscall(SYS_getpid));
		char *f = join(leafparent, "cgroup.procs");
		write_str(f, me);
		free(f);
		remove_dir(leaf);
	}
}

void nsh_janitor(void)
{
	// The terminal's signals must not end it before it cleans up; it ends
	// when nsh's end of the pipe closes.
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	prctl(PR_SET_NAME, "nsh:janitor", 0, 0, 0);
	// It keeps its pipe only: a descriptor nsh inherited must not stay
	// open in it after nsh has gone.
	if (syscall(SYS_close_range, 1, ~0U, 0) < 0)
		for (int fd = 1; fd < 1024; fd++)
			close(fd);
	size_t cap = 4096, have = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			_exit(1);
		if (have + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		if (!buf)
			_exit(1);
		ssize_t n = read(0, buf + have, cap - have - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		char *start = buf, *nl;
		while ((nl = memchr(start, '\n', (size_t)(buf + have - start)))) {
			*nl = 0;
			line(start);
			start = nl + 1;
		}
		have = (size_t)(buf + have - start);
		memmove(buf, start, have);
	}
	finish();
	_exit(0);
}

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

// Starting the janitor before Go does.
//
// A script's first spawn waits for the janitor: no cgroup may exist before
// it. Started from Go, it costs a vfork and an exec on the spawn's path,
// while the vfork holds one of Go's processors. A script run (`nsh -c
// SCRIPT`, `nsh FILE`) starts it here instead, while the process is a
// single-threaded C program with no Go runtime, with posix_spawn (below).
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
