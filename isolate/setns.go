package isolate

// The constructor in stage.c runs the child stage (and the cgroup
// janitor) before the Go runtime starts; this import is what links it into
// every binary using isolate.

// #cgo CFLAGS: -Wall -Werror
import "C"
