/* malloc_count.c -- an LD_PRELOAD shim that counts heap allocation calls (glibc).
 *
 *   cc -O2 -shared -fPIC -o build/bench/malloc_count.so tools/bench/malloc_count.c
 *   LD_PRELOAD=build/bench/malloc_count.so ./build/bench/bench_train --malloc-count ...
 *   MALLOC_COUNT_PRINT=1 LD_PRELOAD=build/bench/malloc_count.so any-program   (totals at exit)
 *
 * It interposes malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc, pvalloc
 * (and free, for context) and forwards them to glibc's own entry points (__libc_malloc, ...). It
 * does NOT use dlsym(RTLD_NEXT, ...) to find the real functions: dlsym itself allocates (calloc
 * for its error state), which would recurse into the shim before the pointer is known.
 *
 * The interface for the program being measured is in malloc_count.h: counters readable through
 * dlsym(RTLD_DEFAULT, "malloc_count_get"), and a marked window (malloc_count_begin/_end) in which
 * every allocation's call stack is taken (backtrace) and the distinct stacks are counted, to be
 * printed by malloc_count_report. The shim never allocates from the heap itself: the stacks are
 * a static table and the report is formatted with snprintf into a stack buffer and written with
 * write(2). Offsets in the report ("libaecv.so.0+0x1234") are file offsets that addr2line -e
 * <the .so> resolves (tools/bench/run_bench.py does, for libaecv's frames).
 *
 * Counts are process-wide (all threads) and updated with relaxed atomics. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "malloc_count.h"

#define EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void __libc_free(void *);

enum { KIND_MALLOC, KIND_CALLOC, KIND_REALLOC, KIND_ALIGNED };
static const char *const kind_names[] = {"malloc", "calloc", "realloc", "aligned"};

static uint64_t counters[4], free_calls, bytes_total, other_total;

/* The window. */
static int window_open;
static pthread_t window_thread;
static uint64_t window_other;            /* allocations on other threads during the window */
static struct malloc_counts window_start;

/* The allocations of a window, grouped by their full call stack (backtrace): up to MAX_TRACES
 * distinct stacks, each with its count and bytes. Guarded by a spin lock (allocations may come
 * from several threads at once). */
#define MAX_TRACES 64
#define TRACE_DEPTH 32
struct trace {
    void *frames[TRACE_DEPTH];
    int depth, kind, other_thread;
    uint64_t calls, bytes;
};
static struct trace traces[MAX_TRACES];
static int trace_count;
static uint64_t untraced;               /* allocations whose stack did not fit in the table */
static int trace_lock;

/* Set while the shim itself runs code that may allocate (backtrace), so those are not counted. */
static __thread int in_shim __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) static void count(int kind, size_t size) {
    if (in_shim) return;
    __atomic_fetch_add(&counters[kind], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&bytes_total, size, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&window_open, __ATOMIC_ACQUIRE)) return;
    int other = !pthread_equal(pthread_self(), window_thread);
    if (other) __atomic_fetch_add(&window_other, 1, __ATOMIC_RELAXED);
    void *frames[TRACE_DEPTH];
    in_shim = 1;
    int depth = backtrace(frames, TRACE_DEPTH);
    in_shim = 0;
    while (__atomic_exchange_n(&trace_lock, 1, __ATOMIC_ACQUIRE)) { }
    int i;
    for (i = 0; i < trace_count; i++) {
        struct trace *t = &traces[i];
        if (t->kind == kind && t->depth == depth && t->other_thread == other &&
            !memcmp(t->frames, frames, (size_t)depth * sizeof(void *)))
            break;
    }
    if (i == trace_count && trace_count < MAX_TRACES) {
        struct trace *t = &traces[trace_count++];
        memcpy(t->frames, frames, (size_t)depth * sizeof(void *));
        t->depth = depth; t->kind = kind; t->other_thread = other; t->calls = 0; t->bytes = 0;
    }
    if (i < trace_count) {
        traces[i].calls++;
        traces[i].bytes += size;
    } else {
        untraced++;
    }
    __atomic_store_n(&trace_lock, 0, __ATOMIC_RELEASE);
}

EXPORT void *malloc(size_t n) {
    count(KIND_MALLOC, n);
    return __libc_malloc(n);
}

EXPORT void *calloc(size_t a, size_t b) {
    count(KIND_CALLOC, a * b);
    return __libc_calloc(a, b);
}

