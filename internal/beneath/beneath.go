// Package beneath is nsh's one way to touch a tree that a child controls
// (an overlay's upper layer, a rootfs, a kept upper): every name is
// resolved by the kernel beneath a directory nsh holds open, never through
// a symlink, and a walk holds each directory by its descriptor instead of
// opening it again by path.
//
// Why: a child runs while nsh reads or writes its tree. With paths, a child
// that renames a directory away and puts a symlink to /etc in its place
// between two system calls of nsh's makes nsh read (commit, diff) or write
// (rootfs --busybox run again) the host's files. openat2 with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS makes the kernel refuse every such
// step, whatever the timing; a file is opened O_PATH first and its type
// checked before it is opened for reading, so a device node or FIFO the
// child made is never opened (opening /dev/watchdog's node would start it).
package beneath

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is a directory held open: the root of what nsh may touch.
type Dir struct {
	fd   int
	path string // for messages only: it is never opened again
}

// resolve is how every name below a Dir is looked up.
const resolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// ErrEscape says a name would have led out of the tree or through a link.
var ErrEscape = errors.New("a symlink or .. on the way, or a name that leaves the tree")

// Open holds the directory path open. path is the user's or nsh's own (the
// tree's place on the host is not the child's to choose), so it is resolved
// as any path is; everything below it is not.
func Open(p string) (*Dir, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return &Dir{fd: fd, path: p}, nil
}

// Close lets the directory go.
func (d *Dir) Close() error { return unix.Close(d.fd) }

// Path is where the directory was when it was opened, for messages.
func (d *Dir) Path() string { return d.path }

// Fd is the directory's descriptor, for calls this package lacks.
func (d *Dir) Fd() int { return d.fd }

// Stat is the directory's own stat.
func (d *Dir) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(d.fd, &st)
	return st, err
}

func (d *Dir) pathErr(op, rel string, err error) error {
	if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) {
		err = fmt.Errorf("%w (%w)", ErrEscape, err)
	}
	return &os.PathError{Op: op, Path: path.Join(d.path, rel), Err: err}
}

// clean checks rel is a relative name and returns it without a leading ./.
func clean(rel string) (string, error) {
	if rel == "" || strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("%q: %w", rel, ErrEscape)
	}
	return path.Clean(rel), nil
}

func (d *Dir) openat2(rel string, flags uint64) (int, error) {
	for {
		fd, err := unix.Openat2(d.fd, rel, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: resolve})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue // EAGAIN: a rename elsewhere in the mount raced the lookup
		}
		return fd, err
	}
}

// parent opens rel's directory (for reading: it can create, list and
// stat) and returns it with rel's last name.
func (d *Dir) parent(rel string) (int, string, error) {
	rel, err := clean(rel)
	if err != nil {
		return -1, "", err
	}
	dir, name := path.Split(rel)
	if name == "." || name == ".." {
		return -1, "", fmt.Errorf("%q: %w", rel, ErrEscape)
	}
	if dir == "" {
		dir = "."
	}
	fd, err := d.openat2(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return -1, "", d.pathErr("open", dir, err)
	}
	return fd, name, nil
}

// OpenDir holds rel, a directory beneath d, open.
func (d *Dir) OpenDir(rel string) (*Dir, error) {
	rel, err := clean(rel)
	if err != nil {
		return nil, err
	}
	fd, err := d.openat2(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, d.pathErr("open", rel, err)
	}
	return &Dir{fd: fd, path: path.Join(d.path, rel)}, nil
}

// Lstat is rel's own stat: a symlink is the link.
func (d *Dir) Lstat(rel string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if rel == "." {
		return d.Stat()
	}
	pfd, name, err := d.parent(rel)
	if err != nil {
		return st, err
	}
	defer unix.Close(pfd)
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, d.pathErr("lstat", rel, err)
	}
	return st, nil
}

