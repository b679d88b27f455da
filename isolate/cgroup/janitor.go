package cgroup

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The janitor makes "nothing nsh made outlives it" hold even when nsh is
// killed outright. It is nsh re-executed as nsh:[janitor], reading lines
// from a pipe whose other end only nsh holds:
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
	janMu  sync.Mutex
	janCmd *exec.Cmd
	janIn  *os.File
)

func init() {
	if os.Getenv("_NSH_STAGE") == janitorStage {
		os.Exit(janitorMain())
	}
}

// noJanitor is set by tests that run on a fake cgroupfs.
var noJanitor bool

func startJanitor() error {
	janMu.Lock()
	defer janMu.Unlock()
	if janCmd != nil || noJanitor {
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
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("start the cgroup janitor: %w", err)
	}
	r.Close()
	janCmd, janIn = cmd, w
	return nil
}

func janitorPid() int {
	janMu.Lock()
	defer janMu.Unlock()
	if janCmd == nil {
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
	cmd, in := janCmd, janIn
	janCmd, janIn = nil, nil
	janMu.Unlock()
	if cmd != nil {
		in.Close()
		cmd.Wait()
	}
}

func janitorMain() int {
	signal.Ignore(unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGTSTP)
	unix.Prctl(unix.PR_SET_NAME, uintptr(cstr("nsh:janitor")), 0, 0, 0)
	var dirs []string
	var subtrees [][]string
	var leaf []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "add":
			dirs = append(dirs, f[1])
		case "del":
			for i, d := range dirs {
				if d == f[1] {
					dirs = append(dirs[:i], dirs[i+1:]...)
					break
				}
			}
		case "subtree":
			subtrees = append(subtrees, f[1:])
		case "leaf":
			if len(f) == 3 {
				leaf = f[1:]
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		sweep(dirs[i])
	}
	for i := len(subtrees) - 1; i >= 0; i-- {
		var minus []string
		for _, c := range subtrees[i][1:] {
			minus = append(minus, "-"+c)
		}
		os.WriteFile(filepath.Join(subtrees[i][0], "cgroup.subtree_control"), []byte(strings.Join(minus, " ")), 0)
	}
	if leaf != nil {
		os.WriteFile(filepath.Join(leaf[1], "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
		rmdirRetry(leaf[0])
	}
	return 0
}

// sweep kills everything in a cgroup and removes it.
func sweep(dir string) {
	if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err == nil {
		os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	}
	for try := 0; try < 50; try++ {
		pids := readFields(filepath.Join(dir, "cgroup.procs"))
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			if n, err := strconv.Atoi(p); err == nil {
				unix.Kill(n, unix.SIGKILL)
			}
		}
		unix.Nanosleep(&unix.Timespec{Nsec: 10e6}, nil)
	}
	rmdirRetry(dir)
}
