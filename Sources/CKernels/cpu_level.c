// What vector kernels this CPU and its OS allow, asked once: the one CPUID test that the direct
// convolutions (direct_conv.c), the sigmoid kernels (sigmoid.c), the small weight-gradient
// products (small_gemm.c) and the one-image dense product (gemv.c) choose their variants by.
#include "ckernels.h"

#include <cpuid.h>

static int detect(void) {
#ifdef CKERNELS_MAX_ISA_AVX2
    const int cap = 1;   // `make lib-avx2`: what an AVX2-only CPU runs, measurable on this one
#else
    const int cap = 2;
#endif
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6) return 0;                                  // XMM and YMM state saved
    // Level 1 is AVX2 with FMA: small_gemm.c's and gemv.c's blocks use both.
    if (!fma || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((b >> 5) & 1)) return 0;   // AVX2
    const int avx512f = (b >> 16) & 1, avx512vl = (b >> 31) & 1;
    if (avx512f && avx512vl && (lo & 0xe0) == 0xe0)                 // opmask and ZMM state saved
        return cap;
    return 1;
}

static int cached = -1;   // -1: not yet; written with the same value by any racer

int ckernels_cpu_level(void) {
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        v = detect();
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}
