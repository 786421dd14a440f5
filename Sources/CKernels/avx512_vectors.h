// The AVX-512 vector helpers the direct convolutions share (direct_conv.c, direct_conv_single.c):
// clang vector types, masked loads and stores of a run's last lanes, and the library's ReLU.
// Private to CKernels (not under include/). Every function carries the AVX-512 target itself;
// callers choose them only after CPUID says so.
#ifndef AECV_AVX512_VECTORS_H
#define AECV_AVX512_VECTORS_H

#include <immintrin.h>
#include <string.h>

typedef float f8 __attribute__((ext_vector_type(8)));
typedef float f16 __attribute__((ext_vector_type(16)));

#define TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

// Whole vectors, and the first `count` (at most a vector) lanes of a run by AVX-512 masks: masked-off
// lanes read as 0, are never written, and cannot fault past the end of a buffer.
#define LOAD_WHOLE(VT, p) ({ VT v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE_WHOLE(VT, p, v) do { VT w_ = (v); memcpy((p), &w_, sizeof w_); } while (0)
#define LOAD_PART(VT, p) load_part_##VT((p), tail)
#define STORE_PART(VT, p, v) store_part_##VT((p), (v), tail)

TARGET_AVX512 static inline f8 load_part_f8(const float *p, long count) {
    const __m256 v = _mm256_maskz_loadu_ps((__mmask8)((1u << count) - 1), p);
    f8 r; memcpy(&r, &v, sizeof r); return r;
}
TARGET_AVX512 static inline void store_part_f8(float *p, f8 v, long count) {
    __m256 x; memcpy(&x, &v, sizeof x);
    _mm256_mask_storeu_ps(p, (__mmask8)((1u << count) - 1), x);
}
TARGET_AVX512 static inline f16 load_part_f16(const float *p, long count) {
    const __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << count) - 1), p);
    f16 r; memcpy(&r, &v, sizeof r); return r;
}

// ReLU as the library's reluForward computes it: v ≤ 0 becomes 0, anything else (NaN too) stays.
TARGET_AVX512 static inline f8 relu_f8(f8 v) {
    __m256 x; memcpy(&x, &v, sizeof x);
    x = _mm256_mask_mov_ps(x, _mm256_cmp_ps_mask(x, _mm256_setzero_ps(), _CMP_LE_OQ), _mm256_setzero_ps());
    memcpy(&v, &x, sizeof v); return v;
}
TARGET_AVX512 static inline f16 relu_f16(f16 v) {
    __m512 x; memcpy(&x, &v, sizeof x);
    x = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LE_OQ), _mm512_setzero_ps());
    memcpy(&v, &x, sizeof v); return v;
}

#endif
