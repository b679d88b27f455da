// nsh is a namespace shell: an interactive REPL for the Linux primitives
// containers are made of. main picks the mode; the language lives in
// package commands, the mechanism in package isolate.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"nsh/commands"
	"nsh/repl"
)

const version = "0.1.0"

const usage = `nsh — a namespace shell

usage:
  nsh                     REPL on a terminal; otherwise read a script from stdin
  nsh FILE.nsh [ARG...]   run a script (also as a #!/usr/bin/env nsh shebang)
  nsh -c 'CMD; CMD'       run these commands
  nsh -i FILE.nsh         run a script, then stay interactive with its state
  nsh -x ...              explain on from the start
  nsh --step FILE.nsh     demo mode: show each command, wait for Enter, run it;
                          q stops and leaves you in the REPL with the state
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
// that number and a child would read or write nsh's own sockets.
func ensureStdio() {
	for fd := 0; fd <= 2; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == unix.EBADF {
			if n, err := unix.Open(os.DevNull, unix.O_RDWR, 0); err == nil && n != fd {
				unix.Close(n)
			}
		}
	}
}

func run(args []string) int {
	ensureStdio()
	fs := flag.NewFlagSet("nsh", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cmds := fs.String("c", "", "")
	interactive := fs.Bool("i", false, "")
	explain := fs.Bool("x", false, "")
	step := fs.String("step", "", "")
	showVersion := fs.Bool("version", false, "")
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "nsh: %v\n%s", err, usage)
		return 2
	}
	switch {
	case *help:
		fmt.Print(usage)
		return 0
	case *showVersion:
		fmt.Printf("nsh %s\n", version)
		return 0
	}

	s := commands.NewSession()
	s.Explain = *explain
	rest := fs.Args()
	// However nsh ends, its children end with it: here on return, in
	// endOnSignal for signals, and by their parent-death signal even when
	// nsh is killed outright.
	defer s.Close()
	interactiveMode := *interactive || *step != "" || (*cmds == "" && len(rest) == 0 && isTerminal(os.Stdin))
	endOnSignal(s, !interactiveMode)
	switch {
	case *step != "":
		src, err := os.ReadFile(*step)
		if err != nil {
			fmt.Fprintf(os.Stderr, "nsh: %v\n", err)
			return 2
		}
		lr := lineReader(s)
		defer lr.Close()
		if _, err := repl.Step(s, *step, string(src), lr); err != nil {
			var exit *commands.ExitError
			if errors.As(err, &exit) {
				return exit.Code
			}
			fmt.Fprintln(os.Stderr, err)
		}
		fmt.Fprintln(os.Stderr, "(the demo is over; the session goes on: exit or Ctrl-D to leave)")
		return repl.Run(s, lr)
	case *cmds != "":
		return finish(s, s.RunScript("-c", *cmds))
	case len(rest) > 0:
		src, err := os.ReadFile(rest[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "nsh: %v\n", err)
			return 2
		}
		err = s.RunScript(rest[0], string(src))
		if !*interactive {
			return finish(s, err)
		}
		var exit *commands.ExitError
		if errors.As(err, &exit) {
			return exit.Code
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		return interact(s)
	case *interactive || isTerminal(os.Stdin):
		return interact(s)
	default:
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
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return s.Status()
}

// interact runs the REPL.
func interact(s *commands.Session) int {
	lr := lineReader(s)
	defer lr.Close()
	return repl.Run(s, lr)
}

// lineReader is the line editor on a terminal, plain lines else.
func lineReader(s *commands.Session) repl.LineReader {
	if isTerminal(os.Stdin) && isTerminal(os.Stdout) {
		ed, err := repl.NewEditor(repl.HistoryFile(), s.Complete)
		if err == nil {
			return ed
		}
		fmt.Fprintf(os.Stderr, "nsh: line editor: %v; reading plain lines\n", err)
	}
	return repl.NewPlain(os.Stdin, os.Stdout)
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
