package isolate

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Rootfs is the root filesystem children pivot into.
type Rootfs struct {
	Dir      string `json:"dir"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// Mount is an extra mount in the child's mount namespace. With a rootfs,
// Target is inside it; a bind's Source is on the host.
type Mount struct {
	Type     string `json:"type"` // proc, tmpfs, bind
	Source   string `json:"source,omitempty"`
	Target   string `json:"target"`
	Options  string `json:"options,omitempty"` // tmpfs: size=64M
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// String is the mount as the `mount` command takes it.
func (m Mount) String() string {
	switch m.Type {
	case "bind":
		s := "bind " + m.Source + " " + m.Target
		if m.ReadOnly {
			s += " ro"
		}
		return s
	case "tmpfs":
		return strings.TrimSpace("tmpfs " + m.Target + " " + m.Options)
	}
	return m.Type + " " + m.Target
}

// CheckRootfs says whether dir can be a root filesystem.
func CheckRootfs(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s does not exist: make one with rootfs --busybox %s, debootstrap, or docker export", dir, dir)
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory: a root filesystem is a directory tree (docker export's tar must be unpacked first)", dir)
	}
	return nil
}

func (st *stage) mount(source, target, fstype string, flags uintptr, data string, desc string) error {
	st.step("mount(%s)", desc)
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount(%s): %w", desc, err)
	}
	return nil
}

// setupRootfs prepares the new root and pivots into it, runc's way:
// bind it on itself (pivot_root needs a mount point), mount what it
// needs inside, then pivot_root(".", ".") and detach the old root that
// now sits on top. Never chroot alone: a chroot can be escaped, and the
// host's mounts would stay reachable.
func (st *stage) setupRootfs(spec *Spec) error {
	root := spec.Rootfs.Dir
	if err := st.mount(root, root, "", unix.MS_BIND|unix.MS_REC, "", "--bind "+root+" "+root); err != nil {
		return err
	}
	if isDir(filepath.Join(root, "proc")) {
		const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
		if err := st.mount("proc", filepath.Join(root, "proc"), "proc", flags, "", "proc, "+root+"/proc, proc"); err != nil {
			if errors.Is(err, unix.EPERM) && spec.Has("user") && !spec.Has("pid") {
				return fmt.Errorf("%w: a fresh /proc in a new user namespace needs a new pid namespace too: unshare pid", err)
			}
			return err
		}
	}
	if isDir(filepath.Join(root, "dev")) {
		if err := st.setupDev(filepath.Join(root, "dev")); err != nil {
			return err
		}
	}
	if err := st.extraMounts(spec, root); err != nil {
		return err
	}
	if spec.Rootfs.ReadOnly {
		if err := st.mount("", root, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|lockedFlags(root), "", "remount "+root+" read-only"); err != nil {
			return err
		}
	}
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	st.step("pivot_root(\".\", \".\") in %s, then umount2(\".\", MNT_DETACH)", root)
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into %s: %w", root, err)
	}
	// The old root is mounted on top of the new one; detach it.
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	return unix.Chdir("/")
}

// setupDev gives the rootfs a minimal /dev: a tmpfs with the usual
// character devices bind-mounted from the host (mknod is refused in a
// user namespace, a bind is not), a private devpts and a /dev/shm.
func (st *stage) setupDev(dev string) error {
	if err := st.mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k", "tmpfs, "+dev+", mode=755"); err != nil {
		return err
	}
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		target := filepath.Join(dev, name)
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			return fmt.Errorf("create %s: %w", target, err)
		}
		f.Close()
		if err := st.mount("/dev/"+name, target, "", unix.MS_BIND, "", "--bind /dev/"+name+" "+target); err != nil {
			return err
		}
	}
	pts := filepath.Join(dev, "pts")
	os.Mkdir(pts, 0o755)
	if err := st.mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620", "devpts, "+pts+", newinstance"); err != nil {
		return err
	}
	os.Symlink("pts/ptmx", filepath.Join(dev, "ptmx"))
	shm := filepath.Join(dev, "shm")
	os.Mkdir(shm, 0o1777)
	if err := st.mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k", "tmpfs, "+shm); err != nil {
		return err
	}
	for link, to := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		os.Symlink(to, filepath.Join(dev, link))
	}
	return nil
}

// extraMounts makes the `mount` commands' mounts, under root ("" for the
// child's own view of the host's tree).
func (st *stage) extraMounts(spec *Spec, root string) error {
	for _, m := range spec.Mounts {
		target := filepath.Join(root, m.Target)
		if root != "" {
			// Inside a rootfs a missing mount point is made, as runc does.
			if err := makeMountpoint(m, target); err != nil {
				return err
			}
		}
		switch m.Type {
		case "proc":
			if err := st.mount("proc", target, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "", "proc, "+target+", proc"); err != nil {
				return err
			}
		case "tmpfs":
			if err := st.mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, m.Options, "tmpfs, "+target+", "+orDash(m.Options)); err != nil {
				return err
			}
		case "bind":
			if err := st.mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, "", "--bind "+m.Source+" "+target); err != nil {
				return err
			}
			if m.ReadOnly {
				flags := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | lockedFlags(target)
				if err := st.mount("", target, "", flags, "", "remount "+target+" read-only"); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("unknown mount type %q", m.Type)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// lockedFlags are the flags a read-only remount must keep: in a user
// namespace the kernel refuses to drop nosuid, nodev or noexec that the
// mount came with.
func lockedFlags(path string) uintptr {
	var sfs unix.Statfs_t
	if unix.Statfs(path, &sfs) != nil {
		return 0
	}
	var f uintptr
	for st, ms := range map[int64]uintptr{unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV, unix.ST_NOEXEC: unix.MS_NOEXEC} {
		if sfs.Flags&st != 0 {
			f |= ms
		}
	}
	return f
}

func makeMountpoint(m Mount, target string) error {
	if _, err := os.Lstat(target); err == nil {
		return nil
	}
	if m.Type == "bind" {
		if st, err := os.Stat(m.Source); err == nil && !st.IsDir() {
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("make mount point %s: %w", target, err)
			}
			return f.Close()
		}
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("make mount point %s: %w", target, err)
	}
	return nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// BusyboxPath finds a statically linked busybox on the host.
func BusyboxPath() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return p, nil
		}
	}
	return "", errors.New("no statically linked busybox on this host: install it with apt-get install busybox-static (or build a richer rootfs with debootstrap, or docker export)")
}

// BuildBusybox makes a minimal root filesystem in dir from the host's
// static busybox: the directories a container expects, busybox and a link
// for each of its applets, and an /etc with root and nobody.
func BuildBusybox(dir string, step func(string)) error {
	bb, err := BusyboxPath()
	if err != nil {
		return err
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		if _, err := os.Stat(filepath.Join(dir, "bin", "busybox")); err != nil {
			return fmt.Errorf("%s is not empty and not a busybox rootfs: pick a new directory", dir)
		}
	}
	if step != nil {
		step(fmt.Sprintf("build a busybox rootfs in %s from %s", dir, bb))
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home", "var", "run", "mnt"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("%s --list-full: %w", bb, err)
	}
	for _, applet := range strings.Fields(string(out)) {
		link := filepath.Join(dir, applet)
		if applet == "bin/busybox" {
			continue
		}
		rel, _ := filepath.Rel(filepath.Dir(link), filepath.Join(dir, "bin", "busybox"))
		os.MkdirAll(filepath.Dir(link), 0o755)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(rel, link); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":    "root:x:0:\nnogroup:x:65534:\n",
		"etc/hostname": "busybox\n",
		"etc/hosts":    "127.0.0.1 localhost\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