EXPORT void *realloc(void *p, size_t n) {
    count(KIND_REALLOC, n);
    return __libc_realloc(p, n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    count(KIND_ALIGNED, n);
    void *p = __libc_memalign(align, n);
    if (!p && n) return ENOMEM;
    *out = p;
    return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t n) {
    count(KIND_ALIGNED, n);
    return __libc_memalign(align, n);
}

EXPORT void *memalign(size_t align, size_t n) {
    count(KIND_ALIGNED, n);
    return __libc_memalign(align, n);
}

EXPORT void *valloc(size_t n) {
    count(KIND_ALIGNED, n);
    return __libc_valloc(n);
}

EXPORT void *pvalloc(size_t n) {
    count(KIND_ALIGNED, n);
    return __libc_pvalloc(n);
}

EXPORT void free(void *p) {
    if (p && !in_shim) __atomic_fetch_add(&free_calls, 1, __ATOMIC_RELAXED);
    __libc_free(p);
}

/* ------------------------------------------------------------------------------------------ */

EXPORT void malloc_count_get(struct malloc_counts *out) {
    out->malloc_calls = __atomic_load_n(&counters[KIND_MALLOC], __ATOMIC_RELAXED);
    out->calloc_calls = __atomic_load_n(&counters[KIND_CALLOC], __ATOMIC_RELAXED);
    out->realloc_calls = __atomic_load_n(&counters[KIND_REALLOC], __ATOMIC_RELAXED);
    out->aligned_calls = __atomic_load_n(&counters[KIND_ALIGNED], __ATOMIC_RELAXED);
    out->free_calls = __atomic_load_n(&free_calls, __ATOMIC_RELAXED);
    out->bytes = __atomic_load_n(&bytes_total, __ATOMIC_RELAXED);
    out->other_threads = __atomic_load_n(&other_total, __ATOMIC_RELAXED);
}

EXPORT void malloc_count_begin(void) {
    __atomic_store_n(&window_open, 0, __ATOMIC_RELEASE);
    window_thread = pthread_self();
    __atomic_store_n(&window_other, 0, __ATOMIC_RELAXED);
    while (__atomic_exchange_n(&trace_lock, 1, __ATOMIC_ACQUIRE)) { }
    trace_count = 0;
    untraced = 0;
    __atomic_store_n(&trace_lock, 0, __ATOMIC_RELEASE);
    malloc_count_get(&window_start);
    __atomic_store_n(&window_open, 1, __ATOMIC_RELEASE);
}

EXPORT void malloc_count_end(struct malloc_counts *out) {
    struct malloc_counts now;
    malloc_count_get(&now);
    __atomic_store_n(&window_open, 0, __ATOMIC_RELEASE);
    uint64_t other = __atomic_load_n(&window_other, __ATOMIC_RELAXED);
    __atomic_fetch_add(&other_total, other, __ATOMIC_RELAXED);
    out->malloc_calls = now.malloc_calls - window_start.malloc_calls;
    out->calloc_calls = now.calloc_calls - window_start.calloc_calls;
    out->realloc_calls = now.realloc_calls - window_start.realloc_calls;
    out->aligned_calls = now.aligned_calls - window_start.aligned_calls;
    out->free_calls = now.free_calls - window_start.free_calls;
    out->bytes = now.bytes - window_start.bytes;
    out->other_threads = other;
}

/* "libfoo.so.1+0x1234 symbol+0x10" for an address, without the heap. */
static void describe(void *addr, char *buf, size_t cap) {
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!addr || !dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) || !info.dli_fname) {
        snprintf(buf, cap, "%p", addr);
        return;
    }
    const char *name = strrchr(info.dli_fname, '/');
    name = name ? name + 1 : info.dli_fname;
    if (!*name) name = "(main program)";
    uintptr_t off = (uintptr_t)addr - (uintptr_t)info.dli_fbase;
    /* dladdr gives the nearest dynamic symbol below addr; only trust it if addr is inside it. */
    if (info.dli_sname && sym && sym->st_size &&
        (uintptr_t)addr - (uintptr_t)info.dli_saddr < sym->st_size)
        snprintf(buf, cap, "%s+0x%lx %s+0x%lx", name, (unsigned long)off, info.dli_sname,
                 (unsigned long)((uintptr_t)addr - (uintptr_t)info.dli_saddr));
    else
        snprintf(buf, cap, "%s+0x%lx", name, (unsigned long)off);
}

static void put(int fd, const char *s) {
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

EXPORT void malloc_count_report(int fd) {
    in_shim = 1;
    while (__atomic_exchange_n(&trace_lock, 1, __ATOMIC_ACQUIRE)) { }
    char line[640], where[512];
    uint64_t total = untraced;
    for (int i = 0; i < trace_count; i++) total += traces[i].calls;
    snprintf(line, sizeof line, "malloc_count: %llu allocation call(s) in the window, %d distinct "
             "call stack(s)%s\n", (unsigned long long)total, trace_count,
             untraced ? " (the table overflowed: some not shown)" : "");
    put(fd, line);
    for (int i = 0; i < trace_count; i++) {
        const struct trace *t = &traces[i];
        snprintf(line, sizeof line, "  stack %d: %llu x %s, %llu bytes%s\n", i,
                 (unsigned long long)t->calls, kind_names[t->kind], (unsigned long long)t->bytes,
                 t->other_thread ? " (on another thread)" : "");
        put(fd, line);
        /* Frame 0 is count(), frame 1 the interposed function: start at its caller. */
        for (int f = 2; f < t->depth; f++) {
            describe(t->frames[f], where, sizeof where);
            snprintf(line, sizeof line, "    #%d %s\n", f - 2, where);
            put(fd, line);
        }
    }
    __atomic_store_n(&trace_lock, 0, __ATOMIC_RELEASE);
    in_shim = 0;
}

__attribute__((constructor)) static void malloc_count_init(void) {
    /* backtrace() loads libgcc_s's unwinder on its first call, which allocates: do it now,
     * outside any window, and uncounted. */
    void *frames[4];
    in_shim = 1;
    backtrace(frames, 4);
    in_shim = 0;
}

__attribute__((destructor)) static void malloc_count_fini(void) {
    const char *e = getenv("MALLOC_COUNT_PRINT");
    if (!e || !*e || *e == '0') return;
    struct malloc_counts c;
    malloc_count_get(&c);
    char line[256];
    snprintf(line, sizeof line,
             "malloc_count: process total: malloc %llu, calloc %llu, realloc %llu, aligned %llu, "
             "free %llu, %llu bytes requested\n",
             (unsigned long long)c.malloc_calls, (unsigned long long)c.calloc_calls,
             (unsigned long long)c.realloc_calls, (unsigned long long)c.aligned_calls,
             (unsigned long long)c.free_calls, (unsigned long long)c.bytes);
    put(2, line);
}
