// Package image reads and writes container images: an OCI image layout
// (a directory, or a tar of one) and the tar docker save and podman save
// write, unpacked layer by layer into overlayfs lower layers; and the
// layout nsh's commit writes. The formats are image-spec's types; every
// blob is checked against its digest as it is read.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"nsh/internal/beneath"
)

// Image is an image's manifest and config, and where its layers are.
type Image struct {
	Ref    string        // as the user gave it
	Digest digest.Digest // of the manifest (of the config, for docker save's tar)
	Config ocispec.Image
	Layers []Layer // bottom first
	src    source
}

// Layer is one layer of an image.
type Layer struct {
	// Blob is the name of its blob in the source; Digest is the blob's
	// digest where the source gives one (a docker save tar does not).
	Blob   string
	Digest digest.Digest
	// DiffID is the digest of the layer's tar, uncompressed: what the
	// config lists, and the name of its unpacked directory.
	DiffID digest.Digest
	Size   int64
}

// source reads the files of an image layout or archive by name.
type source interface {
	open(name string) (io.ReadCloser, error)
	Close() error
}

// ErrRef says an image reference has no form nsh reads.
var ErrRef = errors.New("give oci:DIR[:TAG] (an OCI image layout) or FILE.tar (docker save, podman save, or an OCI layout in a tar)")

// Open reads the image ref names: oci:DIR[:TAG], or a tar file.
func Open(ref string) (*Image, error) {
	var src source
	var tag string
	var err error
	switch {
	case strings.HasPrefix(ref, "oci:"):
		dir := strings.TrimPrefix(ref, "oci:")
		if i := strings.LastIndex(dir, ":"); i >= 0 {
			dir, tag = dir[:i], dir[i+1:]
		}
		src, err = openDir(dir)
	case strings.HasPrefix(ref, "docker-archive:"), strings.HasPrefix(ref, "oci-archive:"):
		_, file, _ := strings.Cut(ref, ":")
		if i := strings.LastIndex(file, ":"); i >= 0 {
			file, tag = file[:i], file[i+1:]
		}
		src, err = openTar(file)
	default:
		if st, serr := os.Stat(ref); serr == nil && st.IsDir() {
			return nil, fmt.Errorf("%s is a directory: %w", ref, ErrRef)
		}
		src, err = openTar(ref)
	}
	if err != nil {
		return nil, err
	}
	im := &Image{Ref: ref, src: src}
	if err := im.read(tag); err != nil {
		src.Close()
		return nil, fmt.Errorf("read the image %s: %w", ref, err)
	}
	return im, nil
}

// Close lets the image's files go.
func (im *Image) Close() error { return im.src.Close() }

// read finds the manifest: an OCI layout's index.json, or the
// manifest.json of docker save.
func (im *Image) read(tag string) error {
	rc, err := im.src.open(ocispec.ImageIndexFile)
	if err == nil {
		rc.Close()
		return im.readOCI(tag)
	}
	if rc, err := im.src.open("manifest.json"); err == nil {
		rc.Close()
		return im.readDocker(tag)
	}
	return fmt.Errorf("neither index.json (an OCI layout) nor manifest.json (docker save) is in it: %w", ErrRef)
}

