package image

import (
	_ "crypto/sha256" // go-digest hashes with what is linked in
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Build is an image to write: its layers, bottom first, and the process
// it runs.
type Build struct {
	Layers  []BuildLayer
	Config  ocispec.ImageConfig
	Created time.Time // the image's time, in its config and history
	Tag     string    // the index's ref.name: what oci:DIR:TAG picks
}

// BuildLayer writes one layer's tar.
type BuildLayer struct {
	Write     func(w io.Writer) error
	CreatedBy string // the history line: what made the layer
}

// Written is what WriteLayout wrote.
type Written struct {
	Manifest digest.Digest
	Config   digest.Digest
	Layers   []ocispec.Descriptor
}

// WriteLayout writes b as an OCI image layout into dir, an empty
// directory of nsh's: oci-layout, index.json, and the blobs (each layer
// an uncompressed tar, the config, the manifest), every one named by its
// digest. Nothing in it depends on when or where it is written but what
// b says, so the same b gives the same digests.
func WriteLayout(dir string, b Build) (*Written, error) {
	blobs := filepath.Join(dir, ocispec.ImageBlobsDir, digest.SHA256.String())
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, err
	}
	out := &Written{}
	cfg := ocispec.Image{
		Created:  &b.Created,
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config:   b.Config,
		RootFS:   ocispec.RootFS{Type: "layers"},
	}
	for i, l := range b.Layers {
		desc, err := writeBlob(blobs, ocispec.MediaTypeImageLayer, l.Write)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		out.Layers = append(out.Layers, desc)
		// Uncompressed: the blob is the tar, its digest the diff_id.
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, desc.Digest)
		cfg.History = append(cfg.History, ocispec.History{Created: &b.Created, CreatedBy: l.CreatedBy})
	}
	cdesc, err := writeJSON(blobs, ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return nil, err
	}
	out.Config = cdesc.Digest
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cdesc,
		Layers:    out.Layers,
	}
	mdesc, err := writeJSON(blobs, ocispec.MediaTypeImageManifest, m)
	if err != nil {
		return nil, err
	}
	out.Manifest = mdesc.Digest
	if b.Tag != "" {
		mdesc.Annotations = map[string]string{ocispec.AnnotationRefName: b.Tag}
	}
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{mdesc},
	}
	if err := writeFileJSON(filepath.Join(dir, ocispec.ImageIndexFile), idx); err != nil {
		return nil, err
	}
	if err := writeFileJSON(filepath.Join(dir, ocispec.ImageLayoutFile), ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}); err != nil {
		return nil, err
	}
	return out, nil
}

// writeBlob writes a blob into dir under a temporary name, hashing it as
// it goes, and names it by its digest once whole.
func writeBlob(dir, mediaType string, write func(w io.Writer) error) (ocispec.Descriptor, error) {
	f, err := os.CreateTemp(dir, ".blob-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.Remove(f.Name())
	dg := digest.SHA256.Digester()
	cw := &countWriter{w: io.MultiWriter(f, dg.Hash())}
	err = write(cw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d := dg.Digest()
	if err := os.Rename(f.Name(), filepath.Join(dir, d.Encoded())); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: cw.n}, nil
}

func writeJSON(dir, mediaType string, v any) (ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return writeBlob(dir, mediaType, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

func writeFileJSON(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o644)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
