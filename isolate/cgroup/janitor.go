package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
)

// The janitor makes "nothing nsh made outlives it" hold even when nsh is
// killed outright. It is nsh re-executed as nsh:[janitor], handled by the
// C constructor in isolate/stage.c (so no second Go runtime starts, and
// every nsh binary, which links isolate, has it). It reads lines from a
// pipe whose other end only nsh holds:
//
//	add DIR              nsh made cgroup DIR
//	del DIR              nsh removed it
//	subtree DIR CTRL...  nsh enabled CTRLs in DIR/cgroup.subtree_control
//	leaf LEAF PARENT     nsh moved itself (and the janitor) into LEAF
//
// At end of file, which comes however nsh ends, it kills what is left in
// each remaining cgroup, removes them newest first, and undoes the
// subtree and leaf changes. It ignores the terminal's signals so that a
// Ctrl-C that ends nsh leaves it time to clean up.

const janitorStage = "janitor"

var (
	janMu    sync.Mutex
	janCmd   *exec.Cmd
	janIn    *os.File
	janReady chan struct{} // closed once the janitor has started, or failed to
)

// noJanitor is set by tests that run on a fake cgroupfs.
var noJanitor bool

// startJanitor starts the janitor without waiting for it: its pipe takes
// lines at once, and an exec of nsh need not delay the first spawn.
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
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{"nsh:[janitor]"},
		Env:         append(os.Environ(), "_NSH_STAGE="+janitorStage),
		Stdin:       r,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	janCmd, janIn, janReady = cmd, w, make(chan struct{})
	ready := janReady
	go func() {
		defer close(ready)
		if err := cmd.Start(); err != nil {
			janMu.Lock()
			janCmd = nil
			janMu.Unlock()
		}
		r.Close()
	}()
	return nil
}

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
	if janCmd == nil || janCmd.Process == nil {
		return 0
	}
	return janCmd.Process.Pid
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
	in, ready := janIn, janReady
	janIn, janReady = nil, nil
	janMu.Unlock()
	if in == nil {
		return
	}
	in.Close()
	<-ready
	janMu.Lock()
	cmd := janCmd
	janCmd = nil
	janMu.Unlock()
	if cmd != nil {
		cmd.Wait()
	}
}
