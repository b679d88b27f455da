//go:build floorcgo

// Built with this file (go build -tags floorcgo, static, as nsh is), the
// floor is linked as the brief's design makes nsh: a C constructor that
// runs before the Go runtime. Its stage-* modes also have the design's
// child stage: the child re-executes the floor, whose constructor moves
// itself into its v1 cgroups and mounts a fresh /proc, as nsh's stage does
// for a new pid and mount namespace, and executes the command without
// ever starting Go. That is the fastest Go program doing what the design
// requires, which nsh's ratios can be read against.

package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../isolate
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>

// The command comes in _FLOOR_STAGE, its words split by \x1f: musl,
// unlike glibc, passes a constructor no arguments.
__attribute__((constructor)) static void floor_stage(void)
{
	char *words = getenv("_FLOOR_STAGE");
	if (words == NULL)
		return; // a Go start, as nsh's: nothing mapped ahead
	char *argv[64];
	int n = 0;
	for (char *w = words; w != NULL && n < 63;) {
		argv[n++] = w;
		w = strchr(w, 0x1f);
		if (w != NULL)
			*w++ = 0;
	}
	argv[n] = NULL;
	const char *place = getenv("_FLOOR_PLACE");
	for (int i = 0, np = place ? atoi(place) : 0; i < np; i++) {
		if (write(3 + i, "0", 1) != 1)
			_exit(126);
		close(3 + i);
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}
*/
import "C"

func init() { stageAvailable = true }
