/* The op codes of the child stage's program: Go plans (plan.go reads these
 * names through cgo, ops.go), the stage interprets (stage.c). One list, so
 * the two can never disagree. */
#ifndef NSH_OPS_H
#define NSH_OPS_H

enum {
	OP_UNSHARE = 1, OP_MOUNT, OP_UMOUNT, OP_SETHOSTNAME, OP_WRITE, OP_WRITEFD,
	OP_MKDIR, OP_CREATE, OP_SYMLINK, OP_CHDIR, OP_PIVOT, OP_LINKUP, OP_PRCTL,
	OP_SETGROUPS, OP_SETRESGID, OP_SETRESUID, OP_CAPSET, OP_CLEARINH,
	OP_AMBIENT, OP_EXEC, OP_EXECFORK,
	/* Below the rootfs, paths are resolved inside it: a symlink there
	 * never leads out to the host. */
	OP_ROOTFD, OP_MOUNTIN, OP_MKDIRIN, OP_CREATEIN, OP_SYMLINKIN,
	/* A relay stays as the command's parent and subreaper and ends it,
	 * and all it left, when nsh dies: for a child with neither a cgroup
	 * nor a pid namespace of its own. */
	OP_EXECGUARD,
	/* A seccomp filter: installed now, or kept for the moment before
	 * execve (with no_new_privs). */
	OP_SECCOMP,
	/* Instead of the command: one system call, and what it returned. */
	OP_PROBE,
	/* An OCI config's masked and read-only paths, inside the rootfs:
	 * whether each is there, a file or a directory, is asked when the
	 * child's /proc and mounts exist. */
	OP_MASKIN, OP_READONLYIN,
};

#endif
