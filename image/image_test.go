package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"nsh/image/req"
)

func needRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: layers hold owners, device nodes and trusted.* marks")
	}
}

// outside is a directory beside the layer, standing for the host's /etc:
// what a hostile layer aims at.
func outside(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shadow"), []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

type entry struct {
	h    tar.Header
	body string
}

func tarOf(t *testing.T, es ...entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := e.h
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return buf.Bytes()
}

func file(name, body string) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name}, body}
}
func dir(name string) entry {
	return entry{tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}, ""}
}
func symlink(name, target string) entry {
	return entry{tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target}, ""}
}
func hardlink(name, target string) entry {
	return entry{tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}, ""}
}

// untouched fails the test if anything in out changed.
func untouched(t *testing.T, out string) {
	t.Helper()
	names, _ := os.ReadDir(out)
	if len(names) != 1 || names[0].Name() != "shadow" {
		t.Errorf("the layer wrote beside itself: %v", names)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "shadow")); string(b) != "SECRET" {
		t.Errorf("the layer wrote through to %s/shadow: %q", out, b)
	}
}

// The attacks on rootfs --image: a layer whose names lead out of the
// directory it is unpacked into, directly or through a link an earlier
// entry made. Each aims at a directory the test made beside the layer;
// each must fail and leave it as it was.
func TestUnpackNeverLeaves(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name string
		es   func(out string) []entry
	}{
		{"dotdot", func(out string) []entry {
			return []entry{file("../"+filepath.Base(out)+"/pwned", "x")}
		}},
		{"absolute symlink, then a file through it", func(out string) []entry {
			return []entry{symlink("etc", out), file("etc/pwned", "x")}
		}},
		{"relative symlink, then a file through it", func(out string) []entry {
			return []entry{symlink("etc", "../"+filepath.Base(out)), file("etc/pwned", "x")}
		}},
		{"symlink, then the same name as a file", func(out string) []entry {
			// Replaced, never written through.
			return []entry{symlink("shadow", filepath.Join(out, "shadow")), file("shadow", "mine"), file("../x", "")}
		}},
		{"hard link to a file outside", func(out string) []entry {
			return []entry{hardlink("shadow", filepath.Join(out, "shadow"))}
		}},
		{"hard link through a symlink", func(out string) []entry {
			return []entry{symlink("etc", out), hardlink("shadow", "etc/shadow")}
		}},
		{"whiteout through a symlink", func(out string) []entry {
			return []entry{symlink("etc", out), file("etc/.wh.shadow", "")}
		}},
		{"opaque mark through a symlink", func(out string) []entry {
			return []entry{symlink("etc", out), file("etc/.wh..wh..opq", "")}
		}},
		{"directory through a symlink", func(out string) []entry {
			return []entry{symlink("etc", out), dir("etc/sub/")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "host")
			os.Mkdir(out, 0o755)
			os.WriteFile(filepath.Join(out, "shadow"), []byte("SECRET"), 0o600)
			layer := filepath.Join(parent, "layer")
			os.Mkdir(layer, 0o755)
			err := Unpack(bytes.NewReader(tarOf(t, tc.es(out)...)), layer)
			if err == nil {
				t.Errorf("unpacked a layer that leads out of its directory")
			}
			t.Log(err)
			untouched(t, out)
		})
	}
}

