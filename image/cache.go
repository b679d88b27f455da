package image

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Cache holds unpacked layers, each a directory named by its diff_id, so
// a layer two images share is unpacked once. A directory appears under
// its name only whole and checked: one being unpacked has another name.
type Cache struct {
	Dir string
	// MakeTemp makes the directory a layer is unpacked into, Keep gives
	// it its name in the cache once whole, Remove removes it when the
	// layer is damaged: nsh's tracked directories, which its janitor
	// removes if nsh is killed meanwhile.
	MakeTemp func(parent, prefix string) (string, error)
	Keep     func(tmp, final string) error
	Remove   func(dir string) error
}

// Path is where layer l is (or will be) unpacked.
func (c *Cache) Path(l Layer) string {
	return filepath.Join(c.Dir, l.DiffID.Algorithm().String(), l.DiffID.Encoded())
}

// Unpack puts layer i of im in the cache unless it is there already,
// and says which.
func (c *Cache) Unpack(im *Image, i int) (dir string, reused bool, err error) {
	l := im.Layers[i]
	if err := l.DiffID.Validate(); err != nil {
		return "", false, fmt.Errorf("layer %d: diff_id %q: %w", i+1, l.DiffID, err)
	}
	final := c.Path(l)
	if st, err := os.Lstat(final); err == nil && st.IsDir() {
		return final, true, nil
	}
	// Private: a layer holds setuid binaries and device nodes, which no
	// other user of the host may reach.
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return "", false, fmt.Errorf("make the layer cache: %w", err)
	}
	tmp, err := c.MakeTemp(filepath.Dir(final), ".unpack-")
	if err != nil {
		return "", false, fmt.Errorf("make the layer cache: %w", err)
	}
	if err := im.ReadLayer(i, func(r io.Reader) error { return Unpack(r, tmp) }); err != nil {
		c.Remove(tmp)
		return "", false, fmt.Errorf("unpack layer %d of %s: %w", i+1, im.Ref, err)
	}
	if err := c.Keep(tmp, final); err != nil {
		c.Remove(tmp)
		if st, serr := os.Lstat(final); serr == nil && st.IsDir() {
			return final, true, nil // unpacked beside this one meanwhile
		}
		return "", false, fmt.Errorf("unpack layer %d of %s: %w", i+1, im.Ref, err)
	}
	return final, false, nil
}
