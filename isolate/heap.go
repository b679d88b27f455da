package isolate

// #include <stddef.h>
// #include <stdint.h>
// void nsh_heap_populated(uintptr_t *chunk, size_t *chunklen, uintptr_t *at, size_t *len);
import "C"

// heapPopulated is the heap's first chunk, as Go mapped it, and where in
// it heap.c made pages resident (n is 0 where it did not). For its test.
func heapPopulated() (chunk, chunkLen, at, n uintptr) {
	var c, a C.uintptr_t
	var cl, l C.size_t
	C.nsh_heap_populated(&c, &cl, &a, &l)
	return uintptr(c), uintptr(cl), uintptr(a), uintptr(l)
}
