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
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
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
	rel      string // relative to the upper, '/'-separated
	info     fs.FileInfo
	whiteout bool // a character device 0/0: the path was deleted
	opaque   bool // a directory that hides the lowers' one of that name
}

// walk lists the upper layer in path order, without following symlinks.
func walk(upper string) ([]entry, error) {
	var out []entry
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == upper {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		e := entry{rel: filepath.ToSlash(rel), info: info}
		if info.Mode()&fs.ModeCharDevice != 0 {
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Rdev == 0 {
				e.whiteout = true
			}
		}
		if d.IsDir() {
			e.opaque = isOpaque(p)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the upper layer %s: %w", upper, err)
	}
	return out, nil
}

// isOpaque reads overlayfs's mark: trusted.* when mounted by root on the
// host, user.* when mounted in a user namespace (userxattr).
func isOpaque(p string) bool {
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		buf := make([]byte, 8)
		if n, err := unix.Lgetxattr(p, name, buf); err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// inLowers says whether rel exists in a lower layer, resolved inside each
// one (a symlink in a lower never leads out of it), and returns the first
// layer that has it.
func inLowers(lowers []string, rel string) (string, bool) {
	for _, l := range lowers {
		if existsIn(l, rel) {
			return l, true
		}
	}
	return "", false
}

func existsIn(root, rel string) bool {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// listIn lists the names in rel of every lower (an opaque directory hides
// them all).
func listIn(lowers []string, rel string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lowers {
		if !existsIn(l, rel) {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(l, rel))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e.Name())
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
	ents, err := walk(upper)
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

// Commit writes the upper layer as an OCI image layer tar: files,
// directories and links as they are, a deletion as an empty ".wh.NAME"
// beside where NAME was, and an opaque directory with ".wh..wh..opq" in
// it. Hard links within the layer stay links.
func Commit(upper string, w io.Writer) error {
	ents, err := walk(upper)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	for _, e := range ents {
		if e.whiteout {
			dir, name := path.Split(e.rel)
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + whiteoutPrefix + name, Mode: 0o644, ModTime: e.info.ModTime(), Format: tar.FormatPAX}); err != nil {
				return err
			}
			continue
		}
		full := filepath.Join(upper, e.rel)
		var target string
		if e.info.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(full); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(e.info, target)
		if err != nil {
			return fmt.Errorf("commit %s: %w", e.rel, err)
		}
		h.Name, h.Uname, h.Gname, h.Format = e.rel, "", "", tar.FormatPAX
		if e.info.IsDir() {
			h.Name += "/"
		}
		st, _ := e.info.Sys().(*syscall.Stat_t)
		if st != nil {
			h.Uid, h.Gid = int(st.Uid), int(st.Gid)
			if e.info.Mode().IsRegular() && st.Nlink > 1 {
				key := [2]uint64{uint64(st.Dev), st.Ino}
				if first, ok := links[key]; ok {
					h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
				} else {
					links[key] = e.rel
				}
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("commit %s: %w", e.rel, err)
		}
		if h.Typeflag == tar.TypeReg {
			if err := copyFile(tw, full); err != nil {
				return fmt.Errorf("commit %s: %w", e.rel, err)
			}
		}
		if e.opaque {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.rel + "/" + opaqueMarker, Mode: 0o644, ModTime: e.info.ModTime(), Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// ErrNoLayer says a child's root is not an overlay.
var ErrNoLayer = errors.New("its root is not an overlay")
