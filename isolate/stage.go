package isolate

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The child stage itself is C (stage.c): it runs before the Go runtime.
// Only the terminal watcher (tty.go) is a stage written in Go, dispatched
// here from a package initialiser so that it never reaches nsh's main.
func init() {
	if os.Getenv(stageEnv) == stageWatch {
		os.Exit(watchStage())
	}
}

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return true
	}
	var ma, mi int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi)
	return ma > major || (ma == major && mi >= minor)
}
