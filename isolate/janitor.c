// The janitor: nsh re-executed as nsh:janitor, run by the constructor in
// stage.c; for a script run, started by nsh's constructor before any Go
// runtime starts (janitor_early.c), otherwise by Go. It reads
// lines from a pipe whose other end only nsh holds (the protocol is in
// cgroup/janitor.go) and, at end of file, which comes however nsh ends,
// removes what nsh made and did not remove itself. It has no fixed
// capacity and no path length limit: every line and every path is
// allocated as it comes.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
