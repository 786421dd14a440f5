// dst (cols × rows) = srcᵀ for src (rows × cols): between the caller's example-major (N, features)
// buffers and the library's batch-minor (features, N) layout, at the entry and exit of every
// batched call.
//
// A plain loop stores one float per cache line it touches, and when one side's row is a multiple
// of 4 KB (1024 features, or 64 examples × 16 features...) every line of a 32-wide tile falls in
// the same L1 set: the scalar Swift loop this replaces took 400 µs, 59% of a batch-64 encode of the
// seed's conv model (1024 code floats × 64 examples). Here 8 × 8 blocks are transposed in
// registers (three rounds of shuffles), so each store writes 32 contiguous bytes and each load
// reads them; the blocks go down 8 source rows at a time, which keeps the 8 destination rows of a
// block column warm. Generic vector extensions: AVX where the build allows it, SSE pairs (or NEON)
// otherwise.
#include "ckernels.h"
#include <string.h>

typedef float f8 __attribute__((ext_vector_type(8)));

#define LOAD8(p) ({ f8 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE8(p, v) do { f8 w_ = (v); memcpy((p), &w_, sizeof w_); } while (0)

// out[j] = column order[j] of the 8 × 8 block whose rows are in[0..8): the three rounds leave
// the columns as 0, 2, 1, 3, 4, 6, 5, 7.
static const int order[8] = { 0, 2, 1, 3, 4, 6, 5, 7 };

__attribute__((always_inline)) static inline void transpose8(const f8 in[8], f8 out[8]) {
    f8 a[8], b[8];
    for (int i = 0; i < 8; i += 2) {   // interleave pairs of rows
        a[i] = __builtin_shufflevector(in[i], in[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        a[i + 1] = __builtin_shufflevector(in[i], in[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4)     // then pairs of pairs
        for (int h = 0; h < 2; h++) {
            b[i + h] = __builtin_shufflevector(a[i + h], a[i + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            b[i + h + 2] = __builtin_shufflevector(a[i + h], a[i + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int i = 0; i < 4; i++) {      // then the 128-bit halves
        out[i] = __builtin_shufflevector(b[i], b[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        out[i + 4] = __builtin_shufflevector(b[i], b[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

void ckernels_transpose(const float *src, long rows, long cols, float *dst) {
    const long rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
    for (long c = 0; c < cols8; c += 8) {
        for (long r = 0; r < rows8; r += 8) {
            f8 in[8], out[8];
            for (int i = 0; i < 8; i++) in[i] = LOAD8(src + (r + i) * cols + c);
            transpose8(in, out);
            // out[j] = src[r..r+8, c + order[j]]: destination row c + order[j], columns r..r+8.
            for (int j = 0; j < 8; j++) STORE8(dst + (c + order[j]) * rows + r, out[j]);
        }
        for (long r = rows8; r < rows; r++)
            for (long j = c; j < c + 8; j++) dst[j * rows + r] = src[r * cols + j];
    }
    for (long r = 0; r < rows; r++)
        for (long j = cols8; j < cols; j++) dst[j * rows + r] = src[r * cols + j];
}
