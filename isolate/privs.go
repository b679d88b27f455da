package isolate

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"nsh/isolate/capability"
)

// applyPrivileges gives the child stage the user, capabilities and
// no_new_privs of the spec, in runc's order: no_new_privs, the bounding
// set while still root, keep capabilities across the change of ids, the
// ids, then the capability sets, ambient last. Capabilities are per
// thread; the stage runs on its locked main thread and execs from it.
func (st *stage) applyPrivileges(spec *Spec) error {
	if spec.NoNewPrivs {
		st.step("prctl(PR_SET_NO_NEW_PRIVS, 1)")
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
		}
	}
	uid := os.Getuid()
	if spec.User != nil {
		uid = spec.User.UID
	}
	var caps *Caps
	if spec.Caps != nil {
		c := spec.Caps.Final(uid)
		caps = &c
		last := capability.Last()
		for cp := 0; cp <= last; cp++ {
			if c.Bounding&(1<<uint(cp)) != 0 {
				continue
			}
			if on, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(cp), 0, 0, 0); on == 0 {
				continue
			}
			st.step("prctl(PR_CAPBSET_DROP, %s)", capability.Name(cp))
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(cp), 0, 0, 0); err != nil {
				return fmt.Errorf("prctl(PR_CAPBSET_DROP, %s): %w", capability.Name(cp), err)
			}
		}
	}
	if u := spec.User; u != nil {
		if caps != nil {
			st.step("prctl(PR_SET_KEEPCAPS, 1)")
			if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
				return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", err)
			}
		}
		st.step("setgroups([]), setresgid(%d), setresuid(%d)", u.GID, u.UID)
		// A user namespace whose gid_map was written without privilege
		// denies setgroups; there are no groups to clear then anyway.
		if err := syscall.Setgroups(nil); err != nil && !errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("setgroups([]): %w", err)
		}
		if err := syscall.Setresgid(u.GID, u.GID, u.GID); err != nil {
			return idError("setresgid", u.GID, err)
		}
		if err := syscall.Setresuid(u.UID, u.UID, u.UID); err != nil {
			return idError("setresuid", u.UID, err)
		}
		if caps != nil {
			st.step("prctl(PR_SET_KEEPCAPS, 0)")
			unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
		}
		// A change of ids clears the parent-death signal.
		unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	}
	if caps == nil {
		return nil
	}
	st.step("capset(eff=%#x, prm=%#x, inh=%#x)", caps.Effective, caps.Permitted, caps.Inheritable)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(caps.Effective), Permitted: uint32(caps.Permitted), Inheritable: uint32(caps.Inheritable)},
		{Effective: uint32(caps.Effective >> 32), Permitted: uint32(caps.Permitted >> 32), Inheritable: uint32(caps.Inheritable >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("capset: %w: nsh's child stage does not hold all of %s", err, capability.Decode(caps.Permitted))
		}
		return fmt.Errorf("capset: %w", err)
	}
	unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	for cp := 0; cp < 64; cp++ {
		if caps.Ambient&(1<<uint(cp)) == 0 {
			continue
		}
		st.step("prctl(PR_CAP_AMBIENT_RAISE, %s)", capability.Name(cp))
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(cp), 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_CAP_AMBIENT_RAISE, %s): %w", capability.Name(cp), err)
		}
	}
	return nil
}

func idError(call string, id int, err error) error {
	if errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("%s(%d): %w: the id is not mapped in the child's user namespace (see map)", call, id, err)
	}
	return fmt.Errorf("%s(%d): %w", call, id, err)
}

// writeSysctls writes the spec's sysctls; /proc/sys shows the namespaces
// of the process that opens it, which here are the child's.
func (st *stage) writeSysctls(spec *Spec) error {
	for _, sc := range spec.Sysctls {
		st.step("write %q to %s", sc.Value, SysctlPath(sc.Key))
		if err := os.WriteFile(SysctlPath(sc.Key), []byte(sc.Value), 0); err != nil {
			return fmt.Errorf("sysctl %s=%q: %w", sc.Key, sc.Value, err)
		}
	}
	return nil
}
