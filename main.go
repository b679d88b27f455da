// nsh is a namespace shell: an interactive REPL for the Linux primitives
// containers are made of. main picks the mode; the language lives in
// package commands, the mechanism in package isolate.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"nsh/commands"
	"nsh/internal/ownfile"
	"nsh/isolate"
	"nsh/learn"
	"nsh/lesson"
	"nsh/repl"
)

const version = "0.1.0"

const usage = `nsh — a namespace shell

usage:
  nsh                     REPL on a terminal; otherwise read a script from stdin
  nsh FILE.nsh            run a script (also as a #!/usr/bin/env nsh shebang)
  nsh -                   read the script from stdin
  nsh -c 'CMD; CMD'       run these commands
  nsh -i FILE.nsh         run a script, then stay interactive with its state
  nsh -x ...              explain on from the start (flags combine: -xc 'CMD')
  nsh --step FILE.nsh     demo mode: show each command, wait for Enter, run it;
                          q stops and leaves you in the REPL with the state
  nsh --render md FILE.nsh [-o OUT.md] [--explain] [--with-tools]
                          run the script and write it as a Markdown lesson with
                          its real output; a failing expect fails it (status 2)
  nsh --cast FILE.cast FILE.nsh   record the run as an asciinema (asciicast v2)
                          recording, typed and paced like a demo (expect lines
                          run, not shown); with --step, the demo is recorded
  nsh --learn             the lessons and your progress
  nsh --learn NN|FILE.nsh do a lesson: its steps shown, its exercises typed by
                          you and checked against your real children; it
                          resumes where you stopped
  nsh --pair [...]        share the session in the browser from the start
                          (pair on: the URL with its token is printed here)
  nsh --version | --help

Inside nsh, "help" lists the commands and "help tour" is a guided tour.
`

func main() {
	code := run(os.Args[1:])
	if sig := signalled.Load(); sig != 0 {
		code = 128 + int(sig) // the signal's status wins over the script's
	}
	os.Exit(code)
}

// signalled is the signal that is ending nsh, if any.
var signalled atomic.Int32

// ensureStdio opens /dev/null on any of fds 0-2 that nsh was started
// without (CI runs with no stdin): else the first file nsh opens would take
// that number and a child would read or write nsh's own sockets. A script
// run's constructor has done so already, before Go (fill_stdio in
// isolate/janitor_early.c, for the thread it starts); the REPL's has not.
func ensureStdio() {
	for fd := 0; fd <= 2; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == unix.EBADF {
			if n, err := unix.Open(os.DevNull, unix.O_RDWR, 0); err == nil && n != fd {
				unix.Close(n)
			}
		}
	}
}

// options are nsh's command line, parsed.
type options struct {
	cmds, step, render, renderOut, castFile string
	interactive, explain, withTools, learn  bool
	pair                                    bool
	version, help                           bool
	rest                                    []string // the script, or - for stdin
}

// parseArgs reads the command line; flags may follow the script (nsh
// --render md FILE.nsh -o OUT.md).
func parseArgs(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("nsh", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.cmds, "c", "", "")
	fs.BoolVar(&o.interactive, "i", false, "")
	explain := fs.Bool("x", false, "")
	fs.StringVar(&o.step, "step", "", "")
	fs.StringVar(&o.render, "render", "", "")
	fs.StringVar(&o.renderOut, "o", "", "")
	explainLong := fs.Bool("explain", false, "")
	fs.BoolVar(&o.withTools, "with-tools", false, "")
	fs.StringVar(&o.castFile, "cast", "", "")
	fs.BoolVar(&o.learn, "learn", false, "")
	fs.BoolVar(&o.pair, "pair", false, "")
	fs.BoolVar(&o.version, "version", false, "")
	fs.BoolVar(&o.help, "help", false, "")
	fs.BoolVar(&o.help, "h", false, "")
	args = splitFlags(args)
	if err := fs.Parse(args); err != nil {
		return nil, flagError(err, args)
	}
	for fs.NArg() > 1 && strings.HasPrefix(fs.Arg(1), "-") && fs.Arg(0) != "-" {
		o.rest = append(o.rest, fs.Arg(0))
		more := fs.Args()[1:]
		if err := fs.Parse(more); err != nil {
			return nil, flagError(err, more)
		}
	}
	o.rest = append(o.rest, fs.Args()...)
	o.explain = *explain || *explainLong
	return o, nil
}

