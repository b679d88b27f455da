package commands

import (
	"fmt"
	"os"
	"strings"
)

func init() {
	register(&Command{
		Name: "record", Group: "teaching",
		Usage:   []string{"record [-f] FILE.nsh", "record off"},
		Summary: "write every successful command from now on into a replayable script",
		Help: "Commands that fail are left out, so the file replays cleanly: nsh FILE.nsh, or source FILE.nsh.\n" +
			"A sourced script's commands are recorded as the source command that ran them.\n" +
			"A FILE that exists is replaced only if nsh wrote it, or with -f.",
		Example: "record demo.nsh",
		Run:     runRecord,
		Complete: func(s *Session, args []string, partial string) []string {
			if len(args) == 0 {
				return append([]string{"off"}, completeFiles(nil, partial)...)
			}
			return nil
		},
	})
}

func runRecord(s *Session, args []string) error {
	c, _ := Lookup("record")
	args, force := takeFlagF(args)
	if len(args) != 1 || (force && args[0] == "off") {
		return usageError(c, "name a file, or off")
	}
	if args[0] != "off" {
		if err := mayReplace("record", args[0], force); err != nil {
			return err
		}
	}
	if s.recording != nil {
		s.recording.Close()
		s.recording = nil
	}
	if args[0] == "off" {
		return nil
	}
	f, err := os.OpenFile(args[0], os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	fmt.Fprintf(f, "#!/usr/bin/env nsh\n# This file was written by nsh (record); replay it with: nsh %s\n", args[0])
	s.recording = f
	fmt.Fprintf(s.Err, "record: recording into %s: every command that succeeds from now on (record off stops)\n", args[0])
	return nil
}

// recordCommand appends a command that succeeded to the recording.
func (s *Session) recordCommand(words []string) {
	if s.recording == nil || s.depth > 0 || words[0] == "record" {
		return
	}
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = Quote(w)
	}
	fmt.Fprintln(s.recording, strings.Join(quoted, " "))
}
