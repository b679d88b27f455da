package isolate

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"nsh/isolate/capability"
	"nsh/isolate/seccomp/bpf"
	"nsh/plan"
)

// cloneFlag maps a namespace type to its CLONE_NEW* flag.
var cloneFlag = map[string]uintptr{
	"cgroup": unix.CLONE_NEWCGROUP,
	"ipc":    unix.CLONE_NEWIPC,
	"mnt":    unix.CLONE_NEWNS,
	"net":    unix.CLONE_NEWNET,
	"pid":    unix.CLONE_NEWPID,
	"time":   unix.CLONE_NEWTIME,
	"user":   unix.CLONE_NEWUSER,
	"uts":    unix.CLONE_NEWUTS,
}

// cloneFlags is the OR of the CLONE_NEW* flags the spec asks for, less
// two the child stage unshares itself: CLONE_NEWTIME, since a time
// namespace's offsets can only be written before any process is in it,
// and CLONE_NEWCGROUP, since a cgroup namespace's root is the cgroup its
// creator is in, and on v1 the child is placed in its cgroups after clone.
func cloneFlags(s *plan.Spec) uintptr {
	var f uintptr
	for _, n := range s.Namespaces {
		if n != "time" && n != "cgroup" {
			f |= cloneFlag[n]
		}
	}
	return f
}

// HostCaps is what a plan's capabilities resolve against here: nsh's own
// sets and every capability the kernel has. Without nsh's own (no
// /proc), a child of a plan without a user namespace can hold none.
func HostCaps() plan.Host {
	h := plan.Host{All: capability.All()}
	if own, err := OwnCreds(); err == nil {
		h.Own = plan.Caps{Bounding: own.Bounding, Permitted: own.Permitted, Effective: own.Effective, Inheritable: own.Inheritable, Ambient: own.Ambient}
	}
	return h
}

// Available is what a child of spec can hold on this host.
func Available(s *plan.Spec) (bounding, permitted uint64) { return s.Available(HostCaps()) }

// Check is the plan's own Validate and what only this host can answer:
// that each sysctl exists here, that libseccomp knows each system call.
func Check(s *plan.Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	for _, sc := range s.Sysctls {
		if _, err := os.Stat(plan.SysctlPath(sc.Key)); err != nil {
			return fmt.Errorf("unknown sysctl %s: no %s", sc.Key, plan.SysctlPath(sc.Key))
		}
	}
	if sc := s.Seccomp; sc != nil {
		for _, r := range sc.Rules {
			if err := bpf.CheckNames(r.Names); err != nil {
				return err
			}
		}
	}
	return nil
}
