// C (m × n) += A (m × k) · Bᵀ, B (n × k): the weight gradient of a convolution with few weights,
// a band of columns at a time, on AVX2 with FMA.
//
// Where it is used: the GEMM path's dW += dy · colsᵀ of the first convolution of an RGB or grey
// image (16 × 27 or 16 × 9 weights) and of the last transposed convolution back to it, over
// thousands of positions per band. OpenBLAS packs both operands for every such call, and with
// so few outputs the packing is as long as the arithmetic: 61 GFLOP/s for 16 × 27 × 4096 on a
// Zen 5 core with its Haswell kernels, against 100–130 for the layers in between.
//
// Here each 4 × 3 block of C is 12 dot products over k, on 12 ymm accumulators: per 8 values of
// k, 4 loads of A, 3 of B and 12 FMAs, reading both operands where they lie (in L2 for a band).
// Edges of m and n take blocks of 1 row or column; the k mod 8 tail is scalar. The sums are in
// a different order from OpenBLAS's, so results differ from it in the last bits.
#include "ckernels.h"
#include "avx2_hsum.h"

#include <immintrin.h>

#pragma clang fp contract(fast)

// C[r0 + i][c0 + j] += Σ_q A[r0 + i][q] · B[c0 + j][q] for i < MR, j < NR.
#define BLOCK(MR, NR)                                                                                \
__attribute__((target("avx2,fma")))                                                                  \
static void block_##MR##x##NR(const float *a, long lda, const float *b, long ldb, long k,            \
                              float *c, long ldc) {                                                  \
    __m256 acc[MR][NR];                                                                              \
    for (int i = 0; i < MR; i++) for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();      \
    long q = 0;                                                                                      \
    for (; q + 8 <= k; q += 8) {                                                                     \
        __m256 bv[NR];                                                                               \
        for (int j = 0; j < NR; j++) bv[j] = _mm256_loadu_ps(b + j * ldb + q);                       \
        for (int i = 0; i < MR; i++) {                                                               \
            const __m256 av = _mm256_loadu_ps(a + i * lda + q);                                      \
            for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);         \
        }                                                                                            \
    }                                                                                                \
    for (int i = 0; i < MR; i++) for (int j = 0; j < NR; j++) {                                      \
        float s = hsum8(acc[i][j]);                                                                   \
        for (long t = q; t < k; t++) s += a[i * lda + t] * b[j * ldb + t];                           \
        c[i * ldc + j] += s;                                                                         \
    }                                                                                                \
}
BLOCK(4, 3)
BLOCK(4, 1)
BLOCK(1, 3)
BLOCK(1, 1)

int ckernels_small_gemm_abt(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                            float *c, long ldc) {
    if (ckernels_cpu_level() < 1) return 0;
    long i = 0;
    for (; i + 4 <= m; i += 4) {
        long j = 0;
        for (; j + 3 <= n; j += 3) block_4x3(a + i * lda, lda, b + j * ldb, ldb, k, c + i * ldc + j, ldc);
        for (; j < n; j++) block_4x1(a + i * lda, lda, b + j * ldb, ldb, k, c + i * ldc + j, ldc);
    }
    for (; i < m; i++) {
        long j = 0;
        for (; j + 3 <= n; j += 3) block_1x3(a + i * lda, lda, b + j * ldb, ldb, k, c + i * ldc + j, ldc);
        for (; j < n; j++) block_1x1(a + i * lda, lda, b + j * ldb, ldb, k, c + i * ldc + j, ldc);
    }
    return 1;
}
