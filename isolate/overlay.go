package isolate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"nsh/plan"

	"golang.org/x/sys/unix"
)

// CheckOverlay says whether the layers can make an overlay root: every
// lower a directory, no character overlayfs's option parser would split a
// path at, and an upper that is not one of the lowers or inside one.
func CheckOverlay(o *plan.Overlay) error {
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
		if err := checkOverlap(o); err != nil {
			return err
		}
		if st, err := os.Stat(o.Upper); err == nil && !st.IsDir() {
			return fmt.Errorf("the upper layer %s is not a directory", o.Upper)
		}
	}
	return nil
}

// checkOverlap refuses an upper that is a lower, or inside one, or holds
// one. Paths are compared as the kernel sees them, by device and inode
// of each directory on the way, so a symlink or a bind mount on the path
// hides nothing.
func checkOverlap(o *plan.Overlay) error {
	up, upExists := dirIDs(o.Upper)
	for _, l := range o.Lowers {
		low, _ := dirIDs(l)
		if len(low) == 0 || len(up) == 0 {
			continue
		}
		// An upper not made yet holds nothing; it may be below a lower.
		if slices.Contains(up, low[0]) || upExists && slices.Contains(low, up[0]) {
			return fmt.Errorf("the upper layer %s overlaps the lower layer %s: the lower must never change, so keep the upper outside it", o.Upper, l)
		}
	}
	return nil
}

// dirIDs is the device and inode of p's deepest existing directory and
// of every directory above it, up to /, and whether that is p itself. p
// need not exist yet: an upper is made at spawn.
func dirIDs(p string) ([][2]uint64, bool) {
	p = filepath.Clean(p)
	exists := true
	for {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil, false
		}
		p, exists = parent, false
	}
	var ids [][2]uint64
	for {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil {
			ids = append(ids, [2]uint64{st.Dev, st.Ino})
		}
		parent := filepath.Dir(p)
		if parent == p {
			return ids, exists
		}
		p = parent
	}
}

// inUse holds the kept uppers of children that run: overlayfs leaves two
// mounts sharing an upper undefined, so a second is refused.
var inUse struct {
	sync.Mutex
	by map[[2]uint64]*Layer
}

// mkdirPrivate makes dir and what is missing above it, each 0700: a root
// child can leave a setuid-root binary or a device node in its upper, and
// only a directory no one else may enter keeps other users of the host
// from it (the upper's own mode is the child's / and the child's to
// change).
func mkdirPrivate(dir string) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if err := mkdirPrivate(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
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
	// claimed is the kept upper's device and inode while its child runs.
	claimed [2]uint64
}

// newLayer makes the directories of a child's overlay. The work directory
// must be on the upper's filesystem, so it is made beside the upper.
func newLayer(o *plan.Overlay) (*Layer, error) {
	l := &Layer{Lowers: o.Lowers, Upper: o.Upper, Kept: o.Upper != ""}
	parent := os.TempDir()
	if l.Kept {
		if err := mkdirPrivate(l.Upper); err != nil {
			return nil, fmt.Errorf("overlay: make the upper layer: %w", err)
		}
		// Asked again now that it exists: a link on its path may have
		// changed since the plan was checked.
		if err := checkOverlap(o); err != nil {
			return nil, fmt.Errorf("overlay: %w", err)
		}
		if err := l.claim(); err != nil {
			return nil, err
		}
		parent = filepath.Dir(l.Upper)
	}
	dir, err := MakeTrackedDir(parent, ".nsh-layer-", 0o700)
	if err != nil {
		l.Release()
		return nil, fmt.Errorf("overlay: make the layer's directory in %s: %w", parent, err)
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

// claim marks a kept upper as used by a running child, or says which
// child uses it.
func (l *Layer) claim() error {
	var st unix.Stat_t
	if err := unix.Stat(l.Upper, &st); err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	inUse.Lock()
	defer inUse.Unlock()
	key := [2]uint64{st.Dev, st.Ino}
	if inUse.by == nil {
		inUse.by = map[[2]uint64]*Layer{}
	}
	if other := inUse.by[key]; other != nil && other != l {
		return fmt.Errorf("overlay: the upper layer %s is in use by a running child: two overlays on one upper are undefined in overlayfs; wait for it (or kill it), or name another --upper", l.Upper)
	}
	inUse.by[key] = l
	l.claimed = key
	return nil
}

// Release says the layer's child has ended: its kept upper may be used
// again.
func (l *Layer) Release() {
	if l == nil || l.claimed == ([2]uint64{}) {
		return
	}
	inUse.Lock()
	if inUse.by[l.claimed] == l {
		delete(inUse.by, l.claimed)
	}
	inUse.Unlock()
	l.claimed = [2]uint64{}
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
	l.Release()
	err := RemoveTrackedDir(l.dir)
	if err == nil {
		l.dir = ""
	}
	return err
}
