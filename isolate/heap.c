// Go's heap on transparent huge pages.
//
// Go maps its heap in chunks of 4 MiB and more (mmap with MAP_FIXED over
// an arena it reserved) and touches a few hundred of their 4 KiB pages
// from its first instruction on: spans of each size class, goroutine
// stacks, the package initialisers' data. Each first touch is a page
// fault, and on a virtual machine a fault is dear. Go no longer asks for
// huge pages itself (since Go 1.21.1), and most hosts give them only
// where asked (transparent_hugepage/enabled: madvise), so nsh asks for
// its heap: one fault maps 2 MiB, for a few MiB more resident memory.
// What it saves on a start, measured: bench/CHANGELOG.md.
//
// Every mmap of nsh's Go runtime goes through runtime/cgo's x_cgo_mmap,
// which calls mmap; isolate links with -Wl,--wrap=mmap, so that call
// comes here (musl's own calls, to __mmap, do not). Where the kernel has
// no transparent huge pages, or they are off (enabled: never), madvise
// changes nothing; GODEBUG=disablethp=1 still turns them off, as Go's
// sysMap marks the range MADV_NOHUGEPAGE after this returns.

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

enum { huge_page = 2 << 20 };

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = __real_mmap(addr, len, prot, flags, fd, off);
	// The heap: anonymous, read-write, placed (MAP_FIXED) in the arena
	// Go reserved, whole huge pages of it. Go's other mappings are made
	// elsewhere (not fixed) or are smaller.
	int heap = (flags & (MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE)) == (MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE) &&
		   prot == (PROT_READ | PROT_WRITE) && len >= huge_page;
	if (p != MAP_FAILED && heap) {
		uintptr_t lo = ((uintptr_t)p + huge_page - 1) & ~(uintptr_t)(huge_page - 1);
		uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)(huge_page - 1);
		if (lo < hi)
			madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
	}
	return p;
}
