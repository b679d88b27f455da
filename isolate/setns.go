package isolate

// The constructor in stage.c runs the child stage (and the cgroup
// janitor) before the Go runtime starts; this import is what links it into
// every binary using isolate. Go's calls of mmap and its thread starts
// come through heap.c, which makes the pages the heap is about to use
// resident in one system call.

// #cgo CFLAGS: -Wall -Werror
// #cgo LDFLAGS: -Wl,--wrap=mmap -Wl,--wrap=pthread_create
import "C"
