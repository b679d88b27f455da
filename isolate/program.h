/* The program: its seccomp filter, a probe instead of a command, and the
 * interpreter that carries out Go's plan (plan.go).
 * Part of the child stage: stage.c includes it into one translation unit,
 * so every function stays static. */
#ifndef NSH_PROGRAM_H
#define NSH_PROGRAM_H

// A filter the program asked to install just before execve (with
// no_new_privs, as late as runc installs it), and the step that asked.
static const char *late_filter;
static uint32_t late_filter_len;
static int late_filter_op;

static int install_filter(const char *bpf, uint32_t len)
{
	struct sock_fprog prog = {.len = (unsigned short)(len / 8), .filter = (struct sock_filter *)bpf};
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

// install_late installs the deferred filter; nothing of the stage's own
// runs under it but execve (or the probe).
static void install_late(void)
{
	if (late_filter && install_filter(late_filter, late_filter_len) < 0)
		op_failed(late_filter_op, errno, NULL);
}

// probe makes one system call as the command would, then says what the
// kernel answered. A call that forks returns twice: the new process
// leaves quietly. One that blocks is ended by the alarm; one the filter
// kills ends by SIGSYS, which nsh reads from the wait status.
static void probe_blocked(int sig)
{
	(void)sig;
	send_line("{\"probe\":true,\"blocked\":true}\n");
	_exit(0);
}

static void probe(char **args)
{
	long nr = (long)num(args[0]);
	uint64_t a[6];
	for (int i = 0; i < 6; i++)
		a[i] = num(args[1 + i]);
	pid_t me = getpid();
	// A handler, not the default action: PID 1 of a pid namespace
	// ignores a SIGALRM it has no handler for.
	signal(SIGALRM, probe_blocked);
	alarm(2);
	install_late();
	errno = 0;
	long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	int err = errno;
	if (syscall(SYS_getpid) != me)
		_exit(0);
	char line[128];
	snprintf(line, sizeof line, "{\"probe\":true,\"ret\":%ld,\"perr\":%d}\n", r < 0 ? -1L : r, r < 0 ? err : 0);
	send_line(line);
	_exit(0);
}

// stage_mem holds the program, one step's arguments and the command's
// path side by side. The stage is a new process, and each page it touches
// first costs a fault that is dearer in a new address space than in an old
// one (on the development VM about as much as tens of system calls): the
// program in malloc's memory and three arrays of their own took five
// pages, these take two for a program of a few kilobytes. A larger
// program gets memory of its own.
static char stage_mem[48 * 1024] __attribute__((aligned(16)));

static void run_program(void)
{
	uint32_t len;
	if (read_full(NSH_STAGE_FD, &len, sizeof len) < 0 || len > (64u << 20))
		die(EPROTO, "read the program from nsh");
	// An argument takes at least five bytes of the program (its length
	// and its NUL), so no step has more than len/5; exec adds two NULLs.
	size_t cap = len / 5 + 2;
	if (cap > MAX_ARGS + 2)
		cap = MAX_ARGS + 2;
	size_t at_args = ((size_t)len + 1 + 7) & ~(size_t)7;
	size_t at_path = at_args + cap * (sizeof(char *) + sizeof(uint32_t));
	size_t need = at_path + PATH_MAX;
	char *mem = stage_mem;
	if (need > sizeof stage_mem) {
		mem = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			die(errno, "memory for the program");
	}
	char *prog = mem;
	char **args = (char **)(mem + at_args);
	uint32_t *arglen = (uint32_t *)(args + cap);
	char *path = mem + at_path;
	if (read_full(NSH_STAGE_FD, prog, len) < 0)
		die(EPROTO, "read the program from nsh");
	prog[len] = 0;
	char *p = prog, *end = prog + len;
	explain = *p++;
	for (int op = 1; p < end; op++) {
		if (end - p < 3)
			die(EPROTO, "truncated program");
		int code = (unsigned char)*p++;
		unsigned nargs = (unsigned char)p[0] | (unsigned char)p[1] << 8;
		p += 2;
		if (nargs > MAX_ARGS || nargs + 2 > cap)
			die(EPROTO, "too many arguments");
		for (unsigned i = 0; i < nargs; i++) {
			uint32_t n;
			if (end - p < 4)
				die(EPROTO, "truncated program");
			memcpy(&n, p, 4);
			p += 4;
			if ((uint32_t)(end - p) < n)
				die(EPROTO, "truncated program");
			args[i] = p;
			arglen[i] = n;
			p += n;
			// Each argument is followed by a NUL that the parent wrote.
			p++;
		}
		args[nargs] = NULL;
		if (explain && code != OP_EXEC && code != OP_EXECFORK) {
			char line[64];
			snprintf(line, sizeof line, "{\"op\":%d}\n", op);
			send_line(line);
		}
		int r = 0;
		switch (code) {
		case OP_UNSHARE:
			r = unshare((int)num(args[0]));
			break;
		case OP_MOUNT:
			r = mount(*args[0] ? args[0] : NULL, args[1], *args[2] ? args[2] : NULL, num(args[3]), *args[4] ? args[4] : NULL);
			break;
		case OP_UMOUNT:
			r = umount2(args[0], (int)num(args[1]));
			break;
		case OP_SETHOSTNAME:
			r = sethostname(args[0], strlen(args[0]));
			break;
		case OP_WRITE:
			r = write_file(args[0], args[1]);
			break;
		case OP_WRITEFD: {
			int fd = (int)num(args[0]);
			r = write_all(fd, args[1], strlen(args[1]));
			close(fd);
			break;
		}
		case OP_MKDIR:
			r = mkdir(args[0], (mode_t)num(args[1]));
			if (r < 0 && errno == EEXIST)
				r = 0;
			break;
		case OP_CREATE: {
			int fd = open(args[0], O_CREAT | O_WRONLY | O_CLOEXEC, (mode_t)num(args[1]));
			r = fd < 0 ? -1 : close(fd);
			break;
		}
		case OP_SYMLINK:
			r = symlink(args[0], args[1]);
			if (r < 0 && errno == EEXIST)
				r = 0;
			break;
		case OP_CHDIR:
			r = chdir(args[0]);
			break;
		case OP_PIVOT:
			r = syscall(SYS_pivot_root, args[0], args[1]);
			break;
		case OP_LINKUP:
			r = link_up(args[0]);
			break;
		case OP_PRCTL:
			r = prctl((int)num(args[0]), (unsigned long)num(args[1]), (unsigned long)num(args[2]), 0, 0);
			break;
		case OP_SETGROUPS: {
			gid_t gs[256];
			unsigned n = 0;
			for (unsigned i = 0; i < nargs && n < 256; i++)
				gs[n++] = (gid_t)num(args[i]);
			r = syscall(SYS_setgroups, n, gs);
			// Denied in a user namespace whose gid_map was written
			// without privilege; there are no groups to clear then.
			if (r < 0 && errno == EPERM)
				r = 0;
			break;
		}
		case OP_SETRESGID: {
			gid_t g = (gid_t)num(args[0]);
			r = syscall(SYS_setresgid, g, g, g);
			break;
		}
		case OP_SETRESUID: {
			uid_t u = (uid_t)num(args[0]);
			r = syscall(SYS_setresuid, u, u, u);
			break;
		}
		case OP_CAPSET:
			r = capset3(num(args[0]), num(args[1]), num(args[2]));
			break;
		case OP_CLEARINH:
			r = clear_inheritable();
			break;
		case OP_AMBIENT: {
			uint64_t raise = num(args[0]);
			r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
			for (int c = 0; c < 64 && r == 0; c++)
				if (raise & (1ULL << c))
					r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
			break;
		}
		case OP_EXEC:
		case OP_EXECFORK:
		case OP_EXECGUARD: {
			// args: PATH, argc, argv..., envp...
			unsigned argc = (unsigned)num(args[1]);
			char **argv = &args[2];
			char **envp = &args[2 + argc + 1];
			// Split argv from envp with the NULL execve wants.
			for (unsigned i = nargs; i > 2 + argc; i--)
				args[i] = args[i - 1];
			args[2 + argc] = NULL;
			args[nargs + 1] = NULL;
			// Nothing of nsh's but 0, 1 and 2 reaches the command,
			// not even what nsh itself inherited without close-on-exec.
			mark_cloexec_from(3);
			int err = find_exec(argv[0], args[0], path, PATH_MAX);
			if (err)
				op_failed(op, err, argv[0]);
			if (explain) {
				op_step_exec(op, path);
				// nsh says when it has shown the step: the command's
				// first output must not come before its execve line.
				char ack;
				if (read_full(NSH_STAGE_FD, &ack, 1) < 0)
					_exit(1);
			}
			if (code == OP_EXECFORK || code == OP_EXECGUARD) {
				pid_t child = fork_stage();
				if (child < 0)
					op_failed(op, errno, NULL);
				if (child == 0) {
					install_late();
					if (code == OP_EXECGUARD) {
						prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
						// nsh reads who runs the command from
						// the credentials of this line.
						send_line("{\"here\":true}\n");
					}
					execve(path, argv, envp);
					op_failed(op, errno, argv[0]);
				}
				close(NSH_STAGE_FD);
				relay(child, code == OP_EXECGUARD);
			}
			install_late();
			execve(path, argv, envp);
			op_failed(op, errno, argv[0]);
		}
		case OP_ROOTFD:
			if (rootfd >= 0)
				close(rootfd);
			rootfd = open(args[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
			r = rootfd < 0 ? -1 : 0;
			break;
		case OP_MOUNTIN:
			r = mount_in_root(*args[0] ? args[0] : NULL, args[1], *args[2] ? args[2] : NULL, num(args[3]), *args[4] ? args[4] : NULL);
			break;
		case OP_MKDIRIN:
			r = mkdir_in_root(args[0], (mode_t)num(args[1]));
			break;
		case OP_MASKIN:
			r = mask_in_root(args[0]);
			break;
		case OP_READONLYIN:
			r = readonly_in_root(args[0]);
			break;
		case OP_CREATEIN: {
			const char *base;
			int dir = parent_in_root(args[0], &base);
			if (dir < 0) {
				r = -1;
				break;
			}
			close(dir);
			// There already (a file, a device node): the mount decides.
			int fd = open_in_root(args[0], O_PATH, 0);
			if (fd < 0 && errno == ENOENT)
				fd = open_in_root(args[0], O_CREAT | O_EXCL | O_WRONLY, (mode_t)num(args[1]));
			r = fd < 0 ? -1 : close(fd);
			break;
		}
		case OP_SYMLINKIN: {
			const char *base;
			int dir = parent_in_root(args[1], &base);
			if (dir < 0) {
				r = -1;
				break;
			}
			r = symlinkat(args[0], dir, base);
			if (r < 0 && errno == EEXIST)
				r = 0;
			int e = errno;
			close(dir);
			errno = e;
			break;
		}
		case OP_SECCOMP:
			// args: "now" or "exec", the program (struct sock_filter[])
			if (nargs != 2 || arglen[1] % 8 != 0 || arglen[1] == 0 || arglen[1] / 8 > 65535)
				die(EPROTO, "bad seccomp program");
			if (strcmp(args[0], "now") == 0) {
				r = install_filter(args[1], arglen[1]);
			} else {
				late_filter = args[1];
				late_filter_len = arglen[1];
				late_filter_op = op;
			}
			break;
		case OP_PROBE:
			if (nargs != 7)
				die(EPROTO, "bad probe");
			probe(args);
			break;
		default:
			die(EPROTO, "unknown step %d", code);
		}
		if (r < 0)
			op_failed(op, errno, NULL);
	}
	die(EPROTO, "the program has no exec");
}

#endif