// Readlink is the target of the symlink rel (never followed).
func (d *Dir) Readlink(rel string) (string, error) {
	pfd, name, err := d.parent(rel)
	if err != nil {
		return "", err
	}
	defer unix.Close(pfd)
	return readlinkat(pfd, name)
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		b := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, b)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(b[:n]), nil
		}
	}
}

// OpenFile opens rel for reading, and only if it is a regular file: it is
// opened O_PATH, its type checked on that descriptor, then reopened, so
// a FIFO or a device node in its place is never opened.
func (d *Dir) OpenFile(rel string) (*os.File, error) {
	pfd, name, err := d.parent(rel)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	return openRegular(pfd, name, path.Join(d.path, rel), nil)
}

// openRegular opens name in dirfd for reading if it is a regular file
// (and, with want, the same file as want says).
func openRegular(dirfd int, name, shown string, want *unix.Stat_t) (*os.File, error) {
	pfd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: shown, Err: err}
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: shown, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &os.PathError{Op: "open", Path: shown, Err: fmt.Errorf("not a regular file (%s)", TypeName(st.Mode))}
	}
	if want != nil && (st.Ino != want.Ino || st.Dev != want.Dev) {
		return nil, &os.PathError{Op: "open", Path: shown, Err: errChanged}
	}
	// The O_PATH descriptor is the file itself: reopening it through
	// procfs cannot land on another one.
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: shown, Err: err}
	}
	return os.NewFile(uintptr(fd), shown), nil
}

var errChanged = errors.New("changed while nsh read it (the child is still writing its tree)")

// Exists says whether rel is there (a symlink counts; it is not followed).
func (d *Dir) Exists(rel string) bool {
	_, err := d.Lstat(rel)
	return err == nil
}

// Names lists the directory's names, sorted.
func (d *Dir) Names() ([]string, error) {
	// A second descriptor of the same open directory, for os.File's
	// getdents: the offset it moves is its own.
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, d.pathErr("open", ".", err)
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, d.pathErr("readdir", ".", err)
	}
	sort.Strings(names)
	return names, nil
}

