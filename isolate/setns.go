package isolate

// The constructor in stage.c runs the child stage and joins namespaces
// before the Go runtime starts; this import is what links it into every
// binary using isolate.

// #cgo CFLAGS: -Wall -Werror
// int nsh_janitor_fork(int rfd);
import "C"

import (
	"os"

	"nsh/isolate/cgroup"
)

func init() {
	// The cgroup janitor is forked by C code (stage.c), so package cgroup
	// needs no cgo of its own.
	cgroup.ForkJanitor = func(r *os.File) (int, error) {
		pid, err := C.nsh_janitor_fork(C.int(r.Fd()))
		if pid < 0 {
			return 0, err
		}
		return int(pid), nil
	}
}
