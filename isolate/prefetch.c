// The two files cgroup detection reads, read ahead.
//
// A script run's first spawn waits for cgroup detection (package cgroup:
// /proc/self/mountinfo and /proc/self/cgroup, then a parse), and reading
// mountinfo alone takes 40 to 100 us: the kernel writes a line for every
// mount. The constructor's thread that spawns the janitor (janitor_early.c)
// reads both here as well, beside the Go runtime's start, and detection
// parses what it read. Detection happens once a session either way
// (cgroup.Detect), so the view is as fresh as it was: taken at the
// session's start instead of at its first spawn. A file that does not
// fit is left for Go to read.

#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

static char mountinfo[64 << 10], self_cgroup[8 << 10];
static long mountinfo_len = -1, self_cgroup_len = -1;

// read_whole reads file into buf, and returns its length, or -1 where it
// could not be read or did not fit.
static long read_whole(const char *file, char *buf, long size)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	long have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, (size_t)(size - have));
		if (n < 0) {
			have = -1;
			break;
		}
		if (n == 0)
			break;
		have += n;
		if (have == size) { // full: it may go on
			have = -1;
			break;
		}
	}
	close(fd);
	return have;
}

void nsh_prefetch(void)
{
	mountinfo_len = read_whole("/proc/self/mountinfo", mountinfo, sizeof mountinfo);
	self_cgroup_len = read_whole("/proc/self/cgroup", self_cgroup, sizeof self_cgroup);
}

// nsh_prefetched gives what nsh_prefetch read (a length of -1: nothing).
void nsh_prefetched(const char **mi, long *milen, const char **cg, long *cglen)
{
	*mi = mountinfo;
	*milen = mountinfo_len;
	*cg = self_cgroup;
	*cglen = self_cgroup_len;
}
