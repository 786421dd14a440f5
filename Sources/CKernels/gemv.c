// c[r · ldc] += Σ_i a[r · lda + i] · x[i] for r < m: the matrix-vector product of a dense layer
// on one image (y = b + W·x after the bias fill; W row-major, x contiguous), on AVX2 with FMA.
//
// Why not OpenBLAS's sgemv: its kernel is whatever OpenBLAS chose for the CPU, and a build that
// does not know the CPU falls back far. Debian 12's OpenBLAS 0.3.21 takes an Intel Xeon of family
// 6 model 207 (AVX-512) for a Prescott and runs SSE3 kernels: a one-image dense encode took 62 µs
// there against 16 µs in ONNX Runtime. This kernel needs only AVX2 + FMA (ckernels_cpu_level).
//
// Four rows at a time, each on two ymm accumulators (eight independent chains hide the FMA
// latency): per 16 values of k, 2 loads of x, 8 of W and 8 FMAs. Rows past a multiple of 4 take
// one row at a time; the k mod 16 tail takes one vector, then scalars. Each step prefetches the
// same columns of the next 4 rows: the one-image dense encode (784 → 256 → 64, 0.9 MB of weights
// in L2) went from 24 to 21 µs. A VAE's 2.6 MB does not fit in this Xeon's 2 MB L2 and streams
// from L3 at about 30 GB/s a core whether prefetched or not. The sums are in another
// order than OpenBLAS's, so results differ from it in the last bits.
#include "ckernels.h"
#include "avx2_hsum.h"

#include <immintrin.h>

#pragma clang fp contract(fast)

// c[i · ldc] += a[i] · x for i < MR (rows of a lda apart).
#define ROWS(MR)                                                                                     \
__attribute__((target("avx2,fma")))                                                                  \
static void rows_##MR(const float *a, long lda, const float *x, long k, float *c, long ldc) {        \
    __m256 acc0[MR], acc1[MR];                                                                       \
    for (int i = 0; i < MR; i++) { acc0[i] = _mm256_setzero_ps(); acc1[i] = _mm256_setzero_ps(); }   \
    long q = 0;                                                                                      \
    for (; q + 16 <= k; q += 16) {                                                                   \
        const __m256 x0 = _mm256_loadu_ps(x + q), x1 = _mm256_loadu_ps(x + q + 8);                   \
        for (int i = 0; i < MR; i++) _mm_prefetch((const char *)(a + (i + MR) * lda + q), _MM_HINT_T0); \
        for (int i = 0; i < MR; i++) {                                                               \
            acc0[i] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i * lda + q), x0, acc0[i]);                \
            acc1[i] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i * lda + q + 8), x1, acc1[i]);            \
        }                                                                                            \
    }                                                                                                \
    if (q + 8 <= k) {                                                                                \
        const __m256 x0 = _mm256_loadu_ps(x + q);                                                    \
        for (int i = 0; i < MR; i++)                                                                 \
            acc0[i] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i * lda + q), x0, acc0[i]);                \
        q += 8;                                                                                      \
    }                                                                                                \
    for (int i = 0; i < MR; i++) {                                                                   \
        float s = hsum8(_mm256_add_ps(acc0[i], acc1[i]));                                            \
        for (long t = q; t < k; t++) s += a[i * lda + t] * x[t];                                     \
        c[i * ldc] += s;                                                                             \
    }                                                                                                \
}
ROWS(4)
ROWS(1)

int ckernels_gemv_accumulate(long m, long k, const float *a, long lda, const float *x, float *c, long ldc) {
    if (ckernels_cpu_level() < 1) return 0;
    long r = 0;
    for (; r + 4 <= m; r += 4) rows_4(a + r * lda, lda, x, k, c + r * ldc, ldc);
    for (; r < m; r++) rows_1(a + r * lda, lda, x, k, c + r * ldc, ldc);
    return 1;
}
