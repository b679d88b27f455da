package isolate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"nsh/isolate/cgroup"
)

// Overlay is a root made of layers, as an image becomes a container:
// read-only lower directories (the first is the top one) that nothing
// writes to, and an upper directory that takes every change.
type Overlay struct {
	Lowers []string `json:"lowers"`
	// Upper is a directory the user named to keep; empty: each child gets
	// an upper of its own that nsh removes with it.
	Upper string `json:"upper,omitempty"`
}

// String is the overlay as the rootfs command takes it.
func (o *Overlay) String() string {
	s := "overlay " + strings.Join(o.Lowers, ":")
	if o.Upper != "" {
		s += " --upper " + o.Upper
	}
	return s
}

// CheckOverlay says whether the layers can make an overlay root: every
// lower a directory, no character overlayfs's option parser would split a
// path at, and an upper that is not one of the lowers or inside one.
func CheckOverlay(o *Overlay) error {
	for _, l := range append(append([]string{}, o.Lowers...), o.Upper) {
		if strings.ContainsAny(l, ":,\\\n") {
			return fmt.Errorf("%s: overlayfs cannot take a path with ':', ',' or '\\' in it: rename or bind-mount it elsewhere", l)
		}
	}
	for _, l := range o.Lowers {
		if err := CheckRootfs(l); err != nil {
			return err
		}
	}
	if o.Upper != "" {
		for _, l := range o.Lowers {
			if o.Upper == l || strings.HasPrefix(o.Upper, l+"/") || strings.HasPrefix(l, o.Upper+"/") {
				return fmt.Errorf("the upper layer %s overlaps the lower layer %s: the lower must never change, so keep the upper outside it", o.Upper, l)
			}
		}
		if st, err := os.Stat(o.Upper); err == nil && !st.IsDir() {
			return fmt.Errorf("the upper layer %s is not a directory", o.Upper)
		}
	}
	return nil
}

// Layer is a child's writable layer: where its overlay keeps changes, and
// what nsh made for it.
type Layer struct {
	Lowers []string // top first
	Upper  string
	Kept   bool   // the user's upper: never removed
	work   string // overlayfs's work directory, beside the upper
	merged string // the mount point, inside the child's mount namespace only
	dir    string // nsh's own directory holding work, merged (and the upper unless kept)
}

// newLayer makes the directories of a child's overlay. The work directory
// must be on the upper's filesystem, so it is made beside the upper.
func newLayer(o *Overlay) (*Layer, error) {
	l := &Layer{Lowers: o.Lowers, Upper: o.Upper, Kept: o.Upper != ""}
	parent := os.TempDir()
	if l.Kept {
		if err := os.MkdirAll(l.Upper, 0o755); err != nil {
			return nil, fmt.Errorf("overlay: make the upper layer: %w", err)
		}
		parent = filepath.Dir(l.Upper)
	}
	dir, err := os.MkdirTemp(parent, ".nsh-layer-")
	if err != nil {
		return nil, fmt.Errorf("overlay: make the layer's directory in %s: %w", parent, err)
	}
	// Announced to the janitor, so a killed nsh leaves no layer behind.
	if err := cgroup.TrackTree(dir); err != nil {
		os.Remove(dir)
		return nil, err
	}
	l.dir = dir
	l.work, l.merged = filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	if !l.Kept {
		l.Upper = filepath.Join(dir, "upper")
	}
	for _, d := range []string{l.work, l.merged, l.Upper} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			l.Remove()
			return nil, fmt.Errorf("overlay: %w", err)
		}
	}
	var a, b unix.Stat_t
	if unix.Stat(l.Upper, &a) == nil && unix.Stat(l.work, &b) == nil && a.Dev != b.Dev {
		l.Remove()
		return nil, fmt.Errorf("overlay: the upper layer %s is a mount point of its own, and overlayfs needs its work directory on the same filesystem: name a directory below it", l.Upper)
	}
	return l, nil
}

// options is the overlay's mount data.
func (l *Layer) options(userns bool) string {
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(l.Lowers, ":"), l.Upper, l.work)
	if userns {
		// trusted.* xattrs are root's on the host; in a user namespace
		// overlayfs marks whiteouts and opaque directories with user.*.
		opts += ",userxattr"
	}
	return opts
}

// has says whether rel is a directory in the union of the layers.
func (l *Layer) has(rel string) bool {
	for _, d := range append([]string{l.Upper}, l.Lowers...) {
		if isDirIn(d, rel) {
			return true
		}
	}
	return false
}

// Remove removes what nsh made for the layer: its work directory, mount
// point and, unless the user named it, the upper with the child's changes.
// A layer whose child still runs keeps its upper until the child ends.
func (l *Layer) Remove() error {
	if l == nil || l.dir == "" {
		return nil
	}
	err := removeTree(l.dir)
	if err == nil {
		cgroup.UntrackTree(l.dir)
		l.dir = ""
	}
	return err
}

// removeTree is os.RemoveAll for a tree overlayfs wrote: its work
// directory leaves a subdirectory of mode 000 that an unprivileged owner
// must open up before removing it.
func removeTree(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return err
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		// An unreadable directory comes with err set: open it up.
		if err != nil || d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
