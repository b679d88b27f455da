// Package layer reads an overlay's upper layer: what a container changed
// in its root, as `docker diff` lists it, and the layer as a tar an image
// can take (OCI image layer whiteouts). It only reads; it never writes to
// a layer.
package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"nsh/internal/beneath"
)

// Kind is what happened to a path: added, changed or deleted.
type Kind byte

const (
	Added   Kind = 'A'
	Changed Kind = 'C'
	Deleted Kind = 'D'
)

// Change is one line of a diff.
type Change struct {
	Kind Kind   `json:"kind"`
	Path string `json:"path"` // absolute, inside the container's root
}

func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// MarshalText lets JSON show the kind as its letter.
func (k Kind) MarshalText() ([]byte, error) { return []byte{byte(k)}, nil }

// entry is one file of the upper layer, as overlayfs left it.
type entry struct {
	*beneath.Entry
	whiteout bool // a character device 0/0: the path was deleted
	opaque   bool // a directory that hides the lowers' one of that name
}

// walk lists the upper layer in path order, through package beneath: the
// child may still run and rename what nsh is reading, and nothing it does
// may lead the walk out of its layer.
func walk(upper string, fn func(e entry) error) error {
	d, err := beneath.Open(upper)
	if err != nil {
		return fmt.Errorf("read the upper layer: %w", err)
	}
	defer d.Close()
	err = d.Walk(func(be *beneath.Entry) error {
		e := entry{Entry: be}
		if be.Stat.Mode&unix.S_IFMT == unix.S_IFCHR && be.Stat.Rdev == 0 {
			e.whiteout = true
		}
		if be.IsDir() {
			e.opaque = isOpaque(be)
		}
		return fn(e)
	})
	if err != nil {
		return fmt.Errorf("read the upper layer %s: %w", upper, err)
	}
	return nil
}

// isOpaque reads overlayfs's mark: trusted.* when mounted by root on the
// host, user.* when mounted in a user namespace (userxattr).
func isOpaque(e *beneath.Entry) bool {
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if b, err := e.Getxattr(name); err == nil && len(b) == 1 && b[0] == 'y' {
			return true
		}
	}
	return false
}

// inLowers says whether rel exists in a lower layer, looked up as
// overlayfs does, name by name without following a symlink, and returns
// the first layer that has it.
func inLowers(lowers []string, rel string) (string, bool) {
	for _, l := range lowers {
		if existsIn(l, rel) {
			return l, true
		}
	}
	return "", false
}

func existsIn(root, rel string) bool {
	d, err := beneath.Open(root)
	if err != nil {
		return false
	}
	defer d.Close()
	return d.Exists(rel)
}

