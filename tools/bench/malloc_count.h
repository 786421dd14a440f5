/* malloc_count.h -- the interface of the LD_PRELOAD allocation counter (malloc_count.c).
 *
 * The shim exports these symbols; a program that wants them looks them up at run time with
 * dlsym(RTLD_DEFAULT, ...), so the same binary runs with and without the shim:
 *
 *     malloc_count_get_fn get = (malloc_count_get_fn)dlsym(RTLD_DEFAULT, "malloc_count_get");
 *     if (!get) { ... the shim is not preloaded ... }
 *
 * All counters are process-wide (every thread, including OpenBLAS's workers) and monotonic.
 * Calls made by the shim itself and by the dynamic loader while resolving it are not counted. */
#ifndef AECV_BENCH_MALLOC_COUNT_H
#define AECV_BENCH_MALLOC_COUNT_H

#include <stdint.h>

struct malloc_counts {
    uint64_t malloc_calls;    /* malloc */
    uint64_t calloc_calls;    /* calloc */
    uint64_t realloc_calls;   /* realloc (any, including realloc(NULL, n)) */
    uint64_t aligned_calls;   /* posix_memalign, aligned_alloc, memalign, valloc, pvalloc */
    uint64_t free_calls;      /* free of a non-NULL pointer (not an allocation; for context) */
    uint64_t bytes;           /* bytes requested by all allocation calls */
    uint64_t other_threads;   /* allocation calls made on threads other than the first caller of
                                 malloc_count_begin (e.g. OpenBLAS workers) */
};

/* Total allocation calls in a snapshot (malloc + calloc + realloc + aligned). */
static inline uint64_t malloc_counts_total(const struct malloc_counts *c) {
    return c->malloc_calls + c->calloc_calls + c->realloc_calls + c->aligned_calls;
}

/* Copies the counters since process start. */
typedef void (*malloc_count_get_fn)(struct malloc_counts *out);
/* Starts a marked window: the calling thread becomes the "main" thread for other_threads, and
 * the call stack of every allocation in the window is taken and counted (see _report). */
typedef void (*malloc_count_begin_fn)(void);
/* Ends the window; *out receives the counts inside the window. */
typedef void (*malloc_count_end_fn)(struct malloc_counts *out);
/* Prints, to file descriptor fd, the allocations of the last window grouped by distinct call
 * stack (up to 64 stacks): count, kind, bytes, and the frames as "object+0xoffset [symbol]".
 * Uses no heap. */
typedef void (*malloc_count_report_fn)(int fd);

#endif