// Getxattr reads an extended attribute of the directory itself.
func (d *Dir) Getxattr(attr string) ([]byte, error) {
	buf := make([]byte, 256)
	n, err := unix.Fgetxattr(d.fd, attr, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// MkdirAll makes rel and the directories above it, each with perm, each
// made or found beneath d without following a symlink.
func (d *Dir) MkdirAll(rel string, perm uint32) error {
	rel, err := clean(rel)
	if err != nil {
		return err
	}
	if rel == "." {
		return nil
	}
	cur := d.fd
	defer func() {
		if cur != d.fd {
			unix.Close(cur)
		}
	}()
	for _, name := range strings.Split(rel, "/") {
		if name == ".." {
			return fmt.Errorf("%q: %w", rel, ErrEscape)
		}
		if err := unix.Mkdirat(cur, name, perm); err != nil && err != unix.EEXIST {
			return d.pathErr("mkdir", rel, err)
		}
		next, err := unix.Openat(cur, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return d.pathErr("open", rel, err)
		}
		if cur != d.fd {
			unix.Close(cur)
		}
		cur = next
	}
	return nil
}

// WriteFile puts data in rel with perm: written to a new file beside it,
// then renamed over it, so a symlink or hard link planted at rel is
// replaced, never written through.
func (d *Dir) WriteFile(rel string, data []byte, perm uint32) error {
	dfd, name, err := d.parent(rel)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	return writeIn(dfd, name, data, perm, path.Join(d.path, rel))
}

// writeIn writes name in the directory dfd through a temporary file.
func writeIn(dfd int, name string, data []byte, perm uint32, shown string) error {
	var tmp string
	var fd int
	var err error
	for i := 0; ; i++ {
		tmp = fmt.Sprintf(".%s.nsh-%d-%d", name, os.Getpid(), i)
		fd, err = unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		if err != unix.EEXIST || i > 100 {
			break
		}
	}
	if err != nil {
		return &os.PathError{Op: "create", Path: shown, Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(data)
	if err == nil {
		err = unix.Fchmod(fd, perm) // the umask took bits the caller asked for
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, name)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return &os.PathError{Op: "write", Path: shown, Err: err}
	}
	return nil
}

// Symlink makes rel a symlink to target, if nothing is at rel.
func (d *Dir) Symlink(target, rel string) error {
	dfd, name, err := d.parent(rel)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := unix.Symlinkat(target, dfd, name); err != nil {
		return d.pathErr("symlink", rel, err)
	}
	return nil
}

// Chmod sets the mode of rel, a directory beneath d.
func (d *Dir) Chmod(rel string, mode uint32) error {
	sub, err := d.OpenDir(rel)
	if err != nil {
		return err
	}
	defer sub.Close()
	return unix.Fchmod(sub.fd, mode)
}

// Entry is one name met by Walk.
type Entry struct {
	Rel  string      // from the walk's root, '/'-separated
	Stat unix.Stat_t // the name's own (lstat)
	dir  *Dir        // the directory that holds it, open
	sub  *Dir        // the entry itself, open, when it is a directory
	name string
}

// Name is the entry's last name.
func (e *Entry) Name() string { return e.name }

// IsDir and the rest say what the entry is.
func (e *Entry) IsDir() bool     { return e.Stat.Mode&unix.S_IFMT == unix.S_IFDIR }
func (e *Entry) IsRegular() bool { return e.Stat.Mode&unix.S_IFMT == unix.S_IFREG }
func (e *Entry) IsSymlink() bool { return e.Stat.Mode&unix.S_IFMT == unix.S_IFLNK }

// Open opens the entry for reading, if it is still the regular file the
// walk saw.
func (e *Entry) Open() (*os.File, error) {
	return openRegular(e.dir.fd, e.name, path.Join(e.dir.path, e.name), &e.Stat)
}

// Readlink is the entry's target, if it is a symlink.
func (e *Entry) Readlink() (string, error) { return readlinkat(e.dir.fd, e.name) }

// Getxattr reads an attribute of the entry, a directory, on its own
// descriptor (valid only during fn).
func (e *Entry) Getxattr(attr string) ([]byte, error) {
	if e.sub == nil {
		return nil, unix.ENOTDIR
	}
	return e.sub.Getxattr(attr)
}

// Walk calls fn for every name beneath d, parents before children, names
// sorted, without following a symlink or crossing onto another mount. Each
// directory is held open by its descriptor while its names are read, and
// checked to be the one its name was when listed: a child that swaps a
// directory for another, or for a link, stops the walk with an error, and
// never sends it out of the tree.
func (d *Dir) Walk(fn func(e *Entry) error) error {
	root, err := d.Stat()
	if err != nil {
		return d.pathErr("stat", ".", err)
	}
	return d.walk("", root.Dev, fn)
}

func (d *Dir) walk(prefix string, dev uint64, fn func(e *Entry) error) error {
	names, err := d.Names()
	if err != nil {
		return err
	}
	for _, name := range names {
		e := &Entry{Rel: prefix + name, dir: d, name: name}
		if err := unix.Fstatat(d.fd, name, &e.Stat, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return d.pathErr("lstat", name, err)
		}
		if !e.IsDir() {
			if err := fn(e); err != nil {
				return err
			}
			continue
		}
		if e.Stat.Dev != dev {
			continue // a mount on the tree is not the tree
		}
		fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return d.pathErr("open", name, err)
		}
		sub := &Dir{fd: fd, path: path.Join(d.path, name)}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Ino != e.Stat.Ino || st.Dev != e.Stat.Dev {
			sub.Close()
			return d.pathErr("open", name, errChanged)
		}
		e.sub = sub
		err = fn(e)
		if err == nil {
			err = sub.walk(e.Rel+"/", dev, fn)
		}
		sub.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// TypeName names a mode's file type, for messages.
func TypeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	}
	return "file of unknown type"
}