func run(args []string) (code int) {
	ensureStdio()
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsh: %v\n%s", err, usage)
		return 2
	}
	switch {
	case o.help:
		fmt.Print(usage)
		return 0
	case o.version:
		fmt.Printf("nsh %s\n", version)
		return 0
	}

	// A session is long-lived and its heap small: collecting at half
	// the default growth keeps peak RSS flat over many spawns, at no
	// measurable cost in time (bench/README.md). The user's GOGC wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	s := commands.NewSession()
	s.Explain = o.explain
	rest := o.rest
	if o.render != "" || o.renderOut != "" || o.withTools {
		return renderLesson(s, o.render, o.renderOut, o.withTools, o.castFile, rest)
	}
	if o.learn {
		return learnLessons(s, rest)
	}
	if len(rest) > 1 {
		// A script has no $1: arguments would be dropped without a word.
		fmt.Fprintf(os.Stderr, "nsh: %s takes no arguments (an nsh script has no $1), got %q\n", rest[0], rest[1:])
		return 2
	}
	if len(rest) == 1 && rest[0] == "-" {
		o.rest = nil // stdin, as when it is not a terminal
		if o.cmds == "" && !o.interactive && o.step == "" {
			return readStdin(s)
		}
	}
	// However nsh ends, its children end with it: here on return, in
	// endOnSignal for signals, and by their parent-death signal even when
	// nsh is killed outright. A recording that could not be written
	// (a full disk) fails the run.
	defer func() {
		if s.Close(); s.Unwritten && code == 0 {
			code = 2
		}
	}()
	interactiveMode := o.interactive || o.step != "" || (o.cmds == "" && len(o.rest) == 0 && isolate.IsTerminal(os.Stdin))
	if o.step == "" && (o.cmds != "" || len(o.rest) > 0) {
		// A script: RunScript sets the handlers up, beside the first
		// spawn's preparations when it has one.
		s.Ready = func() { endOnSignal(s, !interactiveMode) }
	} else {
		endOnSignal(s, !interactiveMode)
	}
	if o.castFile != "" {
		title := "nsh"
		if o.step != "" || len(o.rest) > 0 {
			title = "nsh " + o.step + strings.Join(o.rest, "")
		}
		if err := s.StartCast(o.castFile, ownfile.ReplaceOwn, title, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "nsh: --cast: %v%s\n", err, replaceHint(err))
			return 2
		}
	}
	if o.pair {
		// Shared from the first prompt: pair on, as if typed.
		if err := s.Exec([]string{"pair", "on"}); err != nil {
			fmt.Fprintf(os.Stderr, "nsh: --pair: %v\n", err)
			return 2
		}
	}
	return runSession(s, o)
}

// runSession runs what the command line asked for: a demo, commands, a
// script, the REPL, or standard input.
func runSession(s *commands.Session, o *options) int {
	switch {
	case o.step != "":
		return runStep(s, o.step)
	case o.cmds != "":
		return finish(s, s.RunScript("-c", o.cmds))
	case len(o.rest) > 0:
		src, err := ownfile.ReadFile(o.rest[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "nsh: %v\n", err)
			return 2
		}
		err = s.RunScript(o.rest[0], string(src))
		if !o.interactive {
			return finish(s, err)
		}
		var exit *commands.ExitError
		if errors.As(err, &exit) {
			return exit.Code
		}
		if err != nil {
			fmt.Fprintln(s.Err, err)
		}
		return interact(s)
	case o.interactive || isolate.IsTerminal(os.Stdin):
		return interact(s)
	default:
		return readStdin(s)
	}
}

// runStep is --step: the demo, then the REPL with its state.
func runStep(s *commands.Session, file string) int {
	src, err := ownfile.ReadFile(file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsh: %v\n", err)
		return 2
	}
	// The line editor starts after the demo: it reads the terminal once
	// it exists, and the demo reads single keys itself.
	if _, err := repl.Step(s, file, string(src), repl.NewPlain(os.Stdin, nil)); err != nil {
		var exit *commands.ExitError
		if errors.As(err, &exit) {
			return exit.Code
		}
		fmt.Fprintln(s.Err, err)
	}
	fmt.Fprintln(os.Stderr, "(the demo is over; the session goes on: exit or Ctrl-D to leave)")
	lr := lineReader(s)
	defer lr.Close()
	return repl.Run(s, lr)
}

