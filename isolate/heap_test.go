package isolate

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestHeapOnHugePages: the mapping that holds Go's heap is marked for
// transparent huge pages (VmFlags hg), as heap.c asks, wherever the
// kernel offers them.
func TestHeapOnHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skip("no transparent huge pages here")
	}
	if strings.Contains(os.Getenv("GODEBUG"), "disablethp=1") {
		t.Skip("GODEBUG=disablethp=1 turns them off")
	}
	obj := new([64]byte) // escapes: on the heap
	addr := uintptr(unsafe.Pointer(obj))
	flags, err := vmFlagsAt(addr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("the heap's mapping (%#x) has VmFlags %q: no hg (MADV_HUGEPAGE)", addr, flags)
	}
	sink = obj
}

var sink any

// vmFlagsAt reads the VmFlags of the mapping that holds addr from
// /proc/self/smaps.
func vmFlagsAt(addr uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	in := false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		// A mapping's first line: START-END PERMS ...; then its fields.
		if span, _, ok := strings.Cut(line, " "); ok && strings.Contains(span, "-") {
			var lo, hi uintptr
			if _, err := fmt.Sscanf(span, "%x-%x", &lo, &hi); err != nil {
				return "", fmt.Errorf("read /proc/self/smaps: %q: %w", line, err)
			}
			in = addr >= lo && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	return "", fmt.Errorf("no mapping holds %#x in /proc/self/smaps", addr)
}
