package commands

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"nsh/image/req"
	"nsh/isolate"
	"nsh/plan"
)

// rootfsImage plans an image as the root: its layers, unpacked into a
// cache, are the overlay's lowers, and its config is the default process.
// args are what follows --image: REF [--cache DIR] [--upper DIR]. The
// image formats are nsh-image's (package image); nsh makes and names the
// directories, tracked, so a killed nsh leaves no half-unpacked layer.
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
	var im req.Image
	if err := imageHelper(req.Request{Op: "inspect", Ref: ref}, &im); err != nil {
		return fmt.Errorf("rootfs --image: %w", err)
	}
	cache, err := s.layerCache(cacheDir)
	if err != nil {
		return fmt.Errorf("rootfs --image: %w", err)
	}
	img := &plan.Image{Ref: ref, Digest: im.Digest, Cache: cacheDir}
	var lowers []string
	unpacked := 0
	for i, id := range im.DiffIDs {
		dir, reused, err := unpackLayer(ref, i, id, cache)
		if err != nil {
			return fmt.Errorf("rootfs --image: %w", err)
		}
		if reused {
			s.explain(fmt.Sprintf("layer %d %s: in the cache, %s", i+1, id, dir))
		} else {
			unpacked++
			s.explain(fmt.Sprintf("layer %d %s: unpacked into %s (whiteouts as overlayfs's)", i+1, id, dir))
		}
		img.Layers = append(img.Layers, plan.ImageLayer{DiffID: id, Dir: dir})
		lowers = append([]string{dir}, lowers...)
	}
	if len(lowers) == 0 {
		return fmt.Errorf("rootfs --image %s: the image has no layers: nothing to make a root of", ref)
	}
	o := &plan.Overlay{Lowers: lowers, Upper: upper}
	if err := isolate.CheckOverlay(o); err != nil {
		return fmt.Errorf("rootfs --image: %w", err)
	}
	if img.Process, err = imageProcess(im.Process, lowers); err != nil {
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

// diffID is a layer's name in the cache: an algorithm and hex, nothing
// that could lead out of it. Compiled on first use: every start of nsh
// would pay for it at initialisation.
var diffID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([a-z0-9]+):([a-f0-9]{32,128})$`) })

// unpackLayer puts layer i, whose diff_id is id, in cache unless it is
// there, and says which. A layer is unpacked into a tracked directory of
// nsh's and takes its name in the cache only whole and checked.
func unpackLayer(ref string, i int, id, cache string) (dir string, reused bool, err error) {
	m := diffID().FindStringSubmatch(id)
	if m == nil {
		return "", false, fmt.Errorf("layer %d: diff_id %q is not a digest", i+1, id)
	}
	final := filepath.Join(cache, m[1], m[2])
	if st, err := os.Lstat(final); err == nil && st.IsDir() {
		return final, true, nil
	}
	// Private: a layer holds setuid binaries and device nodes, which no
	// other user of the host may reach.
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return "", false, fmt.Errorf("make the layer cache: %w", err)
	}
	tmp, err := isolate.MakeTrackedDir(filepath.Dir(final), ".unpack-", 0o755)
	if err != nil {
		return "", false, fmt.Errorf("make the layer cache: %w", err)
	}
	if err := imageHelper(req.Request{Op: "unpack", Ref: ref, Layer: i, Dir: tmp}, nil); err != nil {
		isolate.RemoveTrackedDir(tmp)
		return "", false, err
	}
	if err := isolate.KeepTrackedDir(tmp, final); err != nil {
		isolate.RemoveTrackedDir(tmp)
		if st, serr := os.Lstat(final); serr == nil && st.IsDir() {
			return final, true, nil // unpacked beside this one meanwhile
		}
		return "", false, err
	}
	return final, false, nil
}

// layerCache is the user's cache directory, or this session's own (made
// on first use, tracked, and removed with the session).
func (s *Session) layerCache(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if s.imageCache == "" {
		d, err := isolate.MakeTrackedDir(os.TempDir(), "nsh-images-", 0o700)
		if err != nil {
			return "", fmt.Errorf("make this session's layer cache in %s: %w", os.TempDir(), err)
		}
		s.imageCache = d
	}
	return s.imageCache, nil
}

// imageHelper asks nsh-image, which holds the image formats, to do r,
// and reads its answer into out (nil: none).
func imageHelper(r req.Request, out any) error {
	bin, err := helperBinary("nsh-image", "reads and writes container images")
	if err != nil {
		return err
	}
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	run := exec.Command(bin)
	run.Stdin = bytes.NewReader(body)
	var o, e bytes.Buffer
	run.Stdout, run.Stderr = &o, &e
	if err := isolate.RunTracked(run); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
			return errors.New(strings.TrimSpace(e.String())) // a refusal, in nsh-image's words
		}
		return fmt.Errorf("%s: %w: %s", bin, err, strings.TrimSpace(e.String()))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(o.Bytes(), out)
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
// (by nsh-image) in the image's own /etc/passwd.
func imageProcess(cfg req.Process, lowers []string) (plan.ImageProcess, error) {
	p := plan.ImageProcess{
		Command: append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...),
		Env:     cfg.Env,
		Cwd:     cfg.WorkingDir,
	}
	if cfg.User != "" {
		var ids req.IDs
		if err := imageHelper(req.Request{Op: "user", User: cfg.User, Lowers: lowers}, &ids); err != nil {
			return p, err
		}
		if ids.UID != 0 || ids.GID != 0 {
			p.User = &plan.User{UID: ids.UID, GID: ids.GID}
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
