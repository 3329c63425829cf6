/*
 * Counting wrappers around glibc's allocator.  glibc exports __libc_malloc
 * and friends (the real implementations behind its malloc); defining malloc
 * in the executable interposes it for every shared object in the process,
 * and the wrappers forward to the __libc_* functions, so nothing else
 * changes.  The counters are relaxed atomics: cheap, and correct if a
 * library thread allocates.
 */
#define _GNU_SOURCE
#include "bench_alloc.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BB_NO_INTERPOSE 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define BB_NO_INTERPOSE 1
#endif
#endif

#ifndef BB_NO_INTERPOSE

static _Atomic uint64_t g_mallocs, g_frees;

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t size);

void *malloc(size_t size)
{
	atomic_fetch_add_explicit(&g_mallocs, 1, memory_order_relaxed);
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	atomic_fetch_add_explicit(&g_mallocs, 1, memory_order_relaxed);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	atomic_fetch_add_explicit(&g_mallocs, 1, memory_order_relaxed);
	return __libc_realloc(p, size);
}

void free(void *p)
{
	if(p) atomic_fetch_add_explicit(&g_frees, 1, memory_order_relaxed);
	__libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	atomic_fetch_add_explicit(&g_mallocs, 1, memory_order_relaxed);
	if(align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
	void *p = __libc_memalign(align, size);
	if(p == NULL) return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t size)
{
	atomic_fetch_add_explicit(&g_mallocs, 1, memory_order_relaxed);
	return __libc_memalign(align, size);
}

void *memalign(size_t align, size_t size)
{
	atomic_fetch_add_explicit(&g_mallocs, 1, memory_order_relaxed);
	return __libc_memalign(align, size);
}

bool bb_alloc_counting(void)
{
	return true;
}

void bb_alloc_snapshot(struct bb_alloc_counts *out)
{
	out->mallocs = atomic_load_explicit(&g_mallocs, memory_order_relaxed);
	out->frees = atomic_load_explicit(&g_frees, memory_order_relaxed);
}

#else

bool bb_alloc_counting(void)
{
	return false;
}

void bb_alloc_snapshot(struct bb_alloc_counts *out)
{
	out->mallocs = 0;
	out->frees = 0;
}

#endif
