// Mapping nsh's own image in a few system calls instead of a few hundred
// page faults, for a process about to start the Go runtime.
//
// A page fault is expensive on a virtual machine whose guest page tables
// the host shadows, far more than the kernel filling a range in one
// madvise, and a Go start faults in nsh's code, read-only data and every
// page of its writable data and bss it touches one at a time.
// MADV_POPULATE_READ maps the code
// and read-only data (whose pages are in the page cache, so that costs no
// memory), MADV_POPULATE_WRITE gives the process its own copy of the data
// and bss up front (nearly all of which a start touches anyway). Only a process that will run Go does this: the child stage and
// the janitor touch a few pages and exec or wait.
//
// On a cold page cache this reads the whole image at once, more than a
// start would have faulted in; the first run of a binary
// reads most of it anyway. Kernels before 5.14 lack both advices
// (EINVAL): nothing is lost but the speed-up, so errors are ignored.
//
// Included by stage.c, and by bench/floor and bench/floorlibs, which
// measure the same start.

#ifndef NSH_PREFAULT_H
#define NSH_PREFAULT_H

#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static void nsh_prefault(void)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM);
	long page = sysconf(_SC_PAGESIZE);
	if (ph == NULL || page <= 0)
		return;
	// The addresses in the headers are the image's own: nsh is linked
	// static and not position-independent. A position-independent image
	// would need its load bias (AT_PHDR minus PT_PHDR's address), so it
	// is left alone.
	uintptr_t relro_end = 0;
	for (unsigned long i = 0; i < n; i++) {
		if (ph[i].p_type == PT_DYNAMIC || (ph[i].p_type == PT_PHDR && ph[i].p_vaddr != (uintptr_t)ph))
			return;
		if (ph[i].p_type == PT_GNU_RELRO)
			relro_end = ph[i].p_vaddr + ph[i].p_memsz;
	}
	uintptr_t mask = ~(uintptr_t)(page - 1);
	for (unsigned long i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		uintptr_t start = ph[i].p_vaddr & mask;
		uintptr_t end = (ph[i].p_vaddr + ph[i].p_memsz + page - 1) & mask;
		if (!(ph[i].p_flags & PF_W)) {
			madvise((void *)start, end - start, MADV_POPULATE_READ);
			continue;
		}
		// A C library may make the relocation-read-only part read-only
		// after relocating; writing it would fail.
		if (relro_end > start && relro_end < end)
			start = (relro_end + page - 1) & mask;
		if (end > start)
			madvise((void *)start, end - start, MADV_POPULATE_WRITE);
	}
}

#endif
