package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The janitor makes "nothing nsh made outlives it" hold even when nsh is
// killed outright. It is nsh re-executed as nsh:[janitor], handled by the
// C constructor in isolate/stage.c before any Go runtime starts (every
// nsh binary links package isolate). It reads lines from a pipe whose
// other end only nsh holds:
//
//	add DIR              nsh made cgroup DIR
//	del DIR              nsh removed it
//	subtree DIR CTRL...  nsh enabled CTRLs in DIR/cgroup.subtree_control
//	leaf LEAF PARENT     nsh moved itself (and the janitor) into LEAF
//
// At end of file, which comes however nsh ends, it kills what is left in
// each remaining cgroup, removes them newest first, and undoes the
// subtree and leaf changes. It blocks every signal, so that a Ctrl-C or
// SIGTERM that ends nsh leaves it time to clean up.

var (
	janMu      sync.Mutex
	janPid     int
	janIn      *os.File
	janReady   chan struct{} // closed once the janitor started, or failed to
	janPending int           // what it would have to undo: adds less dels, subtree and leaf changes
)

// noJanitor is set by tests that run on a fake cgroupfs.
var noJanitor bool

// startJanitor starts the janitor without waiting for it: its exec can
// happen while the first child starts on another core. Its pipe takes
// lines at once.
func startJanitor() error {
	janMu.Lock()
	defer janMu.Unlock()
	if janIn != nil || noJanitor {
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	janIn, janReady = w, make(chan struct{})
	ready := janReady
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{"nsh:[janitor]"},
		Env:         append(os.Environ(), "_NSH_STAGE=janitor"),
		Stdin:       r,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	go func() {
		defer close(ready)
		err := cmd.Start()
		r.Close()
		if err == nil {
			janMu.Lock()
			janPid = cmd.Process.Pid
			janMu.Unlock()
			cmd.Process.Release() // stopJanitor reaps it
		}
	}()
	return nil
}

// janitorPid waits for the janitor to exist.
func janitorPid() int {
	janMu.Lock()
	ready := janReady
	janMu.Unlock()
	if ready == nil {
		return 0
	}
	<-ready
	janMu.Lock()
	defer janMu.Unlock()
	return janPid
}

func janitorSay(words ...string) {
	janMu.Lock()
	defer janMu.Unlock()
	if janIn != nil {
		fmt.Fprintln(janIn, strings.Join(words, " "))
		if words[0] == "del" {
			janPending--
		} else {
			janPending++
		}
	}
}

// stopJanitor closes the pipe and, when the janitor has something to
// undo, waits for it to finish. With nothing pending (nsh removed all it
// made) it only sees the end of its pipe and exits: nsh does not wait
// for a one-shot's janitor to have started at all.
func stopJanitor() {
	janMu.Lock()
	in, ready, pending := janIn, janReady, janPending
	janMu.Unlock()
	if in == nil {
		return
	}
	if pending <= 0 {
		janMu.Lock()
		janIn, janReady, janPending = nil, nil, 0
		janMu.Unlock()
		in.Close()
		go func() {
			<-ready // reap it once it has started and seen the end of its pipe
			janMu.Lock()
			pid := janPid
			janPid = 0
			janMu.Unlock()
			if pid > 0 {
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, 0, nil)
			}
		}()
		return
	}
	<-ready
	janMu.Lock()
	pid := janPid
	janIn, janPid, janReady, janPending = nil, 0, nil, 0
	janMu.Unlock()
	in.Close()
	if pid == 0 {
		return
	}
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			return
		}
	}
}
