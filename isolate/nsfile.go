package isolate

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// nsGetNSType is ioctl NS_GET_NSTYPE (linux/nsfs.h): the CLONE_NEW* type
// of a namespace file, or ENOTTY for any other file.
const nsGetNSType = 0xb703

// NamespaceOf returns the type and inode of a namespace file.
func NamespaceOf(f *os.File) (string, uint64, error) {
	t, err := unix.IoctlRetInt(int(f.Fd()), nsGetNSType)
	if err != nil {
		if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
			return "", 0, fmt.Errorf("%s is not a namespace file (like /proc/PID/ns/uts, or one pinned with ns pin)", f.Name())
		}
		return "", 0, fmt.Errorf("ioctl(NS_GET_NSTYPE) on %s: %w", f.Name(), err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", 0, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	for name, flag := range cloneFlag {
		if int(flag) == t {
			return name, st.Ino, nil
		}
	}
	return "", 0, fmt.Errorf("%s is a namespace of unknown type %#x", f.Name(), t)
}

// OpenNamespace opens a namespace file and checks that it is one of type
// want ("" for any).
func OpenNamespace(path, want string) (*os.File, error) {
	f, err := openNonblock(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: give a namespace file (one pinned with ns pin, or /proc/PID/ns/TYPE) or a running child's @ID", err)
	}
	if err != nil {
		return nil, err
	}
	got, _, err := NamespaceOf(f)
	if err == nil && want != "" && got != want {
		err = fmt.Errorf("%s is a %s namespace, not %s", path, got, want)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// NSPath is the /proc file of a process's namespace of type ns.
func NSPath(pid int, ns string) string {
	return "/proc/" + strconv.Itoa(pid) + "/ns/" + ns
}

// Pin bind-mounts the child's namespace of type ns on path, creating path
// as an empty file if it is missing, so the namespace outlives its last
// process (like unshare --uts=FILE). It returns the namespace's inode and
// whether it created the file.
//
// A pin hides what it is mounted on, so it goes only on an empty regular
// file (or one it makes), never on a file with content, a directory, a
// device, a link or another pin. The checks and the mount are made on
// one descriptor, so the file cannot be swapped in between.
func (c *Child) Pin(ns, path string, step func(string)) (ino uint64, created bool, err error) {
	src := NSPath(c.Pid, ns)
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		var f int
		f, err = unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o444)
		if err == nil {
			created = true
			unix.Close(f)
			fd, err = unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
	}
	if err != nil {
		return 0, false, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	undo := func() {
		if created {
			os.Remove(path)
		}
	}
	if err := pinTarget(fd, path); err != nil {
		undo()
		return 0, false, err
	}
	if err := c.own(c.Pid); err != nil {
		undo()
		return 0, false, err
	}
	if !c.Alive() {
		undo()
		return 0, false, errors.New("the child has exited")
	}
	if step != nil {
		step(fmt.Sprintf("mount --bind %s %s", src, path))
	}
	// Through the descriptor checked above, not the path.
	if err := unix.Mount(src, fmt.Sprintf("/proc/self/fd/%d", fd), "", unix.MS_BIND, ""); err != nil {
		undo()
		if errors.Is(err, unix.EINVAL) && ns == "mnt" {
			return 0, false, fmt.Errorf("mount --bind %s %s: %w: a mount namespace can only be pinned on a private mount (mount --make-private the directory's mount first)", src, path, err)
		}
		return 0, false, fmt.Errorf("mount --bind %s %s: %w", src, path, err)
	}
	f, err := os.Open(path)
	if err == nil {
		_, ino, err = NamespaceOf(f)
		f.Close()
	}
	return ino, created, err
}

// pinTarget says whether the file open on fd may take a pin.
// kernelFS are the filesystems whose files are the kernel's interface.
var kernelFS = map[int64]string{
	unix.PROC_SUPER_MAGIC: "procfs", unix.SYSFS_MAGIC: "sysfs", unix.CGROUP_SUPER_MAGIC: "cgroupfs",
	unix.CGROUP2_SUPER_MAGIC: "cgroup2", unix.DEBUGFS_MAGIC: "debugfs", unix.SECURITYFS_MAGIC: "securityfs",
	unix.TRACEFS_MAGIC: "tracefs", unix.BPF_FS_MAGIC: "bpffs", unix.EFIVARFS_MAGIC: "efivarfs",
	unix.DEVPTS_SUPER_MAGIC: "devpts", unix.PSTOREFS_MAGIC: "pstore",
}

func pinTarget(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err == nil && fs.Type == unix.NSFS_MAGIC {
		return fmt.Errorf("%s already holds a pinned namespace: `ns unpin %s` first (pins are not stacked)", path, path)
	}
	if name, ok := kernelFS[int64(fs.Type)]; ok {
		// Their files report size 0 and pass as empty, but a pin on
		// /proc/sys/kernel/hostname or a cgroup's pids.max hides the
		// kernel's file from everyone on the machine.
		return fmt.Errorf("%s is a %s file, the kernel's, not an empty file: a pin goes on a file of a real filesystem (e.g. under /run or /tmp)", path, name)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		// A bind mount over a directory, device or link would hide or
		// redirect what is there.
		return fmt.Errorf("%s is not a regular file: a pin goes on an empty file (made if missing)", path)
	}
	if st.Size > 0 {
		return fmt.Errorf("%s has content (%d bytes) that a pin would hide: pin onto an empty file or a new name", path, st.Size)
	}
	return nil
}

// Unpin unmounts a pinned namespace file and says what it held.
func Unpin(path string, step func(string)) (ns string, ino uint64, err error) {
	f, err := openNonblock(path)
	if err != nil {
		return "", 0, err
	}
	ns, ino, err = NamespaceOf(f)
	f.Close()
	if err != nil {
		return "", 0, fmt.Errorf("%s holds no pinned namespace: %w", path, err)
	}
	if step != nil {
		step("umount " + path)
	}
	if err := unix.Unmount(path, 0); err != nil {
		return "", 0, fmt.Errorf("umount %s: %w", path, err)
	}
	return ns, ino, nil
}

// Alive reports whether the child has not exited (it may not be reaped
// yet). The pidfd makes the answer about this child, never a recycled pid.
func (c *Child) Alive() bool {
	if c.pidfd >= 0 {
		// EPERM: it runs, and is not the caller's to signal (a process
		// a user other than root only reads).
		err := unix.PidfdSendSignal(c.pidfd, 0, nil, 0)
		if err != nil && err != unix.EPERM {
			return false
		}
		if c.Pid != c.direct {
			// Behind a relay: the relay exits right after the command.
			return processState(c.Pid) != "Z"
		}
		return processState(c.direct) != "Z"
	}
	return processState(c.Pid) != "" && processState(c.Pid) != "Z"
}

// processState is the state letter of /proc/PID/stat, "" when there is no
// such process.
func processState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name is in parentheses and may hold anything.
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return string(b[i+2])
		}
	}
	return ""
}

// openNonblock opens a file to look at: a FIFO given by mistake must not
// hang nsh until someone writes to it.
func openNonblock(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
