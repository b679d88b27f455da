package isolate

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestHeapPopulated: heap.c saw Go map its heap's first chunk and made
// it resident, every page of it, though Go itself touches only some of
// them (this test without heap.c's madvise: 155 of the first 512).
func TestHeapPopulated(t *testing.T) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	at, n := heapPopulated()
	if at == 0 {
		t.Fatal("heap.c saw no mapping of Go's heap: is isolate linked with -Wl,--wrap=mmap?")
	}
	if n == 0 {
		t.Skipf("MADV_POPULATE_WRITE failed here (Linux 5.14+; this is %s)", unix.ByteSliceToString(uts.Release[:]))
	}
	pages := make([]byte, n/uintptr(unix.Getpagesize()))
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, at, n, uintptr(unsafe.Pointer(&pages[0]))); e != 0 {
		t.Fatalf("mincore of the heap's first %d bytes at %#x: %v", n, at, e)
	}
	resident := 0
	for _, p := range pages {
		resident += int(p & 1)
	}
	if resident != len(pages) {
		t.Errorf("%d of the heap's first %d pages are resident at %#x; heap.c populates them all", resident, len(pages), at)
	}
}
