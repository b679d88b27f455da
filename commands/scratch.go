package commands

import (
	"fmt"
	"os"
	"strings"

	"nsh/isolate"
)

func init() {
	later("scratch", func() {
		register(&Command{
			Name: "scratch", Group: "teaching",
			Usage:   []string{"scratch", "scratch path"},
			Summary: "a directory of this run's own for a lesson's files, made nsh's working directory and removed when nsh ends",
			Example: "scratch; rootfs --busybox root; spawn sh -c 'echo hi > note.txt'",
			Help: "A lesson needs files (a rootfs, a bundle, a copy of ping) and must not collide with another run\n" +
				"or another user's: scratch makes a new directory in $TMPDIR (or /tmp), mode 0711, and makes it\n" +
				"nsh's working directory, so relative paths in the commands after it, and children without a\n" +
				"rootfs, land in it. It is removed with all that is in it when nsh ends, however it ends (the\n" +
				"janitor removes it if nsh is killed); a pin made in it (ns pin) goes with it. scratch again does nothing; scratch path prints where it is.",
			Run: runScratch,
			Complete: func(s *Session, args []string, partial string) []string {
				if len(args) == 0 {
					return []string{"path"}
				}
				return nil
			},
		})
	})
}

func runScratch(s *Session, c *Command, args []string) error {
	switch {
	case len(args) == 1 && args[0] == "path":
		if s.scratch == "" {
			return fmt.Errorf("scratch path: this session has no scratch directory: `scratch` makes one")
		}
		fmt.Fprintln(s.Out, s.scratch)
		return nil
	case len(args) != 0:
		return usageError(c, "scratch takes nothing, or path")
	case s.scratch != "":
		return nil
	}
	back, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("scratch: %w", err)
	}
	// 0711: children that run as another user (user 1000) reach what the
	// lesson puts there by name; nobody lists it.
	dir, err := isolate.MakeTrackedDir(os.TempDir(), "nsh-scratch-", 0o711)
	if err != nil {
		return fmt.Errorf("scratch: make a directory in %s: %w", os.TempDir(), err)
	}
	if err := os.Chdir(dir); err != nil {
		isolate.RemoveTrackedDir(dir)
		return fmt.Errorf("scratch: %w", err)
	}
	s.scratch, s.scratchBack = dir, back
	s.explain(fmt.Sprintf("mkdir %s (0711, removed when nsh ends); chdir there", dir))
	return nil
}

// endScratch removes the scratch directory, from where nsh was before.
func (s *Session) endScratch() {
	if s.scratch == "" {
		return
	}
	os.Chdir(s.scratchBack)
	// A pin outlives nsh, but not the directory it is in: this session's
	// pins in the scratch directory go with it (any other mount there is
	// not nsh's, and stops the removal).
	for _, p := range s.pins {
		if strings.HasPrefix(p.path, s.scratch+"/") {
			if _, _, err := isolate.Unpin(p.path, s.explain); err != nil {
				fmt.Fprintf(os.Stderr, "scratch: unpin %s: %v\n", p.path, err)
			}
		}
	}
	if err := isolate.RemoveTrackedDir(s.scratch); err != nil {
		fmt.Fprintf(os.Stderr, "scratch: remove %s: %v\n", s.scratch, err)
	}
	s.scratch = ""
}
