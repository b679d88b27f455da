/* The program's encoding and the helpers its steps use.
 * Part of the child stage: stage.c includes it into one translation unit,
 * so every function stays static. */
#ifndef NSH_STEPS_H
#define NSH_STEPS_H

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
	// The stage's own /proc/self files (timens_offsets) belong to root
	// while it is not dumpable: its memory is a copy of nsh's, made in
	// nsh's user namespace (clone.h), and in a user namespace nsh made
	// without root it would be denied them. Dumpable for the open only,
	// while no other process is in its namespaces yet.
	int self = strncmp(path, "/proc/self/", 11) == 0;
	if (self)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (self) {
		int e = errno;
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		errno = e;
	}
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
// The stage closed all but nsh's own at its start (clone.h); this is the
// second lock of the same door.
static void mark_cloexec_from(int from)
{
	syscall(SYS_close_range, from, ~0U, CLOSE_RANGE_CLOEXEC);
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

#endif
