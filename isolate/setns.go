package isolate

// The constructor in stage.c runs the child stage (and the cgroup
// janitor) before the Go runtime starts; this import is what links it into
// every binary using isolate. Go's calls of mmap come through heap.c,
// which asks for huge pages for the heap.

// #cgo CFLAGS: -Wall -Werror
// #cgo LDFLAGS: -Wl,--wrap=mmap
import "C"
