/* Paths inside a rootfs.
 * Part of the child stage: stage.c includes it into one translation unit,
 * so every function stays static. */
#ifndef NSH_IN_ROOT_H
#define NSH_IN_ROOT_H

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

#endif
