/* What nsh asks of a new child stage (clone.h), as Go fills it in
 * (clonestage.go). */
#ifndef NSH_CLONE_ARGS_H
#define NSH_CLONE_ARGS_H

#include <stdint.h>

#define NSH_CLONE_MAX_FDS 64
#define NSH_CLONE_MAX_JOIN 16

struct nsh_clone_args {
	uint64_t flags;     // CLONE_NEW* to make
	int cgroup_fd;      // a cgroup2 directory to be born in, or -1
	int pdeathsig;      // the signal the child gets when nsh's thread dies
	int setsid, setctty, setpgid, foreground;
	int ctty;           // the terminal, as the child's descriptor number
	int nfds;           // fds[i] becomes the child's descriptor i
	int fds[NSH_CLONE_MAX_FDS];
	// Namespaces to join (setns), by the child's descriptor numbers,
	// then a root and a working directory to take (-1: none).
	int njoin;
	int join_fds[NSH_CLONE_MAX_JOIN], join_flags[NSH_CLONE_MAX_JOIN];
	int join_root, join_cwd;
	// The stage shares nsh's memory (CLONE_VM|CLONE_VFORK) where nsh
	// has nothing to do until its execve: clone.h says when Go may ask.
	int share_memory;
	int pidfd; // out: the child's pidfd
};

long nsh_clone_stage(struct nsh_clone_args *in);
int nsh_stage_forgets_go(void);
long nsh_shared_stages(void);
int nsh_shared_stage_possible(void);

#endif
