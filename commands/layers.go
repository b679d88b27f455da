package commands

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"nsh/internal/ownfile"
	"nsh/isolate"
	"nsh/isolate/layer"
)

func init() {
	later("diff commit", func() {
		register(
			&Command{
				Name: "diff", Group: "filesystem",
				Usage:   []string{"diff @ID [--json]"},
				Summary: "what a child changed in its overlay root: A (added), C (changed), D (deleted), like docker diff",
				Example: "rootfs /tmp/root overlay; spawn -d sh -c 'echo hi > /new; rm /etc/motd'; wait @1; diff @1",
				Help: "Read from the child's upper layer: a path only there was added, one the lower layers have too\n" +
					"was changed (a directory appears when something in it changed), a whiteout is a deletion, and\n" +
					"an opaque directory (removed, then made again) deletes what the lowers had in it: nsh says\n" +
					"the directory changed (C) and names each entry of the lowers it hides (D), where docker diff\n" +
					"says the directory was deleted (D) and lists its new entries (A). Works after\n" +
					"the child has ended, until ps --prune or the end of the session removes its layer (an upper\n" +
					"named with --upper stays).",
				JSON:     func(args []string) bool { return true },
				Run:      runDiff,
				Complete: completeChildArg(0),
			},
			&Command{
				Name: "commit", Group: "filesystem",
				Usage:   []string{"commit @ID DIR", "commit @ID FILE.tar"},
				Summary: "a child's root as an OCI image that engines run (DIR), or its layer alone as a tar (FILE.tar)",
				Example: "commit @1 /tmp/img; podman run --rm oci:/tmp/img cat /new",
				Help: "DIR becomes an OCI image layout (image-spec 1.1: oci-layout, index.json, blobs) with the\n" +
					"lower layers as its first layers, bottom first, and the child's changes as the last, its\n" +
					"config the child's command, environment, working directory and user: podman run oci:DIR,\n" +
					"skopeo copy oci:DIR ..., and rootfs --image oci:DIR run it. A deleted path becomes an empty\n" +
					".wh.NAME beside it, an opaque directory gets .wh..wh..opq, as the layer format says; owners,\n" +
					"modes, hard links and extended attributes (a file's capabilities) are kept. The child's layer\n" +
					"carries no time later than SOURCE_DATE_EPOCH (0 when unset), nor does the config: the same\n" +
					"changes give the same digests, whenever they were made. The lower layers keep their times\n" +
					"(clamped too when SOURCE_DATE_EPOCH is set). FILE.tar is the child's layer alone, with its\n" +
					"times as they are. Neither DIR nor FILE may exist: nsh never overwrites.",
				Run: runCommit,
				Complete: func(s *Session, args []string, partial string) []string {
					if len(args) == 0 {
						return s.childRefs()
					}
					if len(args) == 1 {
						return completeFiles(nil, partial)
					}
					return nil
				},
			},
		)
	})
}

// childLayer is the overlay layer of child @ID.
func (s *Session) childLayer(verb, word string) (*child, *isolate.Layer, error) {
	c, err := s.lookupChild(word, false)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", verb, err)
	}
	l := c.proc.Layer
	if l == nil {
		return nil, nil, fmt.Errorf("%s %s: %w: plan rootfs DIR overlay before spawn -d, then %s its @ID", verb, word, layer.ErrNoLayer, verb)
	}
	return c, l, nil
}

// freezeWhileRead freezes a running child's cgroup, so that commit and
// diff read one moment of its layer, and returns what thaws it. Safety
// does not rest on it (package beneath reads a layer safely while the
// child writes it); a child without a cgroup of nsh's is read running.
func (s *Session) freezeWhileRead(ch *child) func() {
	if ch.exited() {
		return func() {}
	}
	if thaw := ch.proc.Cgroup().Freeze(s.stepper()); thaw != nil {
		return thaw
	}
	return func() {}
}

type diffJSON struct {
	ID      int            `json:"id"`
	Name    string         `json:"name,omitempty"`
	Upper   string         `json:"upper"`
	Lowers  []string       `json:"lowers"`
	Changes []layer.Change `json:"changes"`
}

func runDiff(s *Session, c *Command, args []string) error {
	if len(args) != 1 {
		return usageError(c, "diff takes one child: @ID")
	}
	ch, l, err := s.childLayer("diff", args[0])
	if err != nil {
		return err
	}
	thaw := s.freezeWhileRead(ch)
	changes, err := layer.Diff(l.Upper, l.Lowers)
	thaw()
	if err != nil {
		return fmt.Errorf("diff %s: %w", args[0], err)
	}
	if s.json {
		return s.emit(diffJSON{ID: ch.id, Name: ch.name, Upper: l.Upper, Lowers: l.Lowers, Changes: append([]layer.Change{}, changes...)})
	}
	if len(changes) == 0 {
		fmt.Fprintf(s.Err, "diff: %s changed nothing in its root\n", ch.ref())
	}
	for _, x := range changes {
		fmt.Fprintln(s.Out, x)
	}
	return nil
}

func runCommit(s *Session, c *Command, args []string) error {
	if len(args) != 2 {
		return usageError(c, "commit takes a child and where to write: commit @ID DIR (an OCI image) or commit @ID FILE.tar (its layer)")
	}
	ch, l, err := s.childLayer("commit", args[0])
	if err != nil {
		return err
	}
	if strings.HasSuffix(args[1], ".tar") {
		err = commitTar(s, ch, l, args[1])
	} else {
		err = commitImage(s, ch, l, args[1])
	}
	if err != nil {
		return err
	}
	if !ch.exited() {
		fmt.Fprintf(s.Err, "commit: %s still runs: what was written is its layer as it was just now\n", ch.ref())
	}
	return nil
}

// commitTar writes the child's layer alone, as a tar.
func commitTar(s *Session, ch *child, l *isolate.Layer, file string) error {
	// The tar takes its name only once it is whole: a full disk or a
	// signal leaves no torn one.
	f, err := ownfile.Create(file, 0o644, ownfile.ReplaceNever)
	if errors.Is(err, ownfile.ErrExists) {
		return fmt.Errorf("commit: %s exists: nsh never overwrites a file; give a new name, or remove it first", file)
	}
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	thaw := s.freezeWhileRead(ch)
	err = layer.Commit(l.Upper, f, layer.Options{})
	thaw()
	if err != nil {
		f.Abort()
		return fmt.Errorf("commit %s: %w", ch.ref(), err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("commit %s: %w (no tar written)", ch.ref(), err)
	}
	size := ""
	if st, err := os.Stat(file); err == nil {
		size = ", " + fileSize(st.Size())
	}
	fmt.Fprintf(s.Out, "committed %s's layer to %s (a tar with OCI whiteouts%s)\n", ch.ref(), file, size)
	return nil
}

// fileSize is a file's size as ls -sh rounds it (10K, 395.5K, 1.2M): a
// cgroup value's text is exact, so it shows bytes for most files.
func fileSize(n int64) string {
	v, unit := float64(n), ""
	for _, u := range []string{"K", "M", "G"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + unit
}
