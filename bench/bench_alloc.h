/*
 * bench_alloc — counts calls to the malloc family made anywhere in the
 * process (the binary defines malloc, calloc, realloc, free, posix_memalign,
 * aligned_alloc and memalign, forwarding to glibc's __libc_* entry points,
 * so every caller, libc and libjson-c included, goes through the counters).
 *
 * Only linked into benchmarks that need it; not available (bb_alloc_counting
 * returns false) in sanitizer builds, where the sanitizer owns malloc.
 */
#ifndef JW_BENCH_ALLOC_H
#define JW_BENCH_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

struct bb_alloc_counts {
	uint64_t mallocs;    /* malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign */
	uint64_t frees;      /* free of a non-NULL pointer */
};

/* True if the counting allocator is in this binary. */
bool bb_alloc_counting(void);
void bb_alloc_snapshot(struct bb_alloc_counts *out);

#endif
