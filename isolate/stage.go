package isolate

import (
	"os"
	"strings"

	"nsh/isolate/cgroup"
)

// The child stage itself is C (stage.c): it runs before the Go runtime.
// Only the terminal watcher (tty.go) is a stage written in Go, dispatched
// here from a package initialiser so that it never reaches nsh's main.
//
// Variables named _NSH_* are nsh's protocol with its stages: nsh's own
// process drops any it inherited (a stray _NSH_SETNS once broke every
// spawn), so that none reaches a stage it did not mean for it.
func init() {
	if os.Getenv(stageEnv) == stageWatch && len(os.Args) > 0 && os.Args[0] == "nsh:[ttywatch]" {
		os.Exit(watchStage())
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "_NSH_") {
			os.Unsetenv(k)
		}
	}
}

func kernelAtLeast(major, minor int) bool { return cgroup.KernelAtLeast(major, minor) }
