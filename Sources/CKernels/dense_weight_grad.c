// The weight gradient of a dense layer on a batch-minor part (AVX-512):
//
//   dw[o, c] += Σ_l dy[o, l] · x[c, l]      dy (outs × lanes), x (ins × lanes), dw (outs × ins)
//
// Why not OpenBLAS's sgemm (dy · xᵀ, k = lanes): the sum runs over the 16–64 lanes of a part
// only, and on a CPU that OpenBLAS does not know it runs its fallback kernels. Debian 12's
// OpenBLAS takes an Intel Xeon of family 6 model 207 for a Prescott (SSE3): there this product
// was a third of a dense training step. The direct gathers' dot products over lanes would end in
// one horizontal sum per output for 16–64 multiply-adds. So x is transposed first (xᵀ: lanes ×
// ins, into `scratch`), and the tile is an outer product: MR rows of dy broadcast one lane at a
// time against NV vectors of a row of xᵀ, MR × NV accumulators over all lanes, then added to
// dw. The sums run over the lanes in order, so the result is the same on every call.
#include "ckernels.h"
#include "avx512_vectors.h"
#include <immintrin.h>

#pragma clang fp contract(fast)

enum { MR = 6, NV = 4 };   // 24 accumulators + 4 loaded vectors + 1 broadcast of 32 registers

// Rows [o0, o0 + rows) (rows ≤ MR) × columns [c0, c0 + 16·nv) of dw, the last vector `tail`
// columns wide (1–16). Rows past `rows` read row o0 again and are not stored.
#define DW_TILE(NVT)                                                                                \
    TARGET_AVX512 static void tile_##NVT(const float *dy, const float *xt, float *dw, long lanes,  \
                                         long ins, long o0, long rows, long c0, long tail) {        \
        f16 acc[MR][NVT];                                                                           \
        for (int r = 0; r < MR; r++)                                                                \
            for (int v = 0; v < NVT; v++) acc[r][v] = (f16)0.0f;                                    \
        const float *dyr[MR];                                                                       \
        for (int r = 0; r < MR; r++) dyr[r] = dy + (o0 + (r < rows ? r : 0)) * lanes;               \
        const __mmask16 last = (__mmask16)((1u << tail) - 1);                                       \
        for (long l = 0; l < lanes; l++) {                                                          \
            const float *xrow = xt + l * ins + c0;                                                  \
            f16 xv[NVT];                                                                            \
            for (int v = 0; v < NVT; v++) {                                                         \
                const __m512 t = _mm512_maskz_loadu_ps(v == NVT - 1 ? last : (__mmask16)0xffff,    \
                                                       xrow + 16 * v);                              \
                memcpy(&xv[v], &t, sizeof t);                                                       \
            }                                                                                       \
            for (int r = 0; r < MR; r++) {                                                          \
                const float a = dyr[r][l];                                                          \
                for (int v = 0; v < NVT; v++) acc[r][v] += a * xv[v];                               \
            }                                                                                       \
        }                                                                                           \
        for (int r = 0; r < MR && r < rows; r++)                                                    \
            for (int v = 0; v < NVT; v++) {                                                         \
                float *dst = dw + (o0 + r) * ins + c0 + 16 * v;                                     \
                const __mmask16 m = v == NVT - 1 ? last : (__mmask16)0xffff;                        \
                __m512 sum;                                                                         \
                memcpy(&sum, &acc[r][v], sizeof sum);                                               \
                _mm512_mask_storeu_ps(dst, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), sum));   \
            }                                                                                       \
    }

DW_TILE(1) DW_TILE(2) DW_TILE(3) DW_TILE(4)

typedef void (*dw_tile)(const float *, const float *, float *, long, long, long, long, long, long);
static const dw_tile tiles[NV] = { tile_1, tile_2, tile_3, tile_4 };

long ckernels_dense_weight_grad_scratch_floats(long ins, long lanes) { return ins * lanes; }

int ckernels_dense_weight_grad(long outs, long ins, long lanes, const float *dy, const float *x, float *dw,
                               float *scratch) {
    if (ckernels_cpu_level() < 2 || outs <= 0 || ins <= 0 || lanes <= 0) return 0;
    ckernels_transpose(x, ins, lanes, scratch);   // scratch = xᵀ (lanes × ins)
    // Column blocks outermost: a block of xᵀ (lanes × 64 floats, 8 KB at 32 lanes) stays in L1
    // while every row block of dy passes over it.
    for (long c0 = 0; c0 < ins; c0 += 16 * NV) {
        const long width = ins - c0 < 16 * NV ? ins - c0 : 16 * NV;
        const long nv = (width + 15) / 16, tail = width - 16 * (nv - 1);
        for (long o0 = 0; o0 < outs; o0 += MR) {
            const long rows = outs - o0 < MR ? outs - o0 : MR;
            tiles[nv - 1](dy, scratch, dw, lanes, ins, o0, rows, c0, tail);
        }
    }
    return 1;
}