// A layer as podman and docker write it becomes an overlayfs lower: its
// deletions 0/0 character devices, its opaque directory marked, its
// owners, modes, times, links and file capabilities kept.
func TestUnpackLayer(t *testing.T) {
	needRoot(t)
	mtime := time.Unix(1700000000, 0)
	capV := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // cap_net_raw+ep
	es := []entry{
		dir("./"), dir("etc/"),
		{tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Uid: 1000, Gid: 1001, Mode: 0o4755, ModTime: mtime}, "root:x:0:0::/:/bin/sh\nweb:x:33:34::/:/bin/sh\n"},
		hardlink("etc/passwd.link", "etc/passwd"),
		symlink("etc/link", "/etc/passwd"),
		file("etc/.wh.hostname", ""),
		dir("var/"), file("var/.wh..wh..opq", ""),
		{tar.Header{Typeflag: tar.TypeReg, Name: "ping", Mode: 0o755, PAXRecords: map[string]string{"SCHILY.xattr.security.capability": capV}}, "ELF"},
		{tar.Header{Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3, Mode: 0o666}, ""},
	}
	layer := t.TempDir()
	if err := Unpack(bytes.NewReader(tarOf(t, es...)), layer); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Lstat(filepath.Join(layer, "etc/passwd"), &st)
	if st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != 0o4755 || st.Mtim.Sec != mtime.Unix() || st.Nlink != 2 {
		t.Errorf("etc/passwd: uid %d gid %d mode %o mtime %d links %d", st.Uid, st.Gid, st.Mode&0o7777, st.Mtim.Sec, st.Nlink)
	}
	unix.Lstat(filepath.Join(layer, "etc/hostname"), &st)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/.wh.hostname is not an overlayfs whiteout: mode %o rdev %d", st.Mode, st.Rdev)
	}
	if _, err := os.Lstat(filepath.Join(layer, "etc/.wh.hostname")); err == nil {
		t.Errorf("the whiteout's tar name is in the layer")
	}
	buf := make([]byte, 8)
	if n, err := unix.Getxattr(filepath.Join(layer, "var"), opaqueXattr, buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("var is not opaque: %v", err)
	}
	buf = make([]byte, 64)
	if n, err := unix.Getxattr(filepath.Join(layer, "ping"), "security.capability", buf); err != nil || string(buf[:n]) != capV {
		t.Errorf("ping lost its capabilities: %v", err)
	}
	if l, _ := os.Readlink(filepath.Join(layer, "etc/link")); l != "/etc/passwd" {
		t.Errorf("etc/link -> %q", l)
	}
	unix.Lstat(filepath.Join(layer, "null"), &st)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("null: mode %o rdev %d", st.Mode, st.Rdev)
	}
	uid, gid, err := User([]string{layer}, "web")
	if err != nil || uid != 33 || gid != 34 {
		t.Errorf("User(web) = %d %d %v", uid, gid, err)
	}
	if _, _, err := User([]string{layer}, "nobody"); err == nil {
		t.Errorf("User(nobody) found a user the image does not have")
	}
}

// An image's /etc/passwd that is a symlink to the host's is not read.
func TestUserReadsNothingOfTheHost(t *testing.T) {
	out := outside(t)
	os.WriteFile(filepath.Join(out, "passwd"), []byte("web:x:77:77::/:/bin/sh\n"), 0o644)
	layer := t.TempDir()
	os.Mkdir(filepath.Join(layer, "etc"), 0o755)
	os.Symlink(filepath.Join(out, "passwd"), filepath.Join(layer, "etc/passwd"))
	if uid, _, err := User([]string{layer}, "web"); err == nil {
		t.Errorf("read the user from the host's file: uid %d", uid)
	}
}

// layoutOf writes an OCI layout with the given layer tars.
func layoutOf(t *testing.T, cfg ocispec.ImageConfig, layers ...[]byte) string {
	dir := t.TempDir()
	b := Build{Config: cfg, Created: time.Unix(0, 0).UTC(), Tag: "latest"}
	for _, l := range layers {
		b.Layers = append(b.Layers, BuildLayer{Write: func(w io.Writer) error { _, err := w.Write(l); return err }})
	}
	if _, err := WriteLayout(dir, b); err != nil {
		t.Fatal(err)
	}
	return dir
}

// unpackInto unpacks layer i of im into a new directory, as nsh-image's
// unpack does, checking it against its digests.
func unpackInto(t *testing.T, im *Image, i int) (string, error) {
	dir := t.TempDir()
	return dir, im.ReadLayer(i, func(r io.Reader) error { return Unpack(r, dir) })
}

func TestLayoutRoundTrip(t *testing.T) {
	needRoot(t)
	base := tarOf(t, dir("etc/"), file("etc/hostname", "base\n"), file("etc/motd", "hi\n"))
	top := tarOf(t, file("new", "changed\n"), file("etc/.wh.motd", ""))
	dir := layoutOf(t, ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{"A=1"}, WorkingDir: "/etc", User: "0"}, base, top)
	again := layoutOf(t, ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{"A=1"}, WorkingDir: "/etc", User: "0"}, base, top)
	idx, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	idx2, _ := os.ReadFile(filepath.Join(again, "index.json"))
	if !bytes.Equal(idx, idx2) {
		t.Errorf("the same image written twice has two manifests:\n%s\n%s", idx, idx2)
	}
	for _, ref := range []string{"oci:" + dir, "oci:" + dir + ":latest"} {
		im, err := Open(ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Layers) != 2 || im.Layers[1].DiffID != digest.FromBytes(top) || im.Config.Config.WorkingDir != "/etc" {
			t.Errorf("%s: %+v", ref, im)
		}
		var top string
		for i := range im.Layers {
			dir, err := unpackInto(t, im, i)
			if err != nil {
				t.Fatalf("layer %d: %v", i, err)
			}
			top = dir
		}
		b, _ := os.ReadFile(filepath.Join(top, "new"))
		if string(b) != "changed\n" {
			t.Errorf("new: %q", b)
		}
		im.Close()
	}
	if _, err := Open("oci:" + dir + ":v2"); err == nil || !strings.Contains(err.Error(), `no image tagged "v2"`) {
		t.Errorf("a tag the layout lacks: %v", err)
	}
}

