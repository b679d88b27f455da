package isolate

// #include <stddef.h>
// #include <stdint.h>
// void nsh_heap_populated(uintptr_t *at, size_t *len);
import "C"

// heapPopulated is where heap.c made the first pages of Go's heap
// resident (n is 0 where it did not). For its test.
func heapPopulated() (at, n uintptr) {
	var a C.uintptr_t
	var l C.size_t
	C.nsh_heap_populated(&a, &l)
	return uintptr(a), uintptr(l)
}
