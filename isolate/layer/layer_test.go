package layer

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// An upper layer built by hand as overlayfs would leave it: a new file, a
// copied-up one, a whiteout, an opaque directory, a hard link pair.
func handMade(t *testing.T) (upper, lower string) {
	if os.Geteuid() != 0 {
		t.Skip("whiteouts (mknod) and trusted.* xattrs need root")
	}
	dir := t.TempDir()
	upper, lower = filepath.Join(dir, "upper"), filepath.Join(dir, "lower")
	for _, d := range []string{"lower/etc", "lower/opt/d", "upper/etc", "upper/opt/d", "upper/new"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	for f, v := range map[string]string{"lower/etc/passwd": "root\n", "lower/etc/gone": "x", "lower/opt/d/hidden": "h",
		"upper/etc/passwd": "root\nme\n", "upper/opt/d/fresh": "f", "upper/new/file": "n"} {
		os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644)
	}
	if err := unix.Mknod(filepath.Join(upper, "etc/gone"), unix.S_IFCHR|0o000, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(upper, "opt/d"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("no trusted xattrs on %s: %v", dir, err)
	}
	os.Link(filepath.Join(upper, "new/file"), filepath.Join(upper, "new/link"))
	return upper, lower
}

func TestDiff(t *testing.T) {
	upper, lower := handMade(t)
	got, err := Diff(upper, []string{lower})
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Changed, "/etc"}, {Deleted, "/etc/gone"}, {Changed, "/etc/passwd"},
		{Added, "/new"}, {Added, "/new/file"}, {Added, "/new/link"},
		{Changed, "/opt"}, {Changed, "/opt/d"}, {Added, "/opt/d/fresh"}, {Deleted, "/opt/d/hidden"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff:\n got %v\nwant %v", got, want)
	}
}

func TestCommit(t *testing.T) {
	upper, _ := handMade(t)
	var buf bytes.Buffer
	if err := Commit(upper, &buf, Options{}); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	var names []string
	types := map[string]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		types[h.Name] = h.Typeflag
		if h.Name == "etc/passwd" {
			b, _ := io.ReadAll(tr)
			if string(b) != "root\nme\n" {
				t.Errorf("etc/passwd holds %q", b)
			}
		}
	}
	want := []string{"etc/", "etc/.wh.gone", "etc/passwd", "new/", "new/file", "new/link", "opt/", "opt/d/", "opt/d/.wh..wh..opq", "opt/d/fresh"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("tar entries:\n got %q\nwant %q", names, want)
	}
	if types["new/link"] != tar.TypeLink || types["etc/.wh.gone"] != tar.TypeReg {
		t.Errorf("types: link %c, whiteout %c", types["new/link"], types["etc/.wh.gone"])
	}
}

// A file's capabilities go with it as a PAX record, overlayfs's own marks
// do not, and Clamp makes the same changes made at two times the same
// bytes.
func TestCommitXattrsAndClamp(t *testing.T) {
	upper, _ := handMade(t)
	capV := []byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // cap_net_raw+ep
	if err := unix.Setxattr(filepath.Join(upper, "new/file"), "security.capability", capV, 0); err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(0, 0)
	var first, second bytes.Buffer
	if err := Commit(upper, &first, Options{Clamp: &epoch}); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	filepath.Walk(upper, func(p string, _ os.FileInfo, _ error) error {
		unix.Lutimes(p, []unix.Timeval{unix.NsecToTimeval(later.UnixNano()), unix.NsecToTimeval(later.UnixNano())})
		return nil
	})
	if err := Commit(upper, &second, Options{Clamp: &epoch}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Errorf("the same layer at another time gave other bytes")
	}
	tr := tar.NewReader(&first)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if !h.ModTime.Equal(epoch) {
			t.Errorf("%s: time %v, not clamped", h.Name, h.ModTime)
		}
		for k := range h.PAXRecords {
			if strings.Contains(k, "overlay") {
				t.Errorf("%s carries overlayfs's mark %s", h.Name, k)
			}
		}
		got, has := h.PAXRecords["SCHILY.xattr.security.capability"]
		if h.Name == "new/file" && got != string(capV) || h.Name != "new/file" && has {
			t.Errorf("%s: security.capability %q", h.Name, got)
		}
	}
}
