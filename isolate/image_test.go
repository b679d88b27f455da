package isolate

import (
	"debug/elf"
	"testing"

	"golang.org/x/sys/unix"
)

// TestImagePopulated: with populating chosen, the constructor mapped the read-only part of the
// image (code, read-only data, Go's tables) whole, each read-only
// loadable segment the ELF file lists (read here from the file, not as
// the constructor found them) in one madvise that succeeded, and none of
// the writable ones. (What a process maps of a file cannot be told from
// outside the kernel's own count: mincore says what the page cache holds,
// and the kernel maps a freshly written binary's large folios whole.)
func TestImagePopulated(t *testing.T) {
	if !fresh(t, "TestImagePopulated", "_NSH_POPULATE=1") {
		return
	}
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type span struct{ at, len uintptr }
	want := map[span]bool{}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W == 0 {
			lo := uintptr(p.Vaddr) &^ 4095
			want[span{lo, uintptr(p.Vaddr+p.Memsz) - lo}] = true
		}
	}
	got := imagePopulated()
	if len(got) != len(want) {
		t.Errorf("%d ranges populated, %d read-only segments: %v", len(got), len(want), got)
	}
	for _, r := range got {
		if !want[span{r.at, r.len}] {
			t.Errorf("populated %#x+%d, no read-only segment of the image", r.at, r.len)
		}
		if r.errno != 0 {
			var uts unix.Utsname
			unix.Uname(&uts)
			t.Skipf("MADV_POPULATE_READ of %#x+%d: %v (Linux 5.14+; this is %s)", r.at, r.len, unix.Errno(r.errno), unix.ByteSliceToString(uts.Release[:]))
		}
	}
}
