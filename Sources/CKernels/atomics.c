// C11 atomics for the library's process-wide settings (Swift's stdlib has none that links
// statically on every supported toolchain).
#include "ckernels.h"
#include <stdatomic.h>

static _Atomic long compute_threads = 0;

long ckernels_load_compute_threads(void) {
    return atomic_load_explicit(&compute_threads, memory_order_acquire);
}

void ckernels_store_compute_threads(long value) {
    atomic_store_explicit(&compute_threads, value, memory_order_release);
}
