package isolate

// #include <stddef.h>
// #include <stdint.h>
// void nsh_heap_populated(uintptr_t *chunk, size_t *chunklen, uintptr_t *at, size_t *len);
// int nsh_image_populated(int i, uintptr_t *at, size_t *len, int *err);
// int nsh_populate_chosen(int *heap, long *trap);
import "C"

// populateChosen is what the constructor chose to populate, and the
// trap it timed to choose (-1: none, the choice forced or impossible).
// For its test.
func populateChosen() (heap, image bool, trapNs int64) {
	var h C.int
	var trap C.long
	image = C.nsh_populate_chosen(&h, &trap) != 0
	return h != 0, image, int64(trap)
}

// heapPopulated is the heap's first chunk, as Go mapped it, and where in
// it heap.c made pages resident (n is 0 where it did not). For its test.
func heapPopulated() (chunk, chunkLen, at, n uintptr) {
	var c, a C.uintptr_t
	var cl, l C.size_t
	C.nsh_heap_populated(&c, &cl, &a, &l)
	return uintptr(c), uintptr(cl), uintptr(a), uintptr(l)
}

// imageRange is a range of nsh's image the constructor populated, and
// the errno of its madvise (0: done).
type imageRange struct {
	at, len uintptr
	errno   int
}

// imagePopulated lists what the constructor populated of the image. For
// its test.
func imagePopulated() []imageRange {
	var out []imageRange
	for i := 0; ; i++ {
		var a C.uintptr_t
		var l C.size_t
		var e C.int
		if n := int(C.nsh_image_populated(C.int(i), &a, &l, &e)); i >= n {
			return out
		}
		out = append(out, imageRange{uintptr(a), uintptr(l), int(e)})
	}
}
