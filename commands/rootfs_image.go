package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"nsh/image"
	"nsh/isolate"
	"nsh/plan"
)

// rootfsImage plans an image as the root: its layers, unpacked into a
// cache, are the overlay's lowers, and its config is the default process.
// args are what follows --image: REF [--cache DIR] [--upper DIR].
func rootfsImage(s *Session, c *Command, args []string, next *plan.Spec) error {
	if len(args) == 0 {
		return usageError(c, "rootfs --image needs an image: oci:DIR[:TAG] or FILE.tar")
	}
	ref, cacheDir, upper := args[0], "", ""
	for rest := args[1:]; len(rest) > 0; rest = rest[2:] {
		if len(rest) < 2 || (rest[0] != "--cache" && rest[0] != "--upper") {
			return usageError(c, "after the image only --cache DIR and --upper DIR may come")
		}
		abs, err := filepath.Abs(rest[1])
		if err != nil {
			return err
		}
		if rest[0] == "--cache" {
			cacheDir = abs
		} else {
			upper = abs
		}
	}
	im, err := image.Open(ref)
	if err != nil {
		return fmt.Errorf("rootfs --image: %w", err)
	}
	defer im.Close()
	cache, err := s.layerCache(cacheDir)
	if err != nil {
		return fmt.Errorf("rootfs --image: %w", err)
	}
	img := &plan.Image{Ref: ref, Digest: string(im.Digest), Cache: cacheDir}
	var lowers []string
	unpacked := 0
	for i, l := range im.Layers {
		dir, reused, err := cache.Unpack(im, i)
		if err != nil {
			return fmt.Errorf("rootfs --image: %w", err)
		}
		if reused {
			s.explain(fmt.Sprintf("layer %d %s: in the cache, %s", i+1, l.DiffID, dir))
		} else {
			unpacked++
			s.explain(fmt.Sprintf("layer %d %s: unpacked into %s (whiteouts as overlayfs's)", i+1, l.DiffID, dir))
		}
		img.Layers = append(img.Layers, plan.ImageLayer{DiffID: string(l.DiffID), Dir: dir})
		lowers = append([]string{dir}, lowers...)
	}
	if len(lowers) == 0 {
		return fmt.Errorf("rootfs --image %s: the image has no layers: nothing to make a root of", ref)
	}
	o := &plan.Overlay{Lowers: lowers, Upper: upper}
	if err := isolate.CheckOverlay(o); err != nil {
		return fmt.Errorf("rootfs --image: %w", err)
	}
	if img.Process, err = imageProcess(im.Config.Config, lowers); err != nil {
		return fmt.Errorf("rootfs --image %s: %w", ref, err)
	}
	next.Rootfs = &plan.Rootfs{Dir: lowers[0], Overlay: o, Image: img}
	applyImageProcess(next, img.Process)
	where := "this session's cache, removed when nsh ends"
	if cacheDir != "" {
		where = "the cache " + cacheDir + ", which stays"
	}
	fmt.Fprintf(s.Err, "rootfs: %s: %d layers (%d unpacked, %d already in %s)\n", ref, len(lowers), unpacked, len(lowers)-unpacked, where)
	return nil
}

// layerCache is the user's cache directory, or this session's own (made
// on first use, tracked, and removed with the session).
func (s *Session) layerCache(dir string) (*image.Cache, error) {
	if dir == "" {
		if s.imageCache == "" {
			d, err := isolate.MakeTrackedDir(os.TempDir(), "nsh-images-", 0o700)
			if err != nil {
				return nil, fmt.Errorf("make this session's layer cache in %s: %w", os.TempDir(), err)
			}
			s.imageCache = d
		}
		dir = s.imageCache
	}
	return &image.Cache{
		Dir: dir,
		MakeTemp: func(parent, prefix string) (string, error) {
			return isolate.MakeTrackedDir(parent, prefix, 0o755)
		},
		Keep:   isolate.KeepTrackedDir,
		Remove: isolate.RemoveTrackedDir,
	}, nil
}

// endImageCache removes this session's layer cache, once no child's
// overlay uses it.
func (s *Session) endImageCache() {
	if s.imageCache == "" {
		return
	}
	if err := isolate.RemoveTrackedDir(s.imageCache); err != nil {
		fmt.Fprintf(os.Stderr, "rootfs --image: remove the layer cache: %v\n", err)
	}
	s.imageCache = ""
}

// imageProcess is the process an image's config names, as the plan
// holds it: the command is Entrypoint then Cmd, a user name is looked up
// in the image's own /etc/passwd.
func imageProcess(cfg ocispec.ImageConfig, lowers []string) (plan.ImageProcess, error) {
	p := plan.ImageProcess{
		Command: append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...),
		Env:     cfg.Env,
		Cwd:     cfg.WorkingDir,
	}
	if cfg.User != "" {
		uid, gid, err := image.User(lowers, cfg.User)
		if err != nil {
			return p, err
		}
		if uid != 0 || gid != 0 {
			p.User = &plan.User{UID: uid, GID: gid}
		}
	}
	if len(p.Command) == 0 {
		p.Command = nil
	}
	return p, nil
}

// applyImageProcess makes the image's process the plan's default.
func applyImageProcess(sp *plan.Spec, p plan.ImageProcess) {
	if p.Command != nil {
		sp.Command = p.Command
	}
	if p.Env != nil {
		sp.Env = p.Env
	}
	if p.Cwd != "" {
		sp.Cwd = p.Cwd
	}
	if p.User != nil {
		sp.User = p.User
	}
}

// dropImageProcess takes back what an image gave the plan's process and
// the user has not changed since: another root is not that image.
func dropImageProcess(sp *plan.Spec, r *plan.Rootfs) {
	if r == nil || r.Image == nil {
		return
	}
	p := r.Image.Process
	if p.Command != nil && slices.Equal(sp.Command, p.Command) {
		sp.Command = nil
	}
	if p.Env != nil && slices.Equal(sp.Env, p.Env) {
		sp.Env = nil
	}
	if p.Cwd != "" && sp.Cwd == p.Cwd {
		sp.Cwd = ""
	}
	if p.User != nil && sp.User != nil && *sp.User == *p.User {
		sp.User = nil
	}
}

// imageWords is an image root as rootfs --image takes it.
func imageWords(r *plan.Rootfs, quote func(string) string) string {
	w := "--image " + quote(r.Image.Ref)
	if r.Image.Cache != "" {
		w += " --cache " + quote(r.Image.Cache)
	}
	if r.Overlay.Upper != "" {
		w += " --upper " + quote(r.Overlay.Upper)
	}
	return w
}

// imageName is an image reference made short for the prompt: the last
// name of its directory or file, and its tag.
func imageName(ref string) string {
	_, rest, ok := strings.Cut(ref, ":")
	if !ok || !(strings.HasPrefix(ref, "oci:") || strings.HasPrefix(ref, "docker-archive:") || strings.HasPrefix(ref, "oci-archive:")) {
		rest = ref
	}
	return filepath.Base(rest)
}
