package ownfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"nsh/internal/beneath"

	"golang.org/x/sys/unix"
)

// The one way nsh writes a file the user named (save, record, export,
// --render -o, --cast, commit): the new content goes to an unnamed file
// in the same directory (O_TMPFILE), is synced, and only then takes the
// name, by a rename that replaces what is there. So a full disk or a
// signal leaves the old file whole and no half-written one, a symlink at
// the name is replaced and never written through, and whether nsh may
// replace the file is asked of the file that is there (Check).

// ErrNotOurs says the file exists and nsh did not write it.
var ErrNotOurs = errors.New("exists and nsh did not write it")

// ErrExists says the file exists and the caller never replaces one.
var ErrExists = errors.New("exists")

// Replace says what may be at the name already.
type Replace int

const (
	ReplaceOwn   Replace = iota // nothing, or a regular file with nsh's mark
	ReplaceAny                  // nothing, or any regular file (-f)
	ReplaceNever                // nothing
)

// Check says whether nsh may put a file at path, by what is there now.
func Check(path string, r Replace) error { return checkAt(unix.AT_FDCWD, path, path, r) }

// checkAt is Check for name in the directory dirfd; shown names it.
func checkAt(dirfd int, name, shown string, r Replace) error {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "lstat", Path: shown, Err: err}
	}
	switch {
	case r == ReplaceNever:
		return fmt.Errorf("%s %w", shown, ErrExists)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s is not a regular file (%s)", shown, kind(st.Mode))
	case r == ReplaceAny || writtenAt(dirfd, name):
		return nil
	}
	return fmt.Errorf("%s %w", shown, ErrNotOurs)
}

// kind names what is at a name that is not a regular file.
func kind(mode uint32) string { return "a " + beneath.TypeName(mode) }

// File is a file being written: it has no name until Commit.
type File struct {
	f       *os.File
	dir     *os.File
	name    string // the last element of path
	path    string
	replace Replace
	perm    os.FileMode
	tmpName string // where the fallback (no O_TMPFILE) writes meanwhile
	err     error  // the first write's error, kept for Commit
}

// Create starts a file for path, after Check. The directory must exist.
func Create(path string, perm os.FileMode, r Replace) (*File, error) {
	dirName, name := filepath.Split(path)
	if dirName == "" {
		dirName = "."
	}
	if name == "" || name == "." || name == ".." {
		return nil, fmt.Errorf("%s: name a file, not a directory", path)
	}
	dir, err := os.OpenFile(dirName, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	// Asked of the directory held open: the file goes there even if nsh's
	// working directory changes meanwhile (scratch).
	if err := checkAt(int(dir.Fd()), name, path, r); err != nil {
		dir.Close()
		return nil, err
	}
	w := &File{dir: dir, name: name, path: path, replace: r, perm: perm}
	fd, err := unix.Openat(int(dir.Fd()), ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, uint32(perm))
	if err != nil {
		// A filesystem without O_TMPFILE: a named file beside it,
		// removed if this fails or is abandoned.
		for i := 0; ; i++ {
			w.tmpName = "." + name + ".nsh-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(i)
			fd, err = unix.Openat(int(dir.Fd()), w.tmpName, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm))
			if err != unix.EEXIST || i > 100 {
				break
			}
		}
		if err != nil {
			dir.Close()
			return nil, &os.PathError{Op: "create", Path: path, Err: err}
		}
	}
	w.f = os.NewFile(uintptr(fd), path)
	return w, nil
}

// Write writes to the file; the first error is kept and returned again by
// Commit, so a stream (a recording) can write on and learn at the end.
func (w *File) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(b)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Commit syncs the file and gives it its name; on any error the old file
// at the name stays as it was and nothing new is left.
func (w *File) Commit() error {
	defer w.dir.Close()
	err := w.err
	if err == nil {
		err = w.f.Chmod(w.perm) // what the umask took
	}
	if err == nil {
		err = w.f.Sync()
	}
	dfd := int(w.dir.Fd())
	if err == nil {
		// Asked again: the name may have changed hands meanwhile.
		err = checkAt(dfd, w.name, w.path, w.replace)
	}
	if err == nil && w.tmpName == "" {
		// A name of its own for a moment, so that the rename below
		// replaces what is at the name in one step.
		for i := 0; ; i++ {
			tmp := "." + w.name + ".nsh-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(i)
			err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(w.f.Fd())), dfd, tmp, unix.AT_SYMLINK_FOLLOW)
			if err == nil {
				w.tmpName = tmp
			}
			if err != unix.EEXIST || i > 100 {
				break
			}
		}
	}
	if err == nil {
		if w.replace == ReplaceNever {
			// A hard link never replaces: a name taken since fails.
			err = unix.Linkat(dfd, w.tmpName, dfd, w.name, 0)
			if err == nil {
				err = unix.Unlinkat(dfd, w.tmpName, 0)
			}
		} else {
			err = unix.Renameat(dfd, w.tmpName, dfd, w.name)
		}
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.dir.Sync()
	}
	if err != nil {
		if w.tmpName != "" {
			unix.Unlinkat(dfd, w.tmpName, 0)
		}
		var pe *os.PathError
		if !errors.As(err, &pe) {
			err = &os.PathError{Op: "write", Path: w.path, Err: err}
		}
		return err
	}
	return nil
}

// Abort drops what was written; the name is untouched.
func (w *File) Abort() {
	w.f.Close()
	if w.tmpName != "" {
		unix.Unlinkat(int(w.dir.Fd()), w.tmpName, 0)
	}
	w.dir.Close()
}

// WriteFile writes data to path, as Create, Write and Commit do.
func WriteFile(path string, data []byte, perm os.FileMode, r Replace) error {
	w, err := Create(path, perm, r)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return w.Commit()
}

// maxRead bounds what nsh reads as a script, a config or a profile.
const maxRead = 16 << 20

// ReadFile reads a file the user named (a script, a config, a profile):
// opened without blocking and refused unless it is a regular file, so a
// FIFO, a device or a /proc file given by mistake neither hangs nor runs
// on for ever.
func ReadFile(path string) ([]byte, error) {
	f, err := openRegular(path, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxRead {
		return nil, fmt.Errorf("%s is %d bytes: far more than a script or a config", path, st.Size())
	}
	return io.ReadAll(io.LimitReader(f, maxRead))
}

// openRegular opens path for reading, O_NONBLOCK (a FIFO would wait for
// a writer), and only if it is a regular file.
func openRegular(path string, flags int) (*os.File, error) {
	return openRegularAt(unix.AT_FDCWD, path, path, flags)
}

// openRegularAt is openRegular for name in the directory dirfd.
func openRegularAt(dirfd int, name, path string, flags int) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC|flags, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is not a regular file: give a file", path)
	}
	// Reads of a regular file never block; the flag goes, as plain
	// reads expect.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}
