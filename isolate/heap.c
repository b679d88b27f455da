// The pages Go's heap is about to use, made resident in one system call.
//
// A start of nsh touches a few hundred 4 KiB pages of Go's heap from its
// first instruction on: spans of each size class, goroutine stacks, the
// package initialisers' data. Each first touch is a page fault, and on a
// virtual machine a fault is dear (a trap to the hypervisor: 10 to 20 us
// on the machine of issue 35). MADV_POPULATE_WRITE (Linux 5.14) makes a
// range resident at once, in the kernel, without the traps.
//
// Which range: Go maps its heap in chunks of 4 MiB and more (mmap with
// MAP_FIXED over an arena it reserved), and since Go 1.26 starts it at a
// random page of its first chunk (the heap's base address is randomised,
// a hardening kept here); the pages below are never touched. So the
// range is found when the runtime starts its first thread (sysmon, at
// the top of runtime.main), by which time it has touched the heap's
// first pages: the lowest resident page of the chunk (mincore) is where
// the heap starts, and Go's page allocator takes the lowest free pages
// first, so the heap grows up from there. The next 1.5 MiB are populated
// (a one-shot's heap reaches about 1.3 MiB), within the chunk; what is
// left of them goes to the start of the chunk Go maps next. Populating
// the whole first chunk instead (as nsh did) costs a millisecond for the
// pages below the start and above the end. What it saves on a start,
// measured: bench/CHANGELOG.md.
//
// Not huge pages: MADV_HUGEPAGE on the heap saved more, but a fault on
// such memory may go into direct reclaim and compaction where memory is
// fragmented, and stall for seconds or minutes (the reason Go itself
// stopped asking for huge pages in Go 1.21.1, golang/go#61718).
//
// Every mmap and thread start of nsh's Go runtime goes through
// runtime/cgo, which calls mmap and pthread_create; isolate links with
// -Wl,--wrap=mmap,--wrap=pthread_create, so those calls come here
// (musl's own calls, to __mmap, do not). Where the kernel is older than
// 5.14 the madvise fails and changes nothing.

#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*f)(void *), void *arg);

// Go's heap comes in chunks of 4 MiB and more, aligned to 4 MiB; its
// other mappings are smaller than the least here.
enum { least = 2 << 20, chunk = 4 << 20, page = 4096, ahead = 3 << 19 };

static uintptr_t chunk_at; // the heap's first chunk, as mapped
static size_t chunk_len;
static size_t left;        // of ahead, for the next chunk Go maps
static int done;           // the range was found (and populated)

// The range populated first, for its test.
static uintptr_t populated_at;
static size_t populated_len;

static int heap_chunk(int prot, int flags, size_t len)
{
	return (flags & (MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE)) == (MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE) &&
	       prot == (PROT_READ | PROT_WRITE) && len >= least;
}

static void populate_heap_ahead(void);

// Whether to populate at all is the machine's to say. What populating
// saves is a trap per page (per 64 KiB of the image) that a start
// touches; what it costs is the pages it makes resident that the start
// never touches (a quarter of the heap's range, most of the image). Where
// a trap is dear (10 us a first write on the machine of issue 35, when a
// page populated cost 0.7 us) a start gains 1 to 2 ms; where it is cheap
// (0.5 us beside 1.1 us a page populated, on a later machine) populating
// cost a one-shot 0.5 ms and `nsh --version` 0.6 ms. So the constructor
// times one trap: the least of two first writes, each to a page of its
// own, less what a page costs populated (8 pages in one madvise; on the
// later machine a page populated cost more than one faulted, so the
// "trap" there is below zero). A trap's cost beyond heap_over pays for
// the heap's range (about 250 pages used of 384), beyond image_over for
// the image's (about 80 faults saved for 0.15 to 0.35 ms of mapping). _NSH_POPULATE=1 or 0 forces the
// choice (the tests take each way on any machine).
enum { heap_over_ns = 1000, image_over_ns = 4000 };
static int want_heap = 0, want_image = 0;
static long trap_ns = -1; // as timed; -1: not timed (forced, or no mmap)

static long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

void nsh_populate_decide(void)
{
	const char *force = getenv("_NSH_POPULATE");
	if (force && (strcmp(force, "0") == 0 || strcmp(force, "1") == 0)) {
		want_heap = want_image = force[0] == '1';
		return;
	}
	enum { n = 8 };
	char *p = __real_mmap(NULL, (n + 3) * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	p[0] = 1; // untimed: the page table the rest shares
	long t0 = now_ns();
	int ok = madvise(p + page, n * page, MADV_POPULATE_WRITE) == 0;
	long t1 = now_ns();
	p[(n + 1) * page] = 1;
	long t2 = now_ns();
	p[(n + 2) * page] = 1;
	long t3 = now_ns();
	munmap(p, (n + 3) * page);
	if (!ok)
		return; // before Linux 5.14: nothing to populate with
	long fault = t2 - t1 < t3 - t2 ? t2 - t1 : t3 - t2;
	trap_ns = fault - (t1 - t0) / n;
	want_heap = trap_ns > heap_over_ns;
	want_image = trap_ns > image_over_ns;
}

// nsh_populate_chosen says what nsh_populate_decide chose, and the trap
// it timed (-1: none). stage.c asks it for the image; its test too.
int nsh_populate_chosen(int *heap, long *trap)
{
	if (heap)
		*heap = want_heap;
	if (trap)
		*trap = trap_ns;
	return want_image;
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = __real_mmap(addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return p;
	if (!heap_chunk(prot, flags, len)) {
		// The runtime maps its own metadata as it sets the heap up:
		// once it has touched the heap, its start can be seen.
		populate_heap_ahead();
		return p;
	}
	if (!chunk_at) {
		chunk_at = (uintptr_t)p;
		chunk_len = len;
	} else if (left > 0 && want_heap) {
		// The heap went on past the range's chunk into this one.
		madvise(p, left < len ? left : len, MADV_POPULATE_WRITE);
		left = 0;
	}
	return p;
}

// populate_heap_ahead finds where the heap starts in its first chunk and
// populates the next pages (see above).
static void populate_heap_ahead(void)
{
	static unsigned char resident[chunk / page];
	size_t n = chunk_len < chunk ? chunk_len : chunk;
	if (!want_heap || !chunk_at || done || mincore((void *)chunk_at, n, resident) != 0)
		return;
	size_t first = 0;
	while (first < n / page && !(resident[first] & 1))
		first++;
	if (first == n / page)
		return; // nothing touched yet: where it starts is unknown
	done = 1;
	uintptr_t at = chunk_at + first * page, end = chunk_at + chunk_len;
	size_t len = end - at < ahead ? end - at : ahead;
	if (madvise((void *)at, len, MADV_POPULATE_WRITE) != 0)
		return;
	populated_at = at;
	populated_len = len;
	left = ahead - len;
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*f)(void *), void *arg)
{
	populate_heap_ahead();
	return __real_pthread_create(t, attr, f, arg);
}

// nsh_heap_populated says where the heap's first chunk is and where
// pages were populated in it (a length of 0: nowhere). For its test.
void nsh_heap_populated(uintptr_t *chunk, size_t *chunklen, uintptr_t *at, size_t *len)
{
	*chunk = chunk_at;
	*chunklen = chunk_len;
	*at = populated_at;
	*len = populated_len;
}
