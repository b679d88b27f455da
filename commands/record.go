package commands

import (
	"fmt"
	"strings"

	"nsh/internal/ownfile"
)

func init() {
	later("record", func() {
		register(&Command{
			Name: "record", Group: "teaching",
			Usage:   []string{"record [-f] FILE.nsh", "record --cast [-f] FILE.cast", "record off"},
			Summary: "write every successful command from now on into a replayable script, or the session into an asciinema recording",
			Help: "Commands that fail are left out, so the file replays cleanly: nsh FILE.nsh, or source FILE.nsh.\n" +
				"A sourced script's commands are recorded as the source command that ran them.\n" +
				"record --cast writes an asciicast v2 file (asciinema play FILE.cast replays it): each prompt and command,\n" +
				"and all output, children's included, with its real timing; children then write to a pseudo-terminal nsh reads.\n" +
				"An interactive child (a shell) gets that terminal as its own, as script(1) does: what you type into it is recorded\n" +
				"too, and Ctrl-C and Ctrl-Z work inside it. The recording is as large as your terminal.\n" +
				"A FILE that exists is replaced only if nsh wrote it, or with -f. record off stops both. The file takes\n" +
				"its name when the recording stops (record off, or the end of the session), whole: until then, and if\n" +
				"the disk fills up, what was at the name stays as it was.",
			Example: "record demo.nsh; record --cast demo.cast",
			Run:     runRecord,
			Complete: func(s *Session, args []string, partial string) []string {
				if len(args) == 0 {
					return append([]string{"off", "--cast"}, completeFiles(nil, partial)...)
				}
				if args[0] == "--cast" && (len(args) == 1 || len(args) == 2 && args[1] == "-f") {
					return completeFiles(nil, partial)
				}
				return nil
			},
		})
	})
}

func runRecord(s *Session, c *Command, args []string) error {
	if len(args) > 0 && args[0] == "--cast" {
		return recordCast(s, c, args[1:])
	}
	args, force := takeFlagF(args)
	if len(args) != 1 || (force && args[0] == "off") {
		return usageError(c, "name a file, or off")
	}
	if args[0] != "off" {
		if err := mayReplace("record", args[0], force); err != nil {
			return err
		}
	}
	if err := s.endRecording(); err != nil {
		return err
	}
	if args[0] == "off" {
		if s.Casting() {
			path := s.tr.path
			if err := s.StopCast(); err != nil {
				return err
			}
			fmt.Fprintf(s.Err, "record: %s is complete: asciinema play %s\n", path, path)
		}
		return nil
	}
	f, err := ownfile.Create(args[0], 0o644, replaceFor(force))
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	fmt.Fprintf(f, "#!/usr/bin/env nsh\n# This file was written by nsh (record); replay it with: nsh %s\n", args[0])
	s.recording = f
	fmt.Fprintf(s.Err, "record: recording into %s: every command that succeeds from now on (record off stops)\n", args[0])
	return nil
}

// endRecording gives a recording its name, complete; a recording that
// could not be written whole (a full disk) leaves what was at the name.
func (s *Session) endRecording() error {
	if s.recording == nil {
		return nil
	}
	f := s.recording
	s.recording = nil
	if err := f.Commit(); err != nil {
		return fmt.Errorf("record: %w: nothing was recorded there", err)
	}
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

// recordCast starts an asciicast recording of the session.
func recordCast(s *Session, c *Command, args []string) error {
	args, force := takeFlagF(args)
	if len(args) != 1 || args[0] == "off" {
		return usageError(c, "name the .cast file")
	}
	if s.Casting() {
		return fmt.Errorf("record --cast: already recording into %s: record off first", s.tr.path)
	}
	if err := mayReplace("record", args[0], force); err != nil {
		return err
	}
	r := ownfile.ReplaceOwn
	if force {
		r = ownfile.ReplaceAny
	}
	if err := s.StartCast(args[0], r, "nsh session", s.Out); err != nil {
		return fmt.Errorf("record --cast: %w", err)
	}
	s.tr.recorded = true
	// Said on the terminal, not in the recording.
	fmt.Fprintf(s.tr.err, "record: recording the session into %s (record off ends it)\n", args[0])
	return nil
}
