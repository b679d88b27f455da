package beneath

import (
	"bytes"
	"os"
	"path"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// The calls below make a tree from what an untrusted source describes (an
// image layer's tar): every name is made in its directory, found beneath
// d without a symlink on the way, and the last name itself is never
// followed either. A tar that names ../x, /x, or a path through a symlink
// it made earlier is refused by the kernel, not by string checks.

// at runs fn on rel's directory and last name.
func (d *Dir) at(op, rel string, fn func(dfd int, name string) error) error {
	dfd, name, err := d.parent(rel)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := fn(dfd, name); err != nil {
		return d.pathErr(op, rel, err)
	}
	return nil
}

// Mkdir makes the directory rel; one already there is kept (a tar may
// list a directory after what is in it).
func (d *Dir) Mkdir(rel string, perm uint32) error {
	return d.at("mkdir", rel, func(dfd int, name string) error {
		err := unix.Mkdirat(dfd, name, perm)
		if err == unix.EEXIST {
			var st unix.Stat_t
			if unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
				return nil
			}
		}
		return err
	})
}

// Create makes rel a new regular file and opens it for writing; a name
// already there is an error (O_EXCL: never a write through a link).
func (d *Dir) Create(rel string, perm uint32) (*os.File, error) {
	var f *os.File
	err := d.at("create", rel, func(dfd int, name string) error {
		fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		if err != nil {
			return err
		}
		f = os.NewFile(uintptr(fd), path.Join(d.path, rel))
		return nil
	})
	return f, err
}

// Link makes rel a hard link to target, both beneath d; target itself is
// linked, not what it points to when it is a symlink.
func (d *Dir) Link(target, rel string) error {
	tfd, tname, err := d.parent(target)
	if err != nil {
		return err
	}
	defer unix.Close(tfd)
	return d.at("link", rel, func(dfd int, name string) error {
		return unix.Linkat(tfd, tname, dfd, name, 0)
	})
}

// Mknod makes rel a device node, FIFO or (0/0) overlayfs whiteout.
func (d *Dir) Mknod(rel string, mode uint32, dev uint64) error {
	return d.at("mknod", rel, func(dfd int, name string) error {
		if err := unix.Mknodat(dfd, name, mode, int(dev)); err != nil {
			return err
		}
		// The umask took bits the caller asked for; the node is the one
		// just made (nothing else writes this tree), and not a link.
		return unix.Fchmodat(dfd, name, mode&0o7777, 0)
	})
}

// Unlink removes rel, a name that is not a directory.
func (d *Dir) Unlink(rel string) error {
	return d.at("unlink", rel, func(dfd int, name string) error {
		return unix.Unlinkat(dfd, name, 0)
	})
}

// Lchown sets the owner of rel itself.
func (d *Dir) Lchown(rel string, uid, gid int) error {
	return d.at("chown", rel, func(dfd int, name string) error {
		return unix.Fchownat(dfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// Lutimes sets the access and modification times of rel itself.
func (d *Dir) Lutimes(rel string, atime, mtime time.Time) error {
	return d.at("utimes", rel, func(dfd int, name string) error {
		ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		return unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// Lsetxattr sets an extended attribute of rel itself (a symlink's own).
func (d *Dir) Lsetxattr(rel, attr string, value []byte) error {
	return d.at("setxattr", rel, func(dfd int, name string) error {
		return unix.Lsetxattr(fdPath(dfd, name), attr, value, 0)
	})
}

// fdPath names name in the directory dfd holds: the kernel resolves the
// descriptor's magic link to that very directory, so the path cannot be
// swapped, and the l*xattr calls do not follow name.
func fdPath(dfd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + name
}

// Xattrs are the entry's extended attributes, sorted by name; overlayfs's
// own (trusted.overlay.*, user.overlay.*) are its bookkeeping, not the
// file's, and left out.
func (e *Entry) Xattrs() (map[string][]byte, error) {
	p := fdPath(e.dir.fd, e.name)
	size, err := unix.Llistxattr(p, nil)
	if err != nil || size == 0 {
		if err == unix.ENOTSUP {
			err = nil
		}
		return nil, err
	}
	buf := make([]byte, size)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, b := range bytes.Split(buf[:n], []byte{0}) {
		name := string(b)
		if name == "" || hasPrefix(name, "trusted.overlay.") || hasPrefix(name, "user.overlay.") {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	out := map[string][]byte{}
	for _, name := range names {
		vsize, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return nil, err
		}
		v := make([]byte, vsize)
		n, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			return nil, err
		}
		out[name] = v[:n]
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
