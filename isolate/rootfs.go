package isolate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/internal/beneath"
)

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

// BusyboxPath finds a statically linked busybox on the host.
func BusyboxPath() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox"} {
		if static, err := isStaticELF(p); err == nil && static {
			return p, nil
		}
	}
	return "", errors.New("no statically linked busybox on this host: install it with apt-get install busybox-static (or build a richer rootfs with debootstrap, or docker export)")
}

// isStaticELF says whether path is a 64-bit little-endian ELF program
// without an interpreter (PT_INTERP). Read by hand: debug/elf would link
// DWARF and two decompressors into nsh, and their initializers into
// every start, for one question.
func isStaticELF(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var h [64]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return false, err
	}
	if string(h[:4]) != "\x7fELF" || h[4] != 2 || h[5] != 1 {
		return false, fmt.Errorf("%s: not a 64-bit little-endian ELF file", path)
	}
	le := binary.LittleEndian
	phoff, phentsize, phnum := int64(le.Uint64(h[32:])), int64(le.Uint16(h[54:])), int(le.Uint16(h[56:]))
	if phentsize < 4 {
		return false, fmt.Errorf("%s: bad program header size %d", path, phentsize)
	}
	ph := make([]byte, 4)
	for i := 0; i < phnum; i++ {
		if _, err := f.ReadAt(ph, phoff+int64(i)*phentsize); err != nil {
			return false, err
		}
		if le.Uint32(ph) == 3 { // PT_INTERP
			return false, nil
		}
	}
	return true, nil
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// A rootfs built before may have run children since: everything in
	// it is theirs to have replaced with links, so it is touched only
	// through package beneath.
	root, err := beneath.Open(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if names, _ := root.Names(); len(names) > 0 {
		if st, err := root.Lstat("bin/busybox"); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fmt.Errorf("%s is not empty and not a busybox rootfs: pick a new directory", dir)
		}
	}
	if step != nil {
		step(fmt.Sprintf("build a busybox rootfs in %s from %s", dir, bb))
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home", "var", "run", "mnt"} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := root.Chmod("tmp", 0o1777); err != nil {
		return err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := root.WriteFile("bin/busybox", data, 0o755); err != nil {
		return err
	}
	var buf strings.Builder
	list := exec.Command(bb, "--list-full")
	list.Stdout = &buf
	err = RunTracked(list)
	out := buf.String()
	if err != nil {
		return fmt.Errorf("%s --list-full: %w", bb, err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "bin/busybox" || root.Exists(applet) {
			continue
		}
		rel, _ := filepath.Rel(filepath.Dir("/"+applet), "/bin/busybox")
		if err := root.MkdirAll(filepath.Dir(applet), 0o755); err != nil {
			return err
		}
		if err := root.Symlink(rel, applet); err != nil {
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
		if err := root.WriteFile(name, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// RootfsHasSetpriv says whether util-linux's setpriv (the one with
// --bounding-set; busybox's lacks it) is in root's PATH directories,
// each path resolved inside root.
func RootfsHasSetpriv(root string) bool {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(dir)
	for _, d := range []string{"usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin"} {
		fd, err := unix.Openat2(dir, d+"/setpriv", &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			continue
		}
		f := os.NewFile(uintptr(fd), d+"/setpriv")
		b, err := io.ReadAll(io.LimitReader(f, 8<<20))
		f.Close()
		if err == nil && bytes.Contains(b, []byte("--bounding-set")) {
			return true
		}
	}
	return false
}
