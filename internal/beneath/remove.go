package beneath

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// RemoveAll removes the tree at p, which nsh made and a child may have
// filled: by descriptors, never through a symlink, never onto another
// mount (a mount point below stays, and is reported), and a directory the
// child left at mode 000 (overlayfs's work/work) is opened up through its
// own O_PATH descriptor, not by a path a child could swap.
func RemoveAll(p string) error {
	fd, err := openDirForRemoval(unix.AT_FDCWD, p)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP):
		return os.Remove(p) // a file or a link: itself, never its target
	case err != nil:
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return &os.PathError{Op: "stat", Path: p, Err: err}
	}
	first := emptyDir(fd, st.Dev, p)
	unix.Close(fd)
	if err := unix.Rmdir(p); err != nil && !errors.Is(err, unix.ENOENT) && first == nil {
		first = &os.PathError{Op: "remove", Path: p, Err: err}
	}
	return first
}

// openDirForRemoval opens name in dirfd as a directory, opening up one
// whose mode lets its owner not in.
func openDirForRemoval(dirfd int, name string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, name, flags, 0)
	if err != unix.EACCES {
		return fd, err
	}
	pfd, perr := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if perr != nil {
		return -1, err
	}
	// chmod on the descriptor's procfs name changes that very inode.
	cerr := unix.Chmod("/proc/self/fd/"+strconv.Itoa(pfd), 0o700)
	unix.Close(pfd)
	if cerr != nil {
		return -1, err
	}
	return unix.Openat(dirfd, name, flags, 0)
}

// emptyDir removes everything in the directory fd; shown names it.
func emptyDir(fd int, dev uint64, shown string) error {
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	// Names removed while reading may hide others: read again until a
	// pass removes nothing.
	for pass, removed := 0, true; removed && pass < 8; pass++ {
		removed = false
		names, err := (&Dir{fd: fd, path: shown}).Names()
		if err != nil {
			return err
		}
		for _, name := range names {
			var st unix.Stat_t
			if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				continue
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				if err := unix.Unlinkat(fd, name, 0); err == nil {
					removed = true
				} else if pass == 0 {
					keep(&os.PathError{Op: "remove", Path: shown + "/" + name, Err: err})
				}
				continue
			}
			if st.Dev != dev {
				keep(fmt.Errorf("%s/%s is a mount point: left as it is", shown, name))
				continue
			}
			sub, err := openDirForRemoval(fd, name)
			if err != nil {
				keep(&os.PathError{Op: "open", Path: shown + "/" + name, Err: err})
				continue
			}
			if err := emptyDir(sub, dev, shown+"/"+name); err != nil {
				keep(err)
			}
			unix.Close(sub)
			if unix.Unlinkat(fd, name, unix.AT_REMOVEDIR) == nil {
				removed = true
			}
		}
	}
	return first
}
