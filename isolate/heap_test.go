package isolate

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fresh runs test again in a process of its own, started with env, and
// reports whether this is that process: what the constructor chose and
// did is then the test's alone to see.
func fresh(t *testing.T, test string, env ...string) bool {
	t.Helper()
	if os.Getenv("NSHTEST_FRESH") == test {
		return true
	}
	cmd := exec.Command("/proc/self/exe", "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), append([]string{"NSHTEST_FRESH=" + test, "NSHTEST_STANDIN=inside"}, env...)...)
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("the fresh process: %v\n%s", err, out)
	case strings.Contains(string(out), "--- SKIP"):
		t.Skipf("the fresh process skipped:\n%s", out)
	case !strings.Contains(string(out), "--- PASS: "+test):
		t.Fatalf("the fresh process ran no check:\n%s", out)
	}
	t.Logf("the fresh process:\n%s", out)
	return false
}

// TestHeapPopulated: with populating chosen, heap.c found where Go's heap
// starts in its first chunk (a random page since Go 1.26: the pages below
// it are padding Go never touches) and made the pages from there on
// resident, every one, though Go touches only some of them by itself. The
// populated range begins at the lowest page of the chunk the heap has
// used: populating the chunk's first pages, as nsh once did, shows as
// resident padding. It is checked in a process of its own, fresh: in one
// that has run other tests Go's scavenger may already have given pages
// they freed back to the kernel (962 of 1024 were left once).
func TestHeapPopulated(t *testing.T) {
	if !fresh(t, "TestHeapPopulated", "_NSH_POPULATE=1") {
		return
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	chunk, chunkLen, at, n := heapPopulated()
	if chunk == 0 {
		t.Fatal("heap.c saw no mapping of Go's heap: is isolate linked with -Wl,--wrap=mmap and -Wl,--wrap=pthread_create?")
	}
	if n == 0 {
		t.Skipf("MADV_POPULATE_WRITE failed here (Linux 5.14+; this is %s)", unix.ByteSliceToString(uts.Release[:]))
	}
	// Where the heap starts, seen without heap.c: its lowest page that
	// holds anything (padding and populated pages Go has not used are
	// zeros), among the pages resident.
	page := uintptr(unix.Getpagesize())
	res := make([]byte, (at+n-chunk)/page)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, chunk, at+n-chunk, uintptr(unsafe.Pointer(&res[0]))); e != 0 {
		t.Fatalf("mincore of the heap's chunk at %#x: %v", chunk, e)
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	start, b := uintptr(0), make([]byte, page)
	for i, r := range res {
		if r&1 == 0 {
			continue
		}
		if _, err := mem.ReadAt(b, int64(chunk+uintptr(i)*page)); err != nil {
			t.Fatalf("read the heap's page at %#x: %v", chunk+uintptr(i)*page, err)
		}
		if slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
			start = chunk + uintptr(i)*page
			break
		}
	}
	switch {
	case start == 0:
		t.Errorf("heap.c populated from %#x, but nothing of the heap is in its chunk's first %d bytes (the chunk: %#x, %d bytes)", at, at+n-chunk, chunk, chunkLen)
	case start < at || start > at+4*page:
		t.Errorf("heap.c populated from %#x, but the heap starts at %#x (its chunk: %#x, %d bytes)", at, start, chunk, chunkLen)
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
		t.Errorf("%d of the %d pages heap.c populated at %#x are resident", resident, len(pages), at)
	}
}

// TestPopulateChoice: the constructor times a trap and populates the heap
// and the image only where a trap costs more than their thresholds.
func TestPopulateChoice(t *testing.T) {
	if fresh(t, "TestPopulateChoice") {
		checkPopulateChoice(t, false)
	}
}

// TestPopulateForcedOff: _NSH_POPULATE=0 populates nothing, on any
// machine, and nothing was.
func TestPopulateForcedOff(t *testing.T) {
	if fresh(t, "TestPopulateForcedOff", "_NSH_POPULATE=0") {
		checkPopulateChoice(t, true)
	}
}

// checkPopulateChoice checks the constructor's choice in this process
// (forced off, or its own), and that what it chose not to populate it did
// not. (nsh's initialiser drops _NSH_* from the environment Go sees.)
func checkPopulateChoice(t *testing.T, forcedOff bool) {
	heap, image, trap := populateChosen()
	if forcedOff {
		if heap || image || trap != -1 {
			t.Errorf("_NSH_POPULATE=0: chose heap %v, image %v, timed %d ns", heap, image, trap)
		}
	} else {
		t.Logf("a trap costs %d ns here: populate the heap %v, the image %v", trap, heap, image)
		if trap == -1 {
			var uts unix.Utsname
			unix.Uname(&uts)
			t.Skipf("no trap timed: MADV_POPULATE_WRITE failed (Linux 5.14+; this is %s)", unix.ByteSliceToString(uts.Release[:]))
		}
		if heap != (trap > 1000) || image != (trap > 4000) {
			t.Errorf("a trap of %d ns chose heap %v (over 1000 ns), image %v (over 4000 ns)", trap, heap, image)
		}
	}
	if _, _, _, n := heapPopulated(); !heap && n != 0 {
		t.Errorf("the heap not chosen, yet %d bytes of it populated", n)
	}
	if r := imagePopulated(); !image && len(r) != 0 {
		t.Errorf("the image not chosen, yet %d ranges of it populated: %v", len(r), r)
	}
}
