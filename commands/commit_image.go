package commands

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"nsh/image"
	"nsh/isolate"
	"nsh/isolate/layer"
)

// defaultPath is the PATH an image gets when the plan keeps nsh's own
// environment (the host's is not the image's): Docker's default.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// commitImage writes the child's root as an OCI image layout in dir: a
// layer per lower, bottom first, then the child's changes.
func commitImage(s *Session, ch *child, l *isolate.Layer, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("commit: %s exists: nsh never overwrites; give a new directory, or remove it first", dir)
	}
	epoch, clampBase, err := sourceDateEpoch()
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	b := image.Build{Created: epoch, Tag: "latest", Config: imageConfig(ch)}
	for i := len(l.Lowers) - 1; i >= 0; i-- {
		lower := l.Lowers[i]
		b.Layers = append(b.Layers, image.BuildLayer{
			CreatedBy: "nsh: the lower layer " + lower,
			Write:     func(w io.Writer) error { return layer.Commit(lower, w, layer.Options{Clamp: clampBase}) },
		})
	}
	b.Layers = append(b.Layers, image.BuildLayer{
		CreatedBy: "nsh: commit of " + quoteWords(ch.args),
		Write:     func(w io.Writer) error { return layer.Commit(l.Upper, w, layer.Options{Clamp: &epoch}) },
	})
	// Written beside dir under another name, tracked, and named dir only
	// once whole: a killed nsh or a full disk leaves no torn image.
	tmp, err := isolate.MakeTrackedDir(filepath.Dir(dir), ".nsh-commit-", 0o755)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	thaw := s.freezeWhileRead(ch)
	out, err := image.WriteLayout(tmp, b)
	thaw()
	if err == nil {
		err = isolate.KeepTrackedDir(tmp, dir)
	}
	if err != nil {
		isolate.RemoveTrackedDir(tmp)
		return fmt.Errorf("commit %s: %w (no image written)", ch.ref(), err)
	}
	top := out.Layers[len(out.Layers)-1]
	fmt.Fprintf(s.Out, "committed %s as an OCI image in %s: %d layers, its own %s (%s); manifest %s\n",
		ch.ref(), dir, len(out.Layers), top.Digest, fileSize(top.Size), out.Manifest)
	s.explain(fmt.Sprintf("run it: podman run --rm oci:%s, or rootfs --image oci:%s", dir, dir))
	return nil
}

// imageConfig is the process an image of ch runs: what ch ran, with its
// environment, working directory and user.
func imageConfig(ch *child) ocispec.ImageConfig {
	c := ocispec.ImageConfig{Cmd: ch.args, Env: ch.plan.Env, WorkingDir: ch.plan.Cwd}
	if c.Env == nil {
		c.Env = []string{defaultPath}
	}
	if u := ch.plan.User; u != nil {
		c.User = strconv.Itoa(u.UID) + ":" + strconv.Itoa(u.GID)
	}
	return c
}

// sourceDateEpoch is the time a commit's layer and config carry:
// SOURCE_DATE_EPOCH (reproducible-builds.org), or 0; clampBase is it when
// the user set it, for the lower layers too.
func sourceDateEpoch() (epoch time.Time, clampBase *time.Time, err error) {
	v, set := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !set || strings.TrimSpace(v) == "" {
		return time.Unix(0, 0).UTC(), nil, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970: set it to one (date +%%s), or unset it", v)
	}
	t := time.Unix(n, 0).UTC()
	return t, &t, nil
}