// readJSON reads a small JSON file of the source, checked against want
// when it is a blob.
func (im *Image) readJSON(name string, want digest.Digest, v any) error {
	rc, err := im.src.open(name)
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if want != "" && digest.FromBytes(b) != want {
		return fmt.Errorf("%s does not match its digest %s: the image is damaged", name, want)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// blobName is where a layout keeps the blob d; a digest that does not
// parse never becomes a path.
func blobName(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("digest %q: %w", d, err)
	}
	return path.Join(ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded()), nil
}

func (im *Image) readOCI(tag string) error {
	var idx ocispec.Index
	if err := im.readJSON(ocispec.ImageIndexFile, "", &idx); err != nil {
		return err
	}
	desc, err := pick(idx.Manifests, tag)
	if err != nil {
		return err
	}
	for depth := 0; desc.MediaType == ocispec.MediaTypeImageIndex; depth++ {
		// A multi-platform image: the manifest for this machine.
		name, err := blobName(desc.Digest)
		if err != nil || depth > 4 {
			return fmt.Errorf("the index %s: %w", desc.Digest, err)
		}
		var sub ocispec.Index
		if err := im.readJSON(name, desc.Digest, &sub); err != nil {
			return err
		}
		if desc, err = pickPlatform(sub.Manifests); err != nil {
			return err
		}
	}
	name, err := blobName(desc.Digest)
	if err != nil {
		return err
	}
	var m ocispec.Manifest
	if err := im.readJSON(name, desc.Digest, &m); err != nil {
		return err
	}
	im.Digest = desc.Digest
	cname, err := blobName(m.Config.Digest)
	if err != nil {
		return err
	}
	if err := im.readJSON(cname, m.Config.Digest, &im.Config); err != nil {
		return err
	}
	if len(m.Layers) != len(im.Config.RootFS.DiffIDs) {
		return fmt.Errorf("the manifest lists %d layers and the config %d", len(m.Layers), len(im.Config.RootFS.DiffIDs))
	}
	for i, l := range m.Layers {
		name, err := blobName(l.Digest)
		if err != nil {
			return err
		}
		im.Layers = append(im.Layers, Layer{Blob: name, Digest: l.Digest, DiffID: im.Config.RootFS.DiffIDs[i], Size: l.Size})
	}
	return nil
}

// pick is the manifest named tag, or the only one.
func pick(ms []ocispec.Descriptor, tag string) (ocispec.Descriptor, error) {
	var names []string
	for _, m := range ms {
		name := m.Annotations[ocispec.AnnotationRefName]
		if tag != "" && (name == tag || strings.HasSuffix(m.Annotations["io.containerd.image.name"], ":"+tag)) {
			return m, nil
		}
		names = append(names, name)
	}
	switch {
	case tag != "":
		return ocispec.Descriptor{}, fmt.Errorf("no image tagged %q in it (it has: %s)", tag, strings.Join(names, ", "))
	case len(ms) == 1:
		return ms[0], nil
	case len(ms) == 0:
		return ocispec.Descriptor{}, errors.New("its index lists no image")
	}
	return ocispec.Descriptor{}, fmt.Errorf("it holds %d images (%s): name one, oci:DIR:TAG", len(ms), strings.Join(names, ", "))
}

func pickPlatform(ms []ocispec.Descriptor) (ocispec.Descriptor, error) {
	var seen []string
	for _, m := range ms {
		if p := m.Platform; p != nil {
			if p.OS == "linux" && p.Architecture == runtime.GOARCH {
				return m, nil
			}
			seen = append(seen, p.OS+"/"+p.Architecture)
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("no image for linux/%s in it (it has %s)", runtime.GOARCH, strings.Join(seen, ", "))
}

// dockerManifest is one image of docker save's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func (im *Image) readDocker(tag string) error {
	var ms []dockerManifest
	if err := im.readJSON("manifest.json", "", &ms); err != nil {
		return err
	}
	var m *dockerManifest
	var tags []string
	for i := range ms {
		tags = append(tags, ms[i].RepoTags...)
		if tag == "" || slices.ContainsFunc(ms[i].RepoTags, func(t string) bool { return t == tag || strings.HasSuffix(t, ":"+tag) }) {
			if m == nil {
				m = &ms[i]
			}
		}
	}
	switch {
	case m == nil && tag != "":
		return fmt.Errorf("no image tagged %q in it (it has: %s)", tag, strings.Join(tags, ", "))
	case m == nil:
		return errors.New("its manifest.json lists no image")
	case tag == "" && len(ms) > 1:
		return fmt.Errorf("it holds %d images (%s): name one, docker-archive:FILE:TAG", len(ms), strings.Join(tags, ", "))
	}
	// The config's name is its digest: sha256:HEX.json, or
	// blobs/sha256/HEX in docker 25's layout.
	base := strings.TrimSuffix(path.Base(m.Config), ".json")
	want := digest.NewDigestFromEncoded(digest.SHA256, base)
	if want.Validate() != nil {
		want = ""
	}
	if err := im.readJSON(m.Config, want, &im.Config); err != nil {
		return err
	}
	im.Digest = want
	if len(m.Layers) != len(im.Config.RootFS.DiffIDs) {
		return fmt.Errorf("manifest.json lists %d layers and the config %d", len(m.Layers), len(im.Config.RootFS.DiffIDs))
	}
	for i, l := range m.Layers {
		im.Layers = append(im.Layers, Layer{Blob: l, DiffID: im.Config.RootFS.DiffIDs[i]})
	}
	return nil
}

// ReadLayer calls fn with layer i's tar, uncompressed, and checks the
// blob's digest and the tar's (the config's diff_id) once fn is done: a
// damaged or changed image is an error, and what fn made of it must go.
func (im *Image) ReadLayer(i int, fn func(tar io.Reader) error) error {
	l := im.Layers[i]
	rc, err := im.src.open(l.Blob)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := l.DiffID.Validate(); err != nil {
		return fmt.Errorf("layer %d: diff_id %q: %w", i+1, l.DiffID, err)
	}
	var blob io.Reader = rc
	var blobCheck digest.Verifier
	if l.Digest != "" {
		blobCheck = l.Digest.Verifier()
		blob = io.TeeReader(rc, blobCheck)
	}
	body, err := decompress(blob)
	if err != nil {
		return fmt.Errorf("layer %d: %w", i+1, err)
	}
	tarCheck := l.DiffID.Verifier()
	tr := io.TeeReader(body, tarCheck)
	if err := fn(tr); err != nil {
		return err
	}
	// The tar's end is two zero blocks; what follows (padding, gzip's
	// trailer) is part of what the digests cover.
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return fmt.Errorf("layer %d: %w", i+1, err)
	}
	if _, err := io.Copy(io.Discard, blob); err != nil {
		return fmt.Errorf("layer %d: %w", i+1, err)
	}
	if blobCheck != nil && !blobCheck.Verified() {
		return fmt.Errorf("layer %d (%s) does not match its digest: the image is damaged", i+1, l.Digest)
	}
	if !tarCheck.Verified() {
		return fmt.Errorf("layer %d does not match its diff_id %s: the image is damaged", i+1, l.DiffID)
	}
	return nil
}

// decompress reads a layer as it is stored: a tar, or a gzipped one.
func decompress(r io.Reader) (io.Reader, error) {
	var head [4]byte
	n, err := io.ReadFull(r, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	all := io.MultiReader(bytes.NewReader(head[:n]), r)
	switch {
	case n >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return gzip.NewReader(all)
	case n == 4 && bytes.Equal(head[:], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil, errors.New("a zstd-compressed layer: nsh reads tar and tar+gzip layers (podman save and docker save write those)")
	}
	return all, nil
}

// dirSource is an OCI layout directory. Its files are opened beneath it:
// a name from the index is a digest, and a symlink among the blobs does
// not lead nsh elsewhere.
type dirSource struct{ d *beneath.Dir }

func openDir(dir string) (source, error) {
	d, err := beneath.Open(dir)
	if err != nil {
		return nil, err
	}
	return dirSource{d}, nil
}

func (s dirSource) open(name string) (io.ReadCloser, error) { return s.d.OpenFile(name) }
func (s dirSource) Close() error                            { return s.d.Close() }

// tarSource is an image archive: its members are found once, then read
// where they lie.
type tarSource struct {
	f       *os.File
	members map[string]*tar.Header
	at      map[string]int64
}

func openTar(file string) (source, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	s := &tarSource{f: f, members: map[string]*tar.Header{}, at: map[string]int64{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read %s as a tar: %w", file, err)
		}
		// tar.Reader reads each header whole and seeks over the data:
		// where the file is now is where this member's data starts.
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			f.Close()
			return nil, err
		}
		name := entryName(h.Name)
		s.members[name], s.at[name] = h, off
	}
	return s, nil
}

func (s *tarSource) open(name string) (io.ReadCloser, error) {
	name = entryName(name)
	for hops := 0; hops < 8; hops++ {
		h, ok := s.members[name]
		if !ok {
			return nil, fmt.Errorf("%s is not in the archive: %w", name, os.ErrNotExist)
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			return io.NopCloser(io.NewSectionReader(s.f, s.at[name], h.Size)), nil
		case tar.TypeSymlink:
			// docker save links a layer it saved already.
			name = entryName(path.Join(path.Dir(name), h.Linkname))
		case tar.TypeLink:
			name = entryName(h.Linkname)
		default:
			return nil, fmt.Errorf("%s in the archive is not a file", name)
		}
	}
	return nil, fmt.Errorf("%s: too many links", name)
}

func (s *tarSource) Close() error { return s.f.Close() }
