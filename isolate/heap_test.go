package isolate

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestHeapPopulated: heap.c saw Go map its heap's first chunk and made
// it resident, every page of it, though Go itself touches only some of
// them (this test without heap.c's madvise: 155 of the first 512).
// It is checked in a process of its own, fresh: in one that has run other
// tests Go's scavenger may already have given pages they freed back to
// the kernel (962 of 1024 were left once).
func TestHeapPopulated(t *testing.T) {
	if os.Getenv("NSHTEST_HEAP") != "fresh" {
		cmd := exec.Command("/proc/self/exe", "-test.run=^TestHeapPopulated$", "-test.v")
		cmd.Env = append(os.Environ(), "NSHTEST_HEAP=fresh", "NSHTEST_STANDIN=inside")
		out, err := cmd.CombinedOutput()
		switch {
		case err != nil:
			t.Fatalf("the fresh process: %v\n%s", err, out)
		case strings.Contains(string(out), "--- SKIP"):
			t.Skipf("the fresh process skipped:\n%s", out)
		case !strings.Contains(string(out), "--- PASS: TestHeapPopulated"):
			t.Fatalf("the fresh process ran no check:\n%s", out)
		}
		return
	}
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
