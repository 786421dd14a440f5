// The sum of a ymm vector's 8 floats, for the AVX2 dot-product kernels (small_gemm.c, gemv.c).
// Private to CKernels (not under include/); callers use it only after CPUID says AVX2.
#ifndef AECV_AVX2_HSUM_H
#define AECV_AVX2_HSUM_H

#include <immintrin.h>

__attribute__((target("avx2,fma")))
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif
