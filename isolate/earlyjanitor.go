package isolate

// extern int nsh_early_janitor_pid, nsh_early_janitor_in, nsh_early_janitor_status;
import "C"

import "nsh/isolate/cgroup"

// A script run's janitor is started by the constructor, before Go
// (janitor.c says why); package cgroup takes it over before anything
// could need one.
func init() {
	if pid := int(C.nsh_early_janitor_pid); pid > 0 {
		cgroup.AdoptJanitor(pid, int(C.nsh_early_janitor_in), int(C.nsh_early_janitor_status))
	}
}
