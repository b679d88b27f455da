// cfloor: the floor for a spawn, in C. What nsh's kernel work costs with
// nothing else around it: a cgroup of its own in every hierarchy nsh uses
// (memory, cpu, cpuacct, pids on v1 and the unified one), entered with
// CLONE_INTO_CGROUP on cgroup2 and by the child's own write of 0 to each
// v1 tasks file; clone3 with six new namespaces and CLONE_VFORK; in the
// child a private / and a fresh /proc, then execve; wait; remove the
// cgroups. Static, linked with musl as nsh is (bench/run.sh builds it).
//
//	cfloor oneshot CMD...     one spawn
//	cfloor full [-n N] CMD... with memory.max 100M and pids.max 20, N times
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

struct kclone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

static const char *hier[] = {"memory", "cpu", "cpuacct", "pids", "unified"};
#define NH (sizeof hier / sizeof hier[0])

// own finds this process's cgroup in hierarchy h ("" for the unified one).
static int own(const char *h, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -1;
	char line[4096];
	int found = -1;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		if (!b)
			continue;
		*b = 0;
		char *ctrls = a + 1, *path = b + 1;
		int match = 0;
		if (*h == 0)
			match = *ctrls == 0;
		else
			for (char *c = strtok(ctrls, ","); c; c = strtok(NULL, ","))
				match |= strcmp(c, h) == 0;
		if (match) {
			snprintf(out, size, "%s", path);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static int put(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = write(fd, v, strlen(v)) == (ssize_t)strlen(v) ? 0 : -1;
	close(fd);
	return r;
}

static int spawn(int full, char **cmd, int i)
{
	char dirs[NH][4096];
	int made[NH] = {0}, place[NH], nplace = 0, cgfd = -1;
	for (size_t h = 0; h < NH; h++) {
		char parent[3000], probe[600];
		const char *name = strcmp(hier[h], "unified") == 0 ? "" : hier[h];
		snprintf(probe, sizeof probe, "/sys/fs/cgroup/%s/cgroup.procs", hier[h]);
		if (access(probe, F_OK) != 0 || own(name, parent, sizeof parent) != 0)
			continue;
		snprintf(dirs[h], sizeof dirs[h], "/sys/fs/cgroup/%s%s/cfloor-%d-%d", hier[h], parent, getpid(), i);
		if (mkdir(dirs[h], 0755) != 0)
			return -1;
		made[h] = 1;
		char p[4200];
		if (full && strcmp(hier[h], "memory") == 0) {
			snprintf(p, sizeof p, "%s/memory.limit_in_bytes", dirs[h]);
			put(p, "104857600");
		}
		if (full && strcmp(hier[h], "pids") == 0) {
			snprintf(p, sizeof p, "%s/pids.max", dirs[h]);
			put(p, "20");
		}
		if (strcmp(hier[h], "unified") == 0) {
			cgfd = open(dirs[h], O_PATH | O_DIRECTORY | O_CLOEXEC);
		} else {
			snprintf(p, sizeof p, "%s/tasks", dirs[h]);
			place[nplace++] = open(p, O_WRONLY | O_CLOEXEC);
		}
	}
	struct kclone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = CLONE_VFORK | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
	ca.exit_signal = SIGCHLD;
	if (cgfd >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)cgfd;
	}
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0) {
		for (int k = 0; k < nplace; k++)
			if (write(place[k], "0", 1) != 1)
				_exit(126);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
			_exit(126);
		execv(cmd[0], cmd);
		_exit(127);
	}
	for (int k = 0; k < nplace; k++)
		close(place[k]);
	if (cgfd >= 0)
		close(cgfd);
	int status = 0;
	if (pid > 0)
		waitpid((pid_t)pid, &status, 0);
	for (size_t h = NH; h-- > 0;)
		if (made[h])
			rmdir(dirs[h]);
	return pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "oneshot") != 0 && strcmp(argv[1], "full") != 0)) {
		fprintf(stderr, "usage: cfloor oneshot|full [-n N] CMD...\n");
		return 2;
	}
	int full = strcmp(argv[1], "full") == 0, n = 1;
	char **cmd = argv + 2;
	if (argc > 4 && strcmp(cmd[0], "-n") == 0) {
		n = atoi(cmd[1]);
		cmd += 2;
	}
	for (int i = 0; i < n; i++)
		if (spawn(full, cmd, i) != 0) {
			fprintf(stderr, "cfloor: spawn %d failed: %s\n", i, strerror(errno));
			return 1;
		}
	return 0;
}
