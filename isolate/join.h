/* Joining namespaces in the child stage, where no other thread shares the
 * process (setns into a mount or user namespace needs that).
 * Part of the child stage: stage.c includes it into one translation unit,
 * so every function stays static. */
#ifndef NSH_JOIN_H
#define NSH_JOIN_H

static void join_namespaces(const struct nsh_clone_args *a)
{
	int n = a->njoin, all = 0;
	const int *fds = a->join_fds, *flags = a->join_flags;
	if (n == 0)
		return;
	for (int i = 0; i < n; i++)
		all |= flags[i];

	// As nsenter does: first everything but the user namespace, while
	// the stage still has its privileges over namespaces of its own user
	// namespace (root joining a child's); what that refuses is joined
	// after the user namespace, whose owner it then is (a non-root user
	// joining a child of its own user namespace).
	int joined[NSH_CLONE_MAX_JOIN] = {0};
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < n; i++) {
			int user_only = flags[i] == CLONE_NEWUSER;
			if (joined[i] || (pass == 1) != user_only)
				continue;
			char names[256];
			flag_names(flags[i], names, sizeof names);
			if (pass > 0)
				step("setns(%d, %s)", fds[i], names);
			if (setns(fds[i], flags[i]) < 0) {
				if (pass == 0 && errno == EPERM)
					continue;
				die(errno, "setns(%s)", names);
			}
			if (pass == 0)
				step("setns(%d, %s)", fds[i], names);
			joined[i] = 1;
			close(fds[i]);
		}
	}

	int root = a->join_root, cwd = a->join_cwd;
	if (root >= 0) {
		step("chroot to the target's root (fchdir, chroot .)");
		if (fchdir(root) < 0 || chroot(".") < 0)
			die(errno, "chroot to the target's root");
		close(root);
	}
	if (cwd >= 0) {
		if (fchdir(cwd) < 0)
			die(errno, "chdir to the target's working directory");
		close(cwd);
	}
	if (all & CLONE_NEWPID) {
		step("fork: a joined pid namespace applies to children only");
		pid_t child = fork_stage();
		if (child < 0)
			die(errno, "fork into the joined pid namespace");
		if (child == 0) {
			// getppid() is 0 here: the relay is outside this pid
			// namespace, so a died-before-prctl check cannot see it.
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		} else {
			close(NSH_STAGE_FD); // end of file comes when the child execs
			relay(child, 0);
		}
	}
	// Which process runs the command is said by the kernel, not by us: a
	// pid this process computed (getpid) is a number of its own pid
	// namespace, 1 in a new one, and means another process to nsh. The
	// parent reads this line's sender from SCM_CREDENTIALS, which the
	// kernel translates into nsh's pid namespace.
	send_line("{\"here\":true}\n");
}

#endif
