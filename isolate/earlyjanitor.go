package isolate

// extern int nsh_early_janitor_pid, nsh_early_janitor_in, nsh_early_janitor_status;
// void nsh_janitor_early_join(void);
// void nsh_prefetched(const char **mi, long *milen, const char **cg, long *cglen);
import "C"

import (
	"unsafe"

	"nsh/isolate/cgroup"
)

// A script run's janitor is started by the constructor, before Go, on a
// thread of its own (janitor_early.c says why); package cgroup takes it over
// before anything could need one, once that thread is done.
func init() {
	C.nsh_janitor_early_join()
	if pid := int(C.nsh_early_janitor_pid); pid > 0 {
		cgroup.AdoptJanitor(pid, int(C.nsh_early_janitor_in), int(C.nsh_early_janitor_status))
	}
	// That thread also read ahead what cgroup detection reads
	// (prefetch.c).
	var mi, cg *C.char
	var miLen, cgLen C.long
	C.nsh_prefetched(&mi, &miLen, &cg, &cgLen)
	if miLen >= 0 && cgLen >= 0 {
		cgroup.ReadAhead(C.GoBytes(unsafe.Pointer(mi), C.int(miLen)), C.GoBytes(unsafe.Pointer(cg), C.int(cgLen)))
	}
}
