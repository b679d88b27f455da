package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"nsh/image/req"
	"nsh/isolate"
)

// defaultPath is the PATH an image gets when the plan keeps nsh's own
// environment (the host's is not the image's): Docker's default.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// commitImage writes the child's root as an OCI image layout in dir: a
// layer per lower, bottom first, then the child's changes. nsh-image
// writes it (the formats are its own) into a tracked directory of nsh's,
// named dir only once whole: a killed nsh or a full disk leaves no torn
// image.
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
	c := &req.Commit{Created: epoch, Tag: "latest", Process: imageConfig(ch)}
	for i := len(l.Lowers) - 1; i >= 0; i-- {
		c.Layers = append(c.Layers, req.CommitLayer{Dir: l.Lowers[i], CreatedBy: "nsh: the lower layer " + l.Lowers[i], Clamp: clampBase})
	}
	c.Layers = append(c.Layers, req.CommitLayer{Dir: l.Upper, CreatedBy: "nsh: commit of " + quoteWords(ch.args), Clamp: &epoch})
	tmp, err := isolate.MakeTrackedDir(filepath.Dir(dir), ".nsh-commit-", 0o755)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	var out req.Written
	thaw := s.freezeWhileRead(ch)
	err = imageHelper(req.Request{Op: "commit", Dir: tmp, Commit: c}, &out)
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
func imageConfig(ch *child) req.Process {
	c := req.Process{Cmd: ch.args, Env: ch.plan.Env, WorkingDir: ch.plan.Cwd}
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
func sourceDateEpoch() (epoch int64, clampBase *int64, err error) {
	v, set := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !set || strings.TrimSpace(v) == "" {
		return 0, nil, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970: set it to one (date +%%s), or unset it", v)
	}
	return n, &n, nil
}
