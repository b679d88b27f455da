package image

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"nsh/image/req"
	"nsh/isolate/layer"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Main runs nsh-image: one request (package req) on stdin, its answer on
// stdout; a refusal is one line on stderr and status 2.
func Main() {
	out, err := serve(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

func serve(in io.Reader) (any, error) {
	var r req.Request
	if err := json.NewDecoder(io.LimitReader(in, 16<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("nsh-image: read the request: %w", err)
	}
	switch r.Op {
	case "inspect":
		im, err := Open(r.Ref)
		if err != nil {
			return nil, err
		}
		defer im.Close()
		out := req.Image{Digest: string(im.Digest), Process: process(im.Config.Config)}
		for _, l := range im.Layers {
			if err := l.DiffID.Validate(); err != nil {
				return nil, fmt.Errorf("read the image %s: diff_id %q: %w", r.Ref, l.DiffID, err)
			}
			out.DiffIDs = append(out.DiffIDs, string(l.DiffID))
		}
		return out, nil
	case "unpack":
		im, err := Open(r.Ref)
		if err != nil {
			return nil, err
		}
		defer im.Close()
		if r.Layer < 0 || r.Layer >= len(im.Layers) {
			return nil, fmt.Errorf("the image %s has no layer %d", r.Ref, r.Layer+1)
		}
		if err := im.ReadLayer(r.Layer, func(t io.Reader) error { return Unpack(t, r.Dir) }); err != nil {
			return nil, fmt.Errorf("unpack layer %d of %s: %w", r.Layer+1, r.Ref, err)
		}
		return struct{}{}, nil
	case "user":
		uid, gid, err := User(r.Lowers, r.User)
		if err != nil {
			return nil, err
		}
		return req.IDs{UID: uid, GID: gid}, nil
	case "commit":
		if r.Commit == nil {
			return nil, fmt.Errorf("nsh-image: commit without an image")
		}
		return commit(r.Dir, r.Commit)
	}
	return nil, fmt.Errorf("nsh-image: unknown request %q", r.Op)
}

func process(c ocispec.ImageConfig) req.Process {
	return req.Process{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User}
}

// commit writes the layout: each layer's tree read as a layer tar.
func commit(dir string, c *req.Commit) (req.Written, error) {
	created := time.Unix(c.Created, 0).UTC()
	b := Build{Created: created, Tag: c.Tag, Config: ocispec.ImageConfig{
		Entrypoint: c.Process.Entrypoint, Cmd: c.Process.Cmd, Env: c.Process.Env,
		WorkingDir: c.Process.WorkingDir, User: c.Process.User,
	}}
	for _, l := range c.Layers {
		var o layer.Options
		if l.Clamp != nil {
			t := time.Unix(*l.Clamp, 0).UTC()
			o.Clamp = &t
		}
		tree := l.Dir
		b.Layers = append(b.Layers, BuildLayer{CreatedBy: l.CreatedBy, Write: func(w io.Writer) error { return layer.Commit(tree, w, o) }})
	}
	out, err := WriteLayout(dir, b)
	if err != nil {
		return req.Written{}, err
	}
	res := req.Written{Manifest: string(out.Manifest)}
	for _, l := range out.Layers {
		res.Layers = append(res.Layers, req.Layer{Digest: string(l.Digest), Size: l.Size})
	}
	return res, nil
}
