package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"nsh/internal/beneath"
)

// Whiteout names of the OCI image layer format.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// opaqueXattr marks an overlayfs directory that hides the lower ones of
// its name: the layers are mounted by root, so trusted.*.
const opaqueXattr = "trusted.overlay.opaque"

// Unpack writes the layer tar r into dir, an empty directory nsh made, as
// an overlayfs lower layer: files, directories, links, devices and FIFOs
// with their owners, modes, times and extended attributes; a ".wh.NAME"
// deletion as the 0/0 character device overlayfs reads as one, and
// ".wh..wh..opq" as the opaque mark on its directory. Every name is
// made through package beneath: an entry named ../x or /x, or one under
// a symlink an earlier entry made, is refused by the kernel, never
// written outside dir.
func Unpack(r io.Reader, dir string) error {
	d, err := beneath.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	u := &unpacker{d: d}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read the layer: %w", err)
		}
		if err := u.entry(h, tr); err != nil {
			return err
		}
	}
	// A directory's time is set after what is in it was made (making a
	// name in it moves its mtime), deepest first.
	for i := len(u.dirTimes) - 1; i >= 0; i-- {
		t := u.dirTimes[i]
		if err := d.Lutimes(t.rel, t.mtime, t.mtime); err != nil {
			return err
		}
	}
	return nil
}

type unpacker struct {
	d        *beneath.Dir
	dirTimes []dirTime
}

type dirTime struct {
	rel   string
	mtime time.Time
}

// entryName is a tar name as a path below the layer's root: "./a/b/",
// "/a/b" and "a/b" are all a/b. ".." stays in it, for beneath to refuse.
func entryName(name string) string {
	name = strings.TrimLeft(name, "/")
	name = strings.TrimPrefix(name, "./")
	if name == "" || name == "." {
		return "."
	}
	return path.Clean(name)
}

func (u *unpacker) entry(h *tar.Header, r io.Reader) error {
	rel := entryName(h.Name)
	if err := u.apply(rel, h, r); err != nil {
		return fmt.Errorf("unpack %s: %w", h.Name, err)
	}
	return nil
}

func (u *unpacker) apply(rel string, h *tar.Header, r io.Reader) error {
	dir, name := path.Split(rel)
	if dir != "" {
		// A layer may leave out a directory its names are in (the one
		// below has it): made as tar -x makes it, never through a link.
		if err := u.d.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if name == opaqueMarker {
		if dir == "" {
			return unix.Fsetxattr(u.d.Fd(), opaqueXattr, []byte("y"), 0)
		}
		// Held open as a directory: a symlink of that name is refused.
		sub, err := u.d.OpenDir(strings.TrimSuffix(dir, "/"))
		if err != nil {
			return err
		}
		defer sub.Close()
		return unix.Fsetxattr(sub.Fd(), opaqueXattr, []byte("y"), 0)
	}
	if strings.HasPrefix(name, whiteoutPrefix) {
		return u.d.Mknod(dir+strings.TrimPrefix(name, whiteoutPrefix), unix.S_IFCHR, 0)
	}
	if rel == "." {
		// The root's own entry: its owner and mode, on the descriptor
		// held (it has no name beneath itself).
		if err := unix.Fchown(u.d.Fd(), h.Uid, h.Gid); err != nil {
			return err
		}
		return unix.Fchmod(u.d.Fd(), uint32(h.Mode&0o7777))
	}
	if h.Typeflag != tar.TypeDir {
		// A later entry of the same name replaces an earlier one, as
		// tar -x does; never a directory (what is in it would go too).
		if st, err := u.d.Lstat(rel); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := u.d.Unlink(rel); err != nil {
				return err
			}
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
		if err := u.d.Mkdir(rel, 0o700); err != nil {
			return err
		}
		return u.attrs(rel, h, true)
	case tar.TypeReg, tar.TypeRegA:
		return u.file(rel, h, r)
	case tar.TypeSymlink:
		if err := u.d.Symlink(h.Linkname, rel); err != nil {
			return err
		}
	case tar.TypeLink:
		// The target is a name in this layer, resolved beneath it too.
		return u.d.Link(entryName(h.Linkname), rel)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[h.Typeflag]
		if err := u.d.Mknod(rel, mode|uint32(h.Mode&0o7777), unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))); err != nil {
			return err
		}
	default:
		return fmt.Errorf("an entry of tar type %q, which an image layer does not hold", h.Typeflag)
	}
	return u.attrs(rel, h, false)
}

// file writes a regular file: owner first, then mode (a chown clears
// setuid bits) and extended attributes (it clears security.capability
// too), times last.
func (u *unpacker) file(rel string, h *tar.Header, r io.Reader) error {
	f, err := u.d.Create(rel, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Chown(h.Uid, h.Gid)
	}
	if err == nil {
		err = unix.Fchmod(int(f.Fd()), uint32(h.Mode&0o7777))
	}
	for name, v := range xattrs(h) {
		if err == nil {
			err = unix.Fsetxattr(int(f.Fd()), name, []byte(v), 0)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return u.d.Lutimes(rel, h.ModTime, h.ModTime)
}

// attrs sets what the header says of rel, a name just made: a symlink's
// mode is not its own to set, and a directory's time waits for the end.
func (u *unpacker) attrs(rel string, h *tar.Header, isDir bool) error {
	if err := u.d.Lchown(rel, h.Uid, h.Gid); err != nil {
		return err
	}
	if isDir {
		if err := u.d.Chmod(rel, uint32(h.Mode&0o7777)); err != nil {
			return err
		}
	}
	for name, v := range xattrs(h) {
		err := u.d.Lsetxattr(rel, name, []byte(v))
		if err != nil && !(h.Typeflag == tar.TypeSymlink && errors.Is(err, unix.EPERM)) {
			return err
		}
	}
	if isDir {
		u.dirTimes = append(u.dirTimes, dirTime{rel, h.ModTime})
		return nil
	}
	return u.d.Lutimes(rel, h.ModTime, h.ModTime)
}

// xattrs are the header's extended attributes; overlayfs's own names
// would change how the layer mounts, and are not an image's to set.
func xattrs(h *tar.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		out[name] = v
	}
	return out
}
