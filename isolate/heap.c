// The first pages of Go's heap, made resident in one system call.
//
// Go maps its heap in chunks of 4 MiB and more (mmap with MAP_FIXED over
// an arena it reserved) and touches a few hundred 4 KiB pages of the
// first chunk from its first instruction on: spans of each size class,
// goroutine stacks, the package initialisers' data. Each first touch is
// a page fault, and on a virtual machine a fault is dear (a trap to the
// hypervisor). MADV_POPULATE_WRITE (Linux 5.14) makes that chunk (up to
// 4 MiB) resident at once, in the kernel, without the traps, for more
// resident memory than a short run touches by itself (a one-shot's peak
// RSS: 6.8 -> 10.6 MB).
//
// Not huge pages: MADV_HUGEPAGE on the heap saved more, but a fault on
// such memory may go into direct reclaim and compaction where memory is
// fragmented, and stall for seconds or minutes (the reason Go itself
// stopped asking for huge pages in Go 1.21.1, golang/go#61718). A
// population of small pages takes what a fault would have taken, only
// sooner. What it saves on a start, measured: bench/CHANGELOG.md.
//
// Every mmap of nsh's Go runtime goes through runtime/cgo's x_cgo_mmap,
// which calls mmap; isolate links with -Wl,--wrap=mmap, so that call
// comes here (musl's own calls, to __mmap, do not). Where the kernel is
// older than 5.14 the madvise fails and changes nothing.

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

// Go's heap comes in chunks of 4 MiB and more; its other mappings are
// smaller than the least here.
enum { least = 2 << 20, most = 4 << 20 };

// The range populated, for its test.
static void *populated_at;
static size_t populated_len;

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = __real_mmap(addr, len, prot, flags, fd, off);
	// The heap's first chunk: anonymous, read-write, placed (MAP_FIXED)
	// in the arena Go reserved, and large. Go's other mappings are made
	// elsewhere (not fixed) or are smaller.
	int heap = (flags & (MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE)) == (MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE) &&
		   prot == (PROT_READ | PROT_WRITE) && len >= least;
	if (p != MAP_FAILED && heap && !populated_at) {
		populated_at = p;
		populated_len = len < most ? len : most;
		if (madvise(p, populated_len, MADV_POPULATE_WRITE) != 0)
			populated_len = 0;
	}
	return p;
}

// nsh_heap_populated says where the heap's first pages were populated
// (a length of 0: nowhere). For its test.
void nsh_heap_populated(uintptr_t *at, size_t *len)
{
	*at = (uintptr_t)populated_at;
	*len = populated_len;
}
