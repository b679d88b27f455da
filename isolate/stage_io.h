/* The stage's messages to nsh (JSON lines on fd 3), its failure, and
 * small helpers.
 * Part of the child stage: stage.c includes it into one translation unit,
 * so every function stays static. */
#ifndef NSH_STAGE_IO_H
#define NSH_STAGE_IO_H

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

// fork_stage forks the stage as fork(2) would, but as a system call:
// musl's fork takes locks that, in a copy of nsh, another thread of nsh
// may have held at the clone (clone.h), and it would wait for them for
// ever.
static pid_t fork_stage(void)
{
	return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

#endif
