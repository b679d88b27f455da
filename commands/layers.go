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
			Usage:   []string{"commit @ID FILE.tar"},
			Summary: "a child's upper layer as a tar, with OCI whiteouts (.wh.NAME), to become an image layer",
			Example: "commit @1 /tmp/layer.tar; tar -tvf /tmp/layer.tar",
			Help: "A deleted path becomes an empty .wh.NAME beside it, an opaque directory gets .wh..wh..opq,\n" +
				"as the OCI image layer format says; owners, modes, times and hard links are kept. An image:\n" +
				"tar -C LOWER -c . | podman import - base, then podman import the layer on top of it,\n" +
				"or add it to an OCI image's layers. FILE must not exist: nsh never overwrites a file.",
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
		return usageError(c, "commit takes a child and a file: commit @ID FILE.tar")
	}
	ch, l, err := s.childLayer("commit", args[0])
	if err != nil {
		return err
	}
	// The tar takes its name only once it is whole: a full disk or a
	// signal leaves no torn one.
	f, err := ownfile.Create(args[1], 0o644, ownfile.ReplaceNever)
	if errors.Is(err, ownfile.ErrExists) {
		return fmt.Errorf("commit: %s exists: nsh never overwrites a file; give a new name, or remove it first", args[1])
	}
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	thaw := s.freezeWhileRead(ch)
	err = layer.Commit(l.Upper, f)
	thaw()
	if err != nil {
		f.Abort()
		return fmt.Errorf("commit %s: %w", args[0], err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("commit %s: %w (no tar written)", args[0], err)
	}
	size := ""
	if st, err := os.Stat(args[1]); err == nil {
		size = ", " + fileSize(st.Size())
	}
	fmt.Fprintf(s.Out, "committed %s's layer to %s (a tar with OCI whiteouts%s)\n", ch.ref(), args[1], size)
	if !ch.exited() {
		fmt.Fprintf(s.Err, "commit: %s still runs: the tar is its layer as it was just now\n", ch.ref())
	}
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
