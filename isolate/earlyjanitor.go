package isolate

// extern int nsh_early_janitor_pid, nsh_early_janitor_in, nsh_early_janitor_status;
// void nsh_janitor_early_join(void);
import "C"

import "nsh/isolate/cgroup"

// A script run's janitor is started by the constructor, before Go, on a
// thread of its own (janitor.c says why); package cgroup takes it over
// before anything could need one, once that thread is done.
func init() {
	C.nsh_janitor_early_join()
	if pid := int(C.nsh_early_janitor_pid); pid > 0 {
		cgroup.AdoptJanitor(pid, int(C.nsh_early_janitor_in), int(C.nsh_early_janitor_status))
	}
}