// A layer whose bytes are not what its digest says is refused (nsh then
// removes the directory it was unpacked into: rootfs_image.go).
func TestDamagedLayer(t *testing.T) {
	needRoot(t)
	dir := layoutOf(t, ocispec.ImageConfig{}, tarOf(t, file("a", "good\n")))
	im, err := Open("oci:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	blob := filepath.Join(dir, im.Layers[0].Blob)
	b, _ := os.ReadFile(blob)
	os.WriteFile(blob, bytes.Replace(b, []byte("good"), []byte("evil"), 1), 0o644)
	if _, err := unpackInto(t, im, 0); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("a damaged layer: %v", err)
	}
}

// A digest in an index is a name nsh opens: one that is not a digest
// never becomes a path.
func TestDigestIsNotAPath(t *testing.T) {
	out := outside(t)
	dir := t.TempDir()
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest("sha256:../../../../" + out + "/shadow")}}}
	b, _ := json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644)
	_, err := Open("oci:" + dir)
	if err == nil || !errors.Is(err, digest.ErrDigestInvalidFormat) && !strings.Contains(err.Error(), "digest") {
		t.Errorf("a path as a digest: %v", err)
	}
}

// docker save's tar: manifest.json, a config named by its digest, and
// each layer's tar (a layer saved twice is a symlink to the first).
func TestDockerArchive(t *testing.T) {
	needRoot(t)
	l1 := tarOf(t, file("a", "one\n"))
	cfg := ocispec.Image{RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(l1), digest.FromBytes(l1)}},
		Config: ocispec.ImageConfig{Entrypoint: []string{"/bin/echo"}, Cmd: []string{"hi"}}}
	cb, _ := json.Marshal(cfg)
	cname := digest.FromBytes(cb).Encoded() + ".json"
	mb, _ := json.Marshal([]dockerManifest{{Config: cname, RepoTags: []string{"localhost/x:1"}, Layers: []string{"l1/layer.tar", "l2/layer.tar"}}})
	archive := tarOf(t,
		entry{tar.Header{Typeflag: tar.TypeReg, Name: "manifest.json"}, string(mb)},
		entry{tar.Header{Typeflag: tar.TypeReg, Name: cname}, string(cb)},
		dir("l1/"), entry{tar.Header{Typeflag: tar.TypeReg, Name: "l1/layer.tar"}, string(l1)},
		dir("l2/"), symlink("l2/layer.tar", "../l1/layer.tar"),
	)
	f := filepath.Join(t.TempDir(), "saved.tar")
	os.WriteFile(f, archive, 0o644)
	for _, ref := range []string{f, "docker-archive:" + f + ":1"} {
		im, err := Open(ref)
		if err != nil {
			t.Fatal(err)
		}
		dir, err := unpackInto(t, im, 1)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "one\n" {
			t.Errorf("%s: a = %q", ref, b)
		}
		if strings.Join(im.Config.Config.Entrypoint, " ") != "/bin/echo" {
			t.Errorf("%s: config %+v", ref, im.Config.Config)
		}
		im.Close()
	}
}

// nsh-image's requests: inspect names the layers and the process, user
// looks a name up, an unknown request is refused.
func TestServe(t *testing.T) {
	needRoot(t)
	base := tarOf(t, dir("etc/"), file("etc/passwd", "web:x:33:34::/:/bin/sh\n"))
	layout := layoutOf(t, ocispec.ImageConfig{Cmd: []string{"sh"}, User: "web"}, base)
	out, err := serve(strings.NewReader(`{"op":"inspect","ref":"oci:` + layout + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	im := out.(req.Image)
	if len(im.DiffIDs) != 1 || im.DiffIDs[0] != string(digest.FromBytes(base)) || im.Process.User != "web" || im.Digest == "" {
		t.Errorf("inspect: %+v", im)
	}
	d := t.TempDir()
	if _, err := serve(strings.NewReader(`{"op":"unpack","ref":"oci:` + layout + `","layer":0,"dir":"` + d + `"}`)); err != nil {
		t.Fatal(err)
	}
	out, err = serve(strings.NewReader(`{"op":"user","user":"web","lowers":["` + d + `"]}`))
	if ids := out.(req.IDs); err != nil || ids.UID != 33 || ids.GID != 34 {
		t.Errorf("user: %+v %v", out, err)
	}
	if _, err := serve(strings.NewReader(`{"op":"unpack","ref":"oci:` + layout + `","layer":5,"dir":"` + d + `"}`)); err == nil {
		t.Error("a layer the image does not have was unpacked")
	}
	if _, err := serve(strings.NewReader(`{"op":"format"}`)); err == nil || !strings.Contains(err.Error(), "unknown request") {
		t.Errorf("an unknown request: %v", err)
	}
}