// renderLesson runs a script and writes it as a Markdown lesson: to
// OUT, or to stdout, and only once the whole script has run, so a
// failing check leaves no half-written lesson.
func renderLesson(s *commands.Session, format, out string, withTools bool, castFile string, rest []string) int {
	switch {
	case format != "md":
		if format == "" {
			fmt.Fprintf(os.Stderr, "nsh: -o and --with-tools go with --render md FILE.nsh\n")
		} else {
			fmt.Fprintf(os.Stderr, "nsh: --render %s: md (Markdown) is the format nsh renders\n", format)
		}
		return 2
	case len(rest) != 1 || rest[0] == "-":
		fmt.Fprintf(os.Stderr, "nsh: --render md: name one script file: nsh --render md FILE.nsh [-o OUT.md]\n")
		return 2
	case castFile != "":
		fmt.Fprintf(os.Stderr, "nsh: --render and --cast: one at a time (render the lesson, then record the cast)\n")
		return 2
	}
	src, err := ownfile.ReadFile(rest[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsh: %v\n", err)
		return 2
	}
	// Children read nothing: a lesson runs unattended.
	if devnull, err := os.Open(os.DevNull); err == nil {
		s.Stdin = devnull
	}
	defer s.Close()
	endOnSignal(s, true)
	// The lesson's file is started before the script runs: its directory
	// is held from now on, wherever the script's scratch takes nsh, and
	// the file takes its name only once the lesson is whole.
	var dst *ownfile.File
	if out != "" {
		if dst, err = ownfile.Create(out, 0o644, ownfile.ReplaceOwn); err != nil {
			fmt.Fprintf(os.Stderr, "nsh --render: %v%s\n", err, replaceHint(err))
			return 2
		}
		defer func() {
			if dst != nil {
				dst.Abort()
			}
		}()
	}
	// Pictures (draw) go beside the page as NAME-1.svg, NAME-2.svg, ...,
	// named from where the page goes before the script moves nsh.
	var picture func([]byte) (string, error)
	if out != "" {
		dir, err := filepath.Abs(filepath.Dir(out))
		if err != nil {
			fmt.Fprintf(os.Stderr, "nsh --render: %v\n", err)
			return 2
		}
		base, n := strings.TrimSuffix(filepath.Base(out), ".md"), 0
		picture = func(svg []byte) (string, error) {
			n++
			name := fmt.Sprintf("%s-%d.svg", base, n)
			// An XML comment may not hold "--".
			from := strings.ReplaceAll(rest[0], "--", "-")
			body := append([]byte(fmt.Sprintf("<!-- %s (draw, in the lesson rendered from %s) -->\n", ownfile.Mark, from)), svg...)
			if err := ownfile.WriteFile(filepath.Join(dir, name), body, 0o644, ownfile.ReplaceOwn); err != nil {
				return "", err
			}
			return name, nil
		}
	}
	var b bytes.Buffer
	// Invisible on the page; how nsh knows a lesson it may write again.
	fmt.Fprintf(&b, "<!-- %s (nsh --render md %s) -->\n", ownfile.Mark, rest[0])
	doc := lesson.New(&b)
	err = s.Render(rest[0], string(src), doc, commands.RenderOptions{Explain: s.Explain, WithTools: withTools, Version: version, Picture: picture})
	if err != nil {
		var exit *commands.ExitError
		if !errors.As(err, &exit) || exit.Code != 0 {
			return finish(s, fmt.Errorf("nsh --render: %w (no lesson written)", err))
		}
	}
	doc.Close()
	if out == "" {
		os.Stdout.Write(b.Bytes())
		return 0
	}
	f := dst
	dst = nil
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Abort()
		fmt.Fprintf(os.Stderr, "nsh: --render: write %s: %v (the old lesson, if any, is as it was)\n", out, err)
		return 2
	}
	if err := f.Commit(); err != nil {
		fmt.Fprintf(os.Stderr, "nsh: --render: %v%s (the old lesson, if any, is as it was)\n", err, replaceHint(err))
		return 2
	}
	return 0
}

// replaceHint is the fix for a file nsh may not replace.
func replaceHint(err error) string {
	if errors.Is(err, ownfile.ErrNotOurs) || strings.Contains(err.Error(), "not a regular file") {
		return ": give another name, or remove it first"
	}
	return ""
}

// readStdin runs the script on stdin.
func readStdin(s *commands.Session) int {
	src, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsh: read stdin: %v\n", err)
		return 2
	}
	// Children must not read the rest of the script as their input.
	if devnull, err := os.Open(os.DevNull); err == nil {
		s.Stdin = devnull
	}
	return finish(s, s.RunScript("stdin", string(src)))
}

