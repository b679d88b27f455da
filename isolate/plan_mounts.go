package isolate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/plan"
)

// planMounts plans the `mount` commands' mounts: under root, resolved
// inside it, or ("" for root) in the child's own view of the host's tree.
func planMounts(p *program, spec *plan.Spec, root string) {
	for _, m := range spec.Mounts {
		target := filepath.Join(root, m.Target)
		mount := func(desc, what, src, fstype string, flags uint64, data string) {
			if root == "" {
				p.add(opMount, desc, what, src, target, fstype, u(flags), data)
			} else {
				p.add(opMountIn, desc, what, src, m.Target, fstype, u(flags), data)
			}
		}
		if root != "" {
			// Inside a rootfs a missing mount point is made, as runc
			// does: a file for a bind of a file, else a directory.
			if st, err := os.Stat(m.Source); m.Type == "bind" && err == nil && !st.IsDir() {
				p.add(opCreateIn, "", "make mount point "+target, m.Target, "420")
			} else {
				p.add(opMkdirIn, "", "make mount point "+target, m.Target, "493")
			}
		}
		switch m.Type {
		case "proc":
			mount(fmt.Sprintf("mount(proc, %s, proc)", target), "mount proc on "+target, "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		case "sysfs":
			// Read-only, as runc's template has it: a root child must not
			// write the host's devices' attributes.
			mount(fmt.Sprintf("mount(sysfs, %s, sysfs, MS_RDONLY)", target), "mount sysfs on "+target, "sysfs", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "")
		case "mqueue":
			mount(fmt.Sprintf("mount(mqueue, %s, mqueue)", target), "mount mqueue on "+target, "mqueue", "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		case "tmpfs":
			flags, data := mountOptions(m.Options)
			opts := data
			if opts == "" {
				opts = "-"
			}
			mount(fmt.Sprintf("mount(tmpfs, %s, %s, %s)", target, mountFlagNames(flags), opts), "mount a tmpfs on "+target, "tmpfs", "tmpfs", uint64(flags), data)
		case "bind":
			mount(fmt.Sprintf("mount(--bind %s %s)", m.Source, target), "bind "+m.Source+" on "+target, m.Source, "", unix.MS_BIND|unix.MS_REC, "")
			if m.ReadOnly {
				flags := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | lockedFlags(m.Source)
				mount(fmt.Sprintf("mount(remount %s read-only)", target), "remount "+target+" read-only", "", "", uint64(flags), "")
			}
		}
	}
}

// mountFlagWords are mount(8)'s words that are flags of mount(2), not
// data for the filesystem: what each sets, or clears.
var mountFlagWords = map[string]struct {
	flag  uintptr
	clear bool
}{
	"ro": {unix.MS_RDONLY, false}, "rw": {unix.MS_RDONLY, true},
	"noexec": {unix.MS_NOEXEC, false}, "exec": {unix.MS_NOEXEC, true},
	"sync": {unix.MS_SYNCHRONOUS, false}, "async": {unix.MS_SYNCHRONOUS, true},
	"dirsync": {unix.MS_DIRSYNC, false},
	"noatime": {unix.MS_NOATIME, false}, "atime": {unix.MS_NOATIME, true},
	"nodiratime": {unix.MS_NODIRATIME, false}, "diratime": {unix.MS_NODIRATIME, true},
	"relatime": {unix.MS_RELATIME, false}, "norelatime": {unix.MS_RELATIME, true},
	"strictatime": {unix.MS_STRICTATIME, false}, "nostrictatime": {unix.MS_STRICTATIME, true},
	"lazytime": {unix.MS_LAZYTIME, false}, "nolazytime": {unix.MS_LAZYTIME, true},
	"nosuid": {unix.MS_NOSUID, false}, "nodev": {unix.MS_NODEV, false},
	"defaults": {0, false},
}

// mountOptions splits a mount's options as mount(8) does: the words that
// are mount(2) flags, on top of nosuid and nodev, and the rest, which is
// the filesystem's data (size=64m, mode=1777).
func mountOptions(options string) (flags uintptr, data string) {
	flags = unix.MS_NOSUID | unix.MS_NODEV
	var rest []string
	for _, w := range strings.Split(options, ",") {
		if f, ok := mountFlagWords[w]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if w != "" && plan.MountOptionIgnored(w) == "" {
			rest = append(rest, w)
		}
	}
	return flags, strings.Join(rest, ",")
}

// mountFlagNames is flags as explain shows them.
func mountFlagNames(flags uintptr) string {
	var names []string
	for _, f := range []struct {
		f    uintptr
		name string
	}{{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"}, {unix.MS_NODEV, "MS_NODEV"}, {unix.MS_NOEXEC, "MS_NOEXEC"},
		{unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {unix.MS_DIRSYNC, "MS_DIRSYNC"}, {unix.MS_NOATIME, "MS_NOATIME"},
		{unix.MS_NODIRATIME, "MS_NODIRATIME"}, {unix.MS_RELATIME, "MS_RELATIME"}, {unix.MS_STRICTATIME, "MS_STRICTATIME"},
		{unix.MS_LAZYTIME, "MS_LAZYTIME"}} {
		if flags&f.f != 0 {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, "|")
}
