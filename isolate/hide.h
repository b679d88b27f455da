/* The OCI config's masked and read-only paths (isolate.Spec's Masked and
 * Readonly), as runc applies them: inside the rootfs, after every mount
 * and before pivot_root. Whether a path is there, a file or a directory,
 * is asked here, once the child's /proc and mounts exist: Go plans the
 * step, this only carries it out. Included by stage.c after in_root.h, whose
 * open_in_root resolves every path inside the rootfs. */
#ifndef NSH_HIDE_H
#define NSH_HIDE_H

#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int open_in_root(const char *rel, int flags, mode_t mode);

// mask_in_root hides rel from the child, as runc's maskPath does: a
// file gets /dev/null bound over it, a directory an empty read-only
// tmpfs. A path that is not there has nothing to hide.
static int mask_in_root(const char *rel)
{
	int fd = open_in_root(rel, O_PATH, 0);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct stat st;
	int r = fstat(fd, &st);
	if (r == 0) {
		char target[64];
		snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
		if (S_ISDIR(st.st_mode))
			r = mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0k");
		else
			r = mount("/dev/null", target, NULL, MS_BIND, NULL);
	}
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

// readonly_in_root makes rel read-only, as runc's readonlyPath does: a
// bind of it on itself, remounted read-only with the flags the kernel
// keeps locked in a user namespace (nosuid, nodev, noexec, atime).
static int readonly_in_root(const char *rel)
{
	int fd = open_in_root(rel, O_PATH, 0);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	char target[64];
	snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
	int r = mount(target, target, NULL, MS_BIND | MS_REC, NULL);
	int e = errno;
	close(fd);
	if (r < 0) {
		errno = e;
		return -1;
	}
	// The bind is on top now: opened again, the path is the new mount.
	fd = open_in_root(rel, O_PATH, 0);
	if (fd < 0)
		return -1;
	struct statvfs sv;
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
	if (fstatvfs(fd, &sv) == 0) {
		if (sv.f_flag & ST_NOSUID)
			flags |= MS_NOSUID;
		if (sv.f_flag & ST_NODEV)
			flags |= MS_NODEV;
		if (sv.f_flag & ST_NOEXEC)
			flags |= MS_NOEXEC;
		if (sv.f_flag & ST_NOATIME)
			flags |= MS_NOATIME;
		if (sv.f_flag & ST_NODIRATIME)
			flags |= MS_NODIRATIME;
		if (sv.f_flag & ST_RELATIME)
			flags |= MS_RELATIME;
	}
	snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
	r = mount(NULL, target, NULL, flags, NULL);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

#endif