// listIn lists the names in rel of every lower (an opaque directory hides
// them all).
func listIn(lowers []string, rel string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lowers {
		d, err := beneath.Open(l)
		if err != nil {
			continue
		}
		sub, err := d.OpenDir(rel)
		d.Close()
		if err != nil {
			continue
		}
		names, _ := sub.Names()
		sub.Close()
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// Diff is what a container changed in its root, from its upper layer and
// its lower layers (top first): a path only in the upper is added, one
// also below is changed (a directory is in the upper only when something
// in it or on it changed), a whiteout is a deletion, and an opaque
// directory deletes what the lowers had in it. Sorted by path, as docker
// diff prints.
func Diff(upper string, lowers []string) ([]Change, error) {
	type seen struct {
		rel              string
		whiteout, opaque bool
	}
	var ents []seen
	err := walk(upper, func(e entry) error {
		ents = append(ents, seen{e.Rel, e.whiteout, e.opaque})
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Change
	inUpper := map[string]bool{}
	for _, e := range ents {
		inUpper[e.rel] = true
	}
	for _, e := range ents {
		p := "/" + e.rel
		switch {
		case e.whiteout:
			out = append(out, Change{Deleted, p})
		default:
			if _, ok := inLowers(lowers, e.rel); ok {
				out = append(out, Change{Changed, p})
			} else {
				out = append(out, Change{Added, p})
			}
			if e.opaque {
				for _, name := range listIn(lowers, e.rel) {
					if !inUpper[path.Join(e.rel, name)] {
						out = append(out, Change{Deleted, path.Join(p, name)})
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Whiteout prefixes of the OCI image layer format.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// ErrWhiteoutName says the child made a file whose name an image layer
// reads as a deletion.
var ErrWhiteoutName = errors.New("a name that starts with .wh. is a deletion in an image layer")

// Options change how Commit writes a layer.
type Options struct {
	// Clamp, when set, is the latest time an entry may carry: later ones
	// become it, so the same changes made at another hour give the same
	// bytes (and digest), as SOURCE_DATE_EPOCH does for reproducible
	// builds.
	Clamp *time.Time
}

func (o Options) time(t time.Time) time.Time {
	if o.Clamp != nil && t.After(*o.Clamp) {
		return *o.Clamp
	}
	return t
}

// Commit writes the upper layer as an OCI image layer tar: files,
// directories and links as they are, a deletion as an empty ".wh.NAME"
// beside where NAME was, and an opaque directory with ".wh..wh..opq" in
// it. Hard links within the layer stay links. What the child named
// ".wh.*" itself is refused: an applier would delete the lower's file
// instead of adding the child's. Each entry's directory is in the tar
// before it, as a directory, so no entry is reached through a link.
// Extended attributes (security.capability above all: a file's
// capabilities) go with each entry as PAX records, as tar --xattrs and
// containerd write them. upper may be any tree: a lower layer of nsh's
// making gives its whiteouts back as .wh. entries.
func Commit(upper string, w io.Writer, o Options) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	dirs := map[string]bool{"": true}
	err := walk(upper, func(e entry) error {
		dir, name := path.Split(e.Rel)
		if !dirs[strings.TrimSuffix(dir, "/")] {
			return fmt.Errorf("commit %s: its directory is not one in the layer", e.Rel)
		}
		mtime := o.time(time.Unix(e.Stat.Mtim.Unix()))
		if strings.HasPrefix(name, whiteoutPrefix) {
			return fmt.Errorf("commit /%s: %w: the child made it; rename or remove it in the child, then commit again", e.Rel, ErrWhiteoutName)
		}
		if e.whiteout {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + whiteoutPrefix + name, Mode: 0o644, ModTime: mtime, Format: tar.FormatPAX})
		}
		h := &tar.Header{
			Name: e.Rel, Mode: int64(e.Stat.Mode & 0o7777), Uid: int(e.Stat.Uid), Gid: int(e.Stat.Gid),
			ModTime: mtime, Format: tar.FormatPAX,
		}
		switch e.Stat.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			h.Typeflag, h.Name = tar.TypeDir, e.Rel+"/"
			dirs[e.Rel] = true
		case unix.S_IFREG:
			h.Typeflag, h.Size = tar.TypeReg, e.Stat.Size
			if e.Stat.Nlink > 1 {
				key := [2]uint64{e.Stat.Dev, e.Stat.Ino}
				if first, ok := links[key]; ok {
					h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
				} else {
					links[key] = e.Rel
				}
			}
		case unix.S_IFLNK:
			target, err := e.Readlink()
			if err != nil {
				return fmt.Errorf("commit %s: %w", e.Rel, err)
			}
			h.Typeflag, h.Linkname = tar.TypeSymlink, target
		case unix.S_IFCHR, unix.S_IFBLK:
			h.Typeflag = tar.TypeChar
			if e.Stat.Mode&unix.S_IFMT == unix.S_IFBLK {
				h.Typeflag = tar.TypeBlock
			}
			h.Devmajor, h.Devminor = int64(unix.Major(e.Stat.Rdev)), int64(unix.Minor(e.Stat.Rdev))
		case unix.S_IFIFO:
			h.Typeflag = tar.TypeFifo
		default:
			return nil // a socket: tar has no such entry, as docker commit leaves it out
		}
		if h.Typeflag == tar.TypeLink {
			// The file's attributes went with its first name.
		} else if err := addXattrs(h, e.Entry); err != nil {
			return fmt.Errorf("commit %s: read its extended attributes: %w", e.Rel, err)
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("commit %s: %w", e.Rel, err)
		}
		if h.Typeflag == tar.TypeReg {
			if err := copyEntry(tw, e.Entry, h.Size); err != nil {
				return fmt.Errorf("commit %s: %w", e.Rel, err)
			}
		}
		if e.opaque {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.Rel + "/" + opaqueMarker, Mode: 0o644, ModTime: mtime, Format: tar.FormatPAX})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// addXattrs puts the entry's extended attributes in h as the PAX records
// GNU tar and the image appliers read (SCHILY.xattr.NAME).
func addXattrs(h *tar.Header, e *beneath.Entry) error {
	xs, err := e.Xattrs()
	if err != nil || len(xs) == 0 {
		return err
	}
	h.PAXRecords = map[string]string{}
	for name, v := range xs {
		h.PAXRecords["SCHILY.xattr."+name] = string(v)
	}
	return nil
}

// copyEntry copies the size bytes the header promised: a file the child
// grows or truncates meanwhile is an error, not a torn tar.
func copyEntry(w io.Writer, e *beneath.Entry, size int64) error {
	f, err := e.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err == nil && n != size {
		err = fmt.Errorf("it changed size while nsh read it (%d of %d bytes)", n, size)
	}
	return err
}

// ErrNoLayer says a child's root is not an overlay.
var ErrNoLayer = errors.New("its root is not an overlay")
