package cgroup

import (
	"fmt"
	"os"

	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The janitor makes "nothing nsh made outlives it" hold even when nsh is
// killed outright. It is a plain fork of nsh running C code (stage.c in
// package isolate, which sets ForkJanitor): no exec, no second Go runtime.
// It reads lines from a pipe whose other end only nsh holds:
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

// ForkJanitor starts the janitor reading r; nil (a binary without package
// isolate) means no janitor.
var ForkJanitor func(r *os.File) (pid int, err error)

var (
	janMu  sync.Mutex
	janPid int
	janIn  *os.File
)

// noJanitor is set by tests that run on a fake cgroupfs.
var noJanitor bool

func startJanitor() error {
	janMu.Lock()
	defer janMu.Unlock()
	if janIn != nil || noJanitor || ForkJanitor == nil {
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	pid, err := ForkJanitor(r)
	r.Close()
	if err != nil {
		w.Close()
		return fmt.Errorf("start the cgroup janitor: %w", err)
	}
	janPid, janIn = pid, w
	return nil
}

func janitorPid() int {
	janMu.Lock()
	defer janMu.Unlock()
	return janPid
}

func janitorSay(words ...string) {
	janMu.Lock()
	defer janMu.Unlock()
	if janIn != nil {
		fmt.Fprintln(janIn, strings.Join(words, " "))
	}
}

// stopJanitor closes the pipe and waits for the janitor to finish.
func stopJanitor() {
	janMu.Lock()
	in, pid := janIn, janPid
	janIn, janPid = nil, 0
	janMu.Unlock()
	if in == nil {
		return
	}
	in.Close()
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			return
		}
	}
}
