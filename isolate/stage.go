package isolate

import (
	"os"

	"nsh/isolate/cgroup"
)

// The child stage itself is C (stage.c): it runs before the Go runtime.
// Only the terminal watcher (tty.go) is a stage written in Go, dispatched
// here from a package initialiser so that it never reaches nsh's main.
func init() {
	if os.Getenv(stageEnv) == stageWatch {
		os.Exit(watchStage())
	}
}

func kernelAtLeast(major, minor int) bool { return cgroup.KernelAtLeast(major, minor) }
