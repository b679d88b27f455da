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
	fds := make([]uintptr, len(files))
	for i, f := range files {
		if f == nil {
			null, err := os.Open(os.DevNull)
			if err != nil {
				return 0, err
			}
			defer null.Close()
			f = null
			files[i] = null
		}
		fds[i] = f.Fd()
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env, Files: fds, Sys: sys})
	runtime.KeepAlive(files)
	if err != nil {
		return 0, &os.PathError{Op: "fork/exec", Path: path, Err: err}
	}
	return pid, nil
}
