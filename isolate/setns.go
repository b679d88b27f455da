package isolate

// The constructor in setns.c joins namespaces before the Go runtime
// starts; this import is what links it into every binary using isolate.

// #cgo CFLAGS: -Wall -Werror
import "C"
