// Package forkexec starts a process as os/exec would, through
// syscall.ForkExec. os.StartProcess checks once per process that pidfds
// work by cloning a throwaway child (os.checkClonePidfd): one more
// process creation, on the path of every one-shot nsh, for a question nsh
// answers itself (it asks clone for a pidfd and copes with none).
package forkexec

import (
	"os"
	"runtime"
	"syscall"
)

// Start runs path with argv and env; files are its descriptors 0, 1, 2
// and on (nil is /dev/null, as os/exec gives). It returns the pid.
func Start(path string, argv, env []string, files []*os.File, sys *syscall.SysProcAttr) (int, error) {
	fds, done, err := Descriptors(files)
	if err != nil {
		return 0, err
	}
	defer done()
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env, Files: fds, Sys: sys})
	if err != nil {
		return 0, &os.PathError{Op: "fork/exec", Path: path, Err: err}
	}
	return pid, nil
}

// Descriptors gives the numbers of files for a new process's 0, 1, 2 and
// on, /dev/null for a nil one, as os/exec gives. done closes what it
// opened and keeps files open until then: call it once the process is
// started.
func Descriptors(files []*os.File) (fds []uintptr, done func(), err error) {
	var null *os.File
	done = func() {
		if null != nil {
			null.Close()
		}
		runtime.KeepAlive(files)
	}
	fds = make([]uintptr, len(files))
	for i, f := range files {
		if f == nil {
			if null == nil {
				if null, err = os.Open(os.DevNull); err != nil {
					return nil, done, err
				}
			}
			f = null
		}
		fds[i] = f.Fd()
	}
	return fds, done, nil
}
