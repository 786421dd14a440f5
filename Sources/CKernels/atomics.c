// C11 atomics for the library's process-wide settings (Swift's stdlib has none that links
// statically on every supported toolchain).
#define _POSIX_C_SOURCE 200809L
#include "ckernels.h"
#include <stdatomic.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

static _Atomic long compute_threads = 0;

long ckernels_load_compute_threads(void) {
    return atomic_load_explicit(&compute_threads, memory_order_acquire);
}

void ckernels_store_compute_threads(long value) {
    atomic_store_explicit(&compute_threads, value, memory_order_release);
}

// The worker pool's mirrors (ckernels.h). Spinning before sleeping matters on virtual machines,
// where waking a thread whose vCPU has gone idle takes tens of microseconds: a batch-64 dense
// encode (about 100 us a part) ran no faster on 2 threads than on 1 because each fork and each
// join waited that long.
static _Atomic long pool_generation = 0, pool_pending = 0, pool_spin_ns = 0;

void ckernels_pool_set_spin(long nanoseconds) {
    atomic_store_explicit(&pool_spin_ns, nanoseconds, memory_order_relaxed);
}

long ckernels_pool_spin(void) {
    return atomic_load_explicit(&pool_spin_ns, memory_order_relaxed);
}

void ckernels_pool_publish(long generation, long pending) {
    atomic_store_explicit(&pool_pending, pending, memory_order_release);
    atomic_store_explicit(&pool_generation, generation, memory_order_release);
}

// Spins while `waiting` holds, for at most `nanoseconds` of the monotonic clock (read every 16
// pause hints: a pause lasts 12 ns on one Xeon and 140 cycles on others, so a count of them is
// no measure of time).
#define SPIN_WHILE(waiting, nanoseconds)                                                            \
    do {                                                                                            \
        struct timespec start_, now_;                                                               \
        clock_gettime(CLOCK_MONOTONIC, &start_);                                                    \
        for (;;) {                                                                                  \
            for (int i_ = 0; i_ < 16; i_++) {                                                       \
                if (!(waiting)) return 1;                                                           \
                cpu_relax();                                                                        \
            }                                                                                       \
            clock_gettime(CLOCK_MONOTONIC, &now_);                                                  \
            if ((now_.tv_sec - start_.tv_sec) * 1000000000L + (now_.tv_nsec - start_.tv_nsec)       \
                >= (nanoseconds))                                                                   \
                return 0;                                                                           \
        }                                                                                           \
    } while (0)

int ckernels_pool_spin_for_generation(long seen, long nanoseconds) {
    SPIN_WHILE(atomic_load_explicit(&pool_generation, memory_order_acquire) == seen, nanoseconds);
}

int ckernels_pool_spin_for_done(long nanoseconds) {
    SPIN_WHILE(atomic_load_explicit(&pool_pending, memory_order_acquire) != 0, nanoseconds);
}

static _Atomic unsigned long pool_claims = 0;
static _Atomic long pool_finished = 0;

void ckernels_pool_open_claims(long generation, long tasks) {
    const unsigned long free_bits = tasks >= 32 ? 0xffffffffUL : (1UL << tasks) - 1;
    atomic_store_explicit(&pool_finished, 0, memory_order_relaxed);
    atomic_store_explicit(&pool_claims, ((unsigned long)generation << 32) | (0xffffffffUL & ~free_bits),
                          memory_order_release);
}

int ckernels_pool_claim(long generation, long part) {
    const unsigned long bit = 1UL << part, tag = (unsigned long)generation << 32;
    unsigned long word = atomic_load_explicit(&pool_claims, memory_order_acquire);
    for (;;) {
        if ((word & ~0xffffffffUL) != tag || (word & bit)) return 0;
        if (atomic_compare_exchange_weak_explicit(&pool_claims, &word, word | bit, memory_order_acq_rel,
                                                  memory_order_acquire))
            return 1;
    }
}

void ckernels_pool_part_finished(void) {
    atomic_fetch_add_explicit(&pool_finished, 1, memory_order_acq_rel);
}

long ckernels_pool_parts_finished(void) {
    return atomic_load_explicit(&pool_finished, memory_order_acquire);
}

int ckernels_pool_spin_for_parts(long count, long nanoseconds) {
    SPIN_WHILE(atomic_load_explicit(&pool_finished, memory_order_acquire) < count, nanoseconds);
}