// splitFlags spells combined one-letter flags out, as a shell's are:
// -xc 'CMD' is -x -c 'CMD'; -c takes the next word, so it comes last.
func splitFlags(args []string) []string {
	var out []string
	for i, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") || strings.HasPrefix(a, "--") || len(a) < 3 || strings.Contains(a, "=") {
			if a == "--" || !strings.HasPrefix(a, "-") {
				return append(out, args[i:]...)
			}
			out = append(out, a)
			continue
		}
		letters := a[1:]
		if strings.Trim(letters, "xihc") != "" || strings.Contains(letters[:len(letters)-1], "c") {
			out = append(out, a) // not a combination nsh has: the flag package says so
			continue
		}
		for _, l := range letters {
			out = append(out, "-"+string(l))
		}
	}
	return out
}

// flagError names an unknown flag as it was typed (--bogus, not -bogus).
func flagError(err error, args []string) error {
	const p = "flag provided but not defined: -"
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, p); ok {
		for _, a := range args {
			if strings.TrimLeft(a, "-") == name || strings.HasPrefix(strings.TrimLeft(a, "-"), name+"=") {
				return fmt.Errorf("unknown flag %s", strings.SplitN(a, "=", 2)[0])
			}
		}
	}
	return err
}

// endOnSignal ends the children and nsh on SIGTERM and SIGHUP, and on
// SIGINT in a script (the REPL uses Ctrl-C to clear the line).
func endOnSignal(s *commands.Session, script bool) {
	sigs := []os.Signal{unix.SIGTERM, unix.SIGHUP}
	if script {
		sigs = append(sigs, unix.SIGINT)
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		sig := <-ch
		signalled.Store(int32(sig.(unix.Signal)))
		s.Close()
		os.Exit(128 + int(sig.(unix.Signal)))
	}()
}

// finish turns a script's outcome into nsh's exit status.
func finish(s *commands.Session, err error) int {
	var exit *commands.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.Code
	case err != nil:
		fmt.Fprintln(s.Err, err)
		return 2
	}
	return s.Status()
}

// interact runs the REPL.
func interact(s *commands.Session) int {
	lr := lineReader(s)
	defer lr.Close()
	if isolate.IsTerminal(os.Stdin) && isolate.IsTerminal(os.Stderr) {
		// One line for a newcomer at a bare prompt.
		fmt.Fprintln(os.Stderr, "nsh "+version+": type help for the commands, help tour for a five-minute tour, exit to leave")
	}
	return repl.Run(s, lr)
}

// learnLessons is nsh --learn: with no lesson (or several) the list and
// the learner's progress; with one, that lesson in the REPL.
func learnLessons(s *commands.Session, args []string) int {
	builtin, err := learn.Builtin()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsh --learn: %v\n", err)
		return 2
	}
	p, err := learn.Open()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsh --learn: %v\n", err)
		return 2
	}
	if len(args) != 1 {
		list := builtin
		if len(args) == 0 {
			// The learner's own lesson files, begun before, are theirs too.
			for _, f := range p.Files() {
				if l, err := learn.Load(f); err == nil {
					list = append(list, l)
				}
			}
		}
		for _, a := range args {
			l, err := learn.Load(a)
			if err != nil {
				fmt.Fprintf(os.Stderr, "nsh --learn: %v\n", err)
				return 2
			}
			list = append(list, l)
		}
		learn.List(os.Stdout, list, p)
		fmt.Println("nsh --learn NN (or FILE.nsh) starts one; you resume where you stopped.")
		return 0
	}
	l, err := learn.Find(builtin, args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsh --learn: %v\n", err)
		return 2
	}
	defer func() { s.Close() }()
	endOnSignal(s, false)
	lr := lineReader(s)
	defer lr.Close()
	return repl.Learn(s, l, p, lr)
}

// lineReader is the line editor on a terminal, plain lines else.
func lineReader(s *commands.Session) repl.LineReader {
	// A dumb terminal cannot take the editor's redraws (ESC[J).
	if isolate.IsTerminal(os.Stdin) && isolate.IsTerminal(os.Stdout) && os.Getenv("TERM") != "dumb" {
		ed, err := repl.NewEditor(repl.HistoryFile(), s.Complete, s.PairInput(os.Stdin, false), s.PairEcho(os.Stdout))
		if err == nil {
			return ed
		}
		fmt.Fprintf(os.Stderr, "nsh: line editor: %v; reading plain lines\n", err)
	}
	s.PlainInput = true
	return repl.NewPlain(s.PairInput(os.Stdin, true), s.PairEcho(os.Stdout))
}
