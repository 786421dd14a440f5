// Direct convolutions on batch-minor buffers, without im2col columns (Im2Col.swift has the
// layout and the GEMM path these replace for batches of 8 or more lanes).
//
// A convolution has an "image" side (the Conv2d input, the ConvTranspose2d output: Ci channels,
// H × W) and a "column" side (the Conv2d output, the ConvTranspose2d input: Co channels,
// OH × OW), and one weight w (Co, Ci, k, k) in both layers. Every pass is one of three sums:
//
//   to_columns:  col[o, oh, ow, n]  = b[o] + Σ_{c,i,j} w[o, c, i, j] · img[c, oh·s − p + i, ow·s − p + j, n]
//   to_image:    img[c, y, x, n]    = b[c] + Σ_{o,i,j} w[o, c, i, j] · col[o, oh, ow, n]
//                                       over (oh, ow) with oh·s − p + i = y, ow·s − p + j = x
//   weight_grad: dw[o, c, i, j]     += Σ_{oh,ow,n} col[o, oh, ow, n] · img[c, oh·s − p + i, ow·s − p + j, n]
//
// Conv2d forward is to_columns, its input gradient to_image; ConvTranspose2d forward is to_image,
// its input gradient to_columns. Both sums are gathers: each output element is written once, by
// one register tile, so there is no col2im scatter and no zeroing pass. b is the layer's bias
// (0 for gradients and bias-free layers), and a ReLU may follow: the epilogue below.
//
// Why this is faster than im2col + sgemm here: in the batch-minor layout the N examples of one
// pixel are contiguous, so a run of input lanes is already the packed "B panel" a GEMM kernel
// wants; the column matrix (k² times the input) is never written or read back. A register tile
// holds MR output channels × NV vectors of lanes; per input channel it loads NV vectors and
// broadcasts MR weights from a packed block (pack_*), MR·NV fused multiply-adds.
//
// The kernels are AVX-512 (F + VL), chosen at run time from CPUID and XGETBV (the OS must save
// the ZMM state). Without it, or below 8 lanes (one image), the caller keeps the GEMM path;
// ckernels_direct_conv_variant says which applies, ckernels_direct_conv_force lets tests run
// both. Lane counts that are not a multiple of the vector end in AVX-512-masked vectors.
// An AVX2 version of the same tiles (6 × 2 vectors in 16 registers) was written and measured on
// a Zen 5 core: 75–100 GFLOP/s against 130–215 for OpenBLAS's AVX2 sgemm on the same products,
// because it is bound by its loads (8 per 12 multiply-adds); it was removed, so AVX2-only CPUs
// keep im2col + sgemm.
#include "ckernels.h"
#include "conv_range.h"
#include "conv_taps.h"
#include "avx512_vectors.h"
#include <immintrin.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#pragma clang fp contract(fast)

// A gather's epilogue: what happens to a finished sum v of output row r before it is stored.
//   v += bias[r] (bias non-null);  v = relu(v) (relu).
// The bias and the ReLU save the passes that would otherwise fill the output with the bias
// before the gather (and read it back to add) and apply the activation after it (a read and a
// write of the whole output each: 5–10% of a training step at 256 px).
typedef struct { const float *bias; int relu; } epilogue;

// The empty sum (no tap reaches the pixel): the epilogue applied to 0, for `outs` rows.
static void store_empty(float *out, long outs, long out_stride, long n, const epilogue *e) {
    for (long r = 0; r < outs; r++) {
        float *dst = out + r * out_stride;
        const float b = e->bias ? e->bias[r] : 0.0f;
        const float v = e->relu && b <= 0.0f ? 0.0f : b;
        for (long i = 0; i < n; i++) dst[i] = v;
    }
}

// ---------------------------------------------------------------------------------------------
// Variant selection

static int forced_variant = -1;    // -1: automatic

int ckernels_direct_conv_detected(void) {
    return ckernels_cpu_level() == 2 ? CKERNELS_CONV_AVX512 : CKERNELS_CONV_GEMM;
}

int ckernels_direct_conv_force(int variant) {
    const int detected = ckernels_direct_conv_detected();
    if (variant != -1 && variant != CKERNELS_CONV_GEMM && variant != detected) return 0;
    __atomic_store_n(&forced_variant, variant, __ATOMIC_RELAXED);
    return 1;
}

int ckernels_direct_conv_active(void) {
    const int v = __atomic_load_n(&forced_variant, __ATOMIC_RELAXED);
    return v < 0 ? ckernels_direct_conv_detected() : v;
}

int ckernels_direct_conv_variant(const ckernels_conv_shape *s) {
    const int v = ckernels_direct_conv_active();
    if (v == CKERNELS_CONV_GEMM) return v;
    // Below 8 lanes most of every vector would be masked off; the tap lists live on the stack
    // (k ≤ 8: 64 taps).
    if (s->lanes < 8 || s->kernel > 8) return CKERNELS_CONV_GEMM;
    return v;
}

// ---------------------------------------------------------------------------------------------
// Software prefetch for to_columns gathers whose source comes from DRAM.
//
// Per output pixel a gather reads k² taps × `ins` channels, each channel a plane of its own, so
// a 16 → 32 layer at 128² follows 3 rows × 16 planes = 48 streams at once: more than the
// hardware prefetchers track. When the source does not stay in the last-level cache the gather
// then waits on DRAM for every new column: 89 GFLOP/s on a Zen 5 core where the same layer on a
// source that fits runs at 210. Prefetching the columns that the next pixel adds (taps j ≥ k − s;
// the others it shares with this one) lifts that layer to 110–160 GFLOP/s, and the seed model's
// training step at 3×256², batch 32, 2 threads, from 353 to 377 img/s. On a source in cache the
// prefetches are pure overhead (5–8% slower per layer), hence the size test: a source larger
// than a quarter of the L3 (which all cores share, and which also holds the output) is taken to
// come from DRAM.

enum { PREFETCH_PIXELS = 1 };

static long prefetch_bytes = 0;   // 0: not yet known; any racer stores the same value

// The L3 size the kernel reports for CPU 0 (sysfs, "32768K"), or 0. Not sysconf: glibc asks CPUID,
// which in a VM on an EPYC host answered 384 MB (the host's) where sysfs and lscpu say 32 MB.
static long l3_bytes(void) {
    char path[64], text[32];
    for (int index = 0; index < 8; index++) {
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", index);
        FILE *f = fopen(path, "r");
        if (!f) return 0;
        const int level = fgets(text, sizeof text, f) ? atoi(text) : 0;
        fclose(f);
        if (level != 3) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
        if (!(f = fopen(path, "r"))) return 0;
        long size = 0;
        char unit = 0;
        if (fscanf(f, "%ld%c", &size, &unit) < 1) size = 0;
        fclose(f);
        return unit == 'K' ? size << 10 : unit == 'M' ? size << 20 : size;
    }
    return 0;
}

static long prefetch_threshold(void) {
    long t = __atomic_load_n(&prefetch_bytes, __ATOMIC_RELAXED);
    if (t == 0) {
        const long l3 = l3_bytes();
        t = l3 > 0 ? l3 / 4 : 8L << 20;
        __atomic_store_n(&prefetch_bytes, t, __ATOMIC_RELAXED);
    }
    return t;
}

void ckernels_direct_conv_set_prefetch_bytes(long bytes) {
    __atomic_store_n(&prefetch_bytes, bytes, __ATOMIC_RELAXED);
}

int ckernels_direct_conv_prefetches(const ckernels_conv_shape *s) {
    const long source = s->image_channels * s->height * s->width * s->lanes;
    return source * (long)sizeof(float) > prefetch_threshold();
}

// Prefetches the source columns new at output pixel x (to_columns) for the nr valid tap rows si.
static inline void prefetch_new_columns(const float *in, long x, int nr, const long *si, long s, long p,
                                        long k, long src_w, long n, long ins, long in_stride) {
    for (long j = k > s ? k - s : 0; j < k; j++) {
        const long col = x * s - p + j;
        if (col < 0 || col >= src_w) continue;
        for (int a = 0; a < nr; a++) {
            const float *pixel = in + (si[a] * src_w + col) * n;
            for (long c = 0; c < ins; c++, pixel += in_stride)
                for (long l = 0; l < n; l += 16) __builtin_prefetch(pixel + l, 0, 3);
        }
    }
}

enum { PACK_ROWS = 16 };   // the height of a packed weight block (the tile's MR)

long ckernels_direct_conv_pack_floats(const ckernels_conv_shape *s) {
    const long a = padded(s->column_channels, PACK_ROWS) * s->image_channels;
    const long b = padded(s->image_channels, PACK_ROWS) * s->column_channels;
    return (a > b ? a : b) * s->kernel * s->kernel;
}

// ---------------------------------------------------------------------------------------------
// The gather tile: MR output channels × NV vectors of VL lanes, accumulated over the taps and
// the input channels, then stored to `rows` valid output rows.

#define GATHER_TILE(VT, VL, MR, NV, LOAD, STORE)                                                    \
    TILE(VT, MR, NV, ablock + r0, 1, mrp, VL, opix + r0 * out_stride, VL, rows - r0,                 \
         ep->bias ? ep->bias + ob * mrp + r0 : NULL, LOAD, STORE)

// The one tile loop. acc[r][q] = Σ_t Σ_c A[t][c][r] · in[off[t] + c·in_stride + q·QIN + n0] for
// r < MR, q < Q, with A[t][c][r] = APTR[(t·ins + c)·ASTRIDE + r·RSTRIDE] (RSTRIDE 1 for a packed
// block; a dense layer's weight read where it lies has another, dense_gather); then stored at
// OUT + r·out_stride + q·QOUT + n0 for r < VALID, through the epilogue `ep`
// (BIAS: the bias of the tile's row 0, or NULL). A 16-row tile takes its Q vectors from one
// pixel (QIN = QOUT = the vector width), a narrow one from Q pixels.
#define TILE(VT, MR, Q, APTR, RSTRIDE, ASTRIDE, QIN, OUT, QOUT, VALID, BIAS, LOAD, STORE)           \
    do {                                                                                            \
        VT acc[MR][Q];                                                                              \
        for (int r = 0; r < MR; r++)                                                                \
            for (int q = 0; q < Q; q++) acc[r][q] = (VT)0.0f;                                       \
        for (int t = 0; t < ntaps; t++) {                                                           \
            const float *ap = (APTR) + (long)tix[t] * ins * (ASTRIDE);                              \
            const float *bp = in + off[t] + n0;                                                     \
            for (long c = 0; c < ins; c++) {                                                        \
                VT bv[Q];                                                                           \
                for (int q = 0; q < Q; q++) bv[q] = LOAD(VT, bp + q * (QIN));                       \
                for (int r = 0; r < MR; r++) {                                                      \
                    const float a = ap[r * (RSTRIDE)];                                              \
                    for (int q = 0; q < Q; q++) acc[r][q] += a * bv[q];                             \
                }                                                                                   \
                ap += (ASTRIDE);                                                                    \
                bp += in_stride;                                                                    \
            }                                                                                       \
        }                                                                                           \
        const long valid_ = (VALID);                                                                \
        const float *bias_ = (BIAS);                                                                \
        for (int r = 0; r < MR && r < valid_; r++)                                                  \
            for (int q = 0; q < Q; q++) {                                                           \
                float *dst = (OUT) + r * out_stride + q * (QOUT) + n0;                              \
                VT value = acc[r][q];                                                               \
                if (bias_) value += bias_[r];                                                       \
                if (ep->relu) value = relu_##VT(value);                                             \
                STORE(VT, dst, value);                                                              \
            }                                                                                       \
    } while (0)

// Runs its arguments once per packed block of MRP output channels of the current pixel, with
// that block's weights (ablock), valid rows (rows) and output (opix) in scope.
#define FOR_EACH_BLOCK(...)                                                                         \
    for (long ob = 0; ob < blocks; ob++) {                                                          \
        const float *ablock = packed + ob * taps * ins * mrp;                                       \
        const long rows = outs - ob * mrp;                                                          \
        float *opix = opix_all + ob * mrp * out_stride;                                             \
        __VA_ARGS__                                                                                 \
    }

// One gather over every output pixel. `to_image` picks the direction; the tile shapes per lane
// chunk are the variant's (WIDE: NV vectors of VL lanes with MR_WIDE rows; NARROW: one vector
// with MRP rows; HALF: one 8-lane vector with MRP rows).
#define GATHER_DRIVER(NAME, TARGET, VT, VL, MRP, MR_WIDE, NV_WIDE)                                  \
    __attribute__((target(TARGET)))                                                                 \
    static void NAME(const ckernels_conv_shape *s, const float *in, const float *packed,            \
                     float *out, int to_image, const epilogue *ep) {                                \
        const long k = s->kernel, taps = k * k, n = s->lanes;                                       \
        const long mrp = MRP;                                                                       \
        /* Output and input sides of this gather. */                                                \
        const long outs = to_image ? s->image_channels : s->column_channels;                        \
        const long ins = to_image ? s->column_channels : s->image_channels;                         \
        const long oh_count = to_image ? s->height : s->column_height;                              \
        const long ow_count = to_image ? s->width : s->column_width;                                \
        const long src_w = to_image ? s->column_width : s->width;                                   \
        const long src_h = to_image ? s->column_height : s->height;                                 \
        const long in_stride = src_h * src_w * n;                                                   \
        const long out_stride = oh_count * ow_count * n;                                            \
        const long blocks = (outs + mrp - 1) / mrp;                                                 \
        int ti[8], tj[8], tix[64];                                                                  \
        long si[8], sj[8], off[64];                                                                 \
        const int prefetching = !to_image && ckernels_direct_conv_prefetches(s);                     \
        /* Pixel-major, output blocks innermost: a pixel's k² × ins source vectors are read by      \
           every block while they are in L1 (block-major loops streamed whole planes once per       \
           block, from DRAM at 128² and batch 64). */                                               \
        for (long y = 0; y < oh_count; y++) {                                                       \
            const int nr = to_image ? row_taps_to_image(y, s->stride, s->padding, k, src_h, ti, si) \
                                    : row_taps_to_columns(y, s->stride, s->padding, k, src_h, ti, si); \
            for (long x = 0; x < ow_count; x++) {                                                   \
                const int nc = to_image ? row_taps_to_image(x, s->stride, s->padding, k, src_w, tj, sj) \
                                        : row_taps_to_columns(x, s->stride, s->padding, k, src_w, tj, sj); \
                const int ntaps = pixel_taps(nr, ti, si, nc, tj, sj, k, src_w, n, tix, off);        \
                float *opix_all = out + (y * ow_count + x) * n;                                     \
                if (ntaps == 0) {                                                                   \
                    /* No tap reaches this pixel (stride > kernel): the sum is empty. */            \
                    store_empty(opix_all, outs, out_stride, n, ep);                                 \
                    continue;                                                                       \
                }                                                                                   \
                if (prefetching && x + PREFETCH_PIXELS < ow_count)                                  \
                    prefetch_new_columns(in, x + PREFETCH_PIXELS, nr, si, s->stride, s->padding, k, \
                                         src_w, n, ins, in_stride);                                  \
                long n0 = 0;                                                                        \
                for (; n0 + NV_WIDE * VL <= n; n0 += NV_WIDE * VL)                                  \
                    FOR_EACH_BLOCK(for (long r0 = 0; r0 < mrp && r0 < rows; r0 += MR_WIDE)          \
                                       GATHER_TILE(VT, VL, MR_WIDE, NV_WIDE, LOAD_WHOLE, STORE_WHOLE);) \
                for (; n0 + VL <= n; n0 += VL)                                                      \
                    FOR_EACH_BLOCK(const long r0 = 0;                                               \
                                   GATHER_TILE(VT, VL, MRP, 1, LOAD_WHOLE, STORE_WHOLE);)           \
                for (; n0 + 8 <= n; n0 += 8)                                                        \
                    FOR_EACH_BLOCK(const long r0 = 0;                                               \
                                   GATHER_TILE(f8, 8, MRP, 1, LOAD_WHOLE, STORE_WHOLE);)            \
                if (n0 < n) {                                                                       \
                    const long tail = n - n0;   /* 1 to 7 lanes */                                  \
                    FOR_EACH_BLOCK(const long r0 = 0;                                               \
                                   GATHER_TILE(f8, 8, MRP, 1, LOAD_PART, STORE_PART);)              \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

// 32 registers. 32 lanes: 8 rows × 2 vectors (16 accumulators); 16 lanes: 16 rows × 1; an
// 8-lane tail: 16 rows × one 8-lane vector.
GATHER_DRIVER(gather_avx512, "avx512f,avx512vl,avx2,fma", f16, 16, PACK_ROWS, 8, 2)

// ---------------------------------------------------------------------------------------------
// to_columns with 1 to 4 output channels (a grey or RGB last layer). A 16-row tile would be
// mostly padding there, so the tile is all MR rows × P output pixels of one row × one vector of
// lanes: inside the image, pixels x … x+P−1 read the same taps, P·s·n floats apart.

#define SMALL_TILE(MR, P, VT, VL, LOAD, STORE)                                                      \
    TILE(VT, MR, P, packed, 1, MR, step, opix, out_step, MR, ep->bias, LOAD, STORE)

// The pixels [x, x + P) (P = 1 at the borders) in lane chunks of 16, 8 and a masked rest.
#define SMALL_PIXELS(MR, P)                                                                         \
    do {                                                                                            \
        long n0 = 0;                                                                                \
        for (; n0 + 16 <= n; n0 += 16) SMALL_TILE(MR, P, f16, 16, LOAD_WHOLE, STORE_WHOLE);         \
        for (; n0 + 8 <= n; n0 += 8) SMALL_TILE(MR, P, f8, 8, LOAD_WHOLE, STORE_WHOLE);             \
        if (n0 < n) { const long tail = n - n0; SMALL_TILE(MR, P, f8, 8, LOAD_PART, STORE_PART); }  \
    } while (0)

// One step of a narrow gather at pixel x: the P pixels PIX_STEP apart from x on when WIDE (they
// read the same taps), else x alone, or its empty sum when no tap reaches it.
#define SMALL_STEP(MR, P, WIDE, PIX_STEP)                                                           \
    if (WIDE) {                                                                                     \
        SMALL_PIXELS(MR, P);                                                                        \
        x += P * (PIX_STEP);                                                                        \
    } else {                                                                                        \
        if (ntaps == 0) {                                                                           \
            store_empty(opix, MR, out_stride, n, ep);                                               \
        } else {                                                                                    \
            SMALL_PIXELS(MR, 1);                                                                    \
        }                                                                                           \
        x += (PIX_STEP);                                                                            \
    }

#define SMALL_GATHER(NAME, MR, P)                                                                   \
    TARGET_AVX512 static void NAME(const ckernels_conv_shape *s, const float *in, const float *packed, \
                                   float *out, const epilogue *ep) {                                \
        const long k = s->kernel, n = s->lanes, ins = s->image_channels;                            \
        const long ow_count = s->column_width, src_w = s->width;                                    \
        const long in_stride = s->height * src_w * n;                                               \
        const long out_stride = s->column_height * ow_count * n;                                    \
        const long step = s->stride * n;     /* source offset from one output pixel to the next */  \
        const long out_step = n;             /* and the output offset */                            \
        int ti[8], tj[8], tix[64];                                                                  \
        long si[8], sj[8], off[64];                                                                 \
        for (long y = 0; y < s->column_height; y++) {                                               \
            const int nr = row_taps_to_columns(y, s->stride, s->padding, k, s->height, ti, si);     \
            long x = 0;                                                                             \
            while (x < ow_count) {                                                                  \
                const int nc = row_taps_to_columns(x, s->stride, s->padding, k, src_w, tj, sj);     \
                const int ntaps = pixel_taps(nr, ti, si, nc, tj, sj, k, src_w, n, tix, off);        \
                float *opix = out + (y * ow_count + x) * n;                                         \
                /* P pixels share these taps when all k columns of the first and of the last        \
                   are inside the image. */                                                         \
                const long last = x + P - 1;                                                        \
                const int wide = nc == k && last < ow_count && x * s->stride - s->padding >= 0      \
                                 && last * s->stride - s->padding + k <= src_w;                     \
                SMALL_STEP(MR, P, wide, 1)                                                          \
            }                                                                                       \
        }                                                                                           \
    }

// MR × P accumulators: 8, 16, 18, 20 (with P loaded vectors, within 32 registers).
SMALL_GATHER(small_gather_1, 1, 8)
SMALL_GATHER(small_gather_2, 2, 8)
SMALL_GATHER(small_gather_3, 3, 6)
SMALL_GATHER(small_gather_4, 4, 5)

// ---------------------------------------------------------------------------------------------
// to_image with 1 to 4 image channels: a ConvTranspose2d to grey or RGB, the decoder's last
// layer at full resolution (it took im2col-free sgemm + col2im: 4–5% of a training step at 128
// and 256 px). The same narrow tiles, over P pixels of one phase of the stride (x, x + s, …),
// which read the same taps one source pixel (n floats) apart; pixels near the borders, where
// taps drop out, one at a time.

#define SMALL_TO_IMAGE(NAME, MR, P)                                                                 \
    TARGET_AVX512 static void NAME(const ckernels_conv_shape *s, const float *in, const float *packed, \
                                   float *out, const epilogue *ep) {                                \
        const long k = s->kernel, n = s->lanes, ins = s->column_channels;                          \
        const long ow_count = s->width, src_w = s->column_width;                                    \
        const long in_stride = s->column_height * src_w * n;                                        \
        const long out_stride = s->height * ow_count * n;                                           \
        const long step = n;                     /* source offset between pixels of a phase */      \
        const long out_step = s->stride * n;     /* and their output offset */                      \
        int ti[8], tj[8], tix[64];                                                                  \
        long si[8], sj[8], off[64];                                                                 \
        for (long y = 0; y < s->height; y++) {                                                      \
            const int nr = row_taps_to_image(y, s->stride, s->padding, k, s->column_height, ti, si); \
            for (long phase = 0; phase < s->stride && phase < ow_count; phase++) {                  \
                long x = phase;                                                                     \
                while (x < ow_count) {                                                              \
                    const int nc = row_taps_to_image(x, s->stride, s->padding, k, src_w, tj, sj);    \
                    const int ntaps = pixel_taps(nr, ti, si, nc, tj, sj, k, src_w, n, tix, off);    \
                    float *opix = out + (y * ow_count + x) * n;                                     \
                    const long last = x + (P - 1) * s->stride;                                      \
                    const int wide = ntaps > 0 && last < ow_count && same_image_taps(last, s->stride, s->padding, k, src_w, nc, tj); \
                    SMALL_STEP(MR, P, wide, s->stride)                                              \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

SMALL_TO_IMAGE(small_to_image_1, 1, 8)
SMALL_TO_IMAGE(small_to_image_2, 2, 8)
SMALL_TO_IMAGE(small_to_image_3, 3, 6)
SMALL_TO_IMAGE(small_to_image_4, 4, 5)

// ---------------------------------------------------------------------------------------------
// A dense layer: a 1×1 convolution of 1×1 images. Its weight is used once per call, so packing
// it (the transpose of the whole matrix, done again by every thread of a batch split: 16% of a
// batch-64 dense encode) does not pay back. The tiles read the weight where it lies instead:
//   to_columns (y = W·x):  row r of block ob, input c:  w[(ob·16 + r)·ins + c]  (RSTRIDE ins, ASTRIDE 1)
//   to_image (dx = Wᵀ·dy): row r of block ob, input o:  w[o·outs + ob·16 + r]   (RSTRIDE 1, ASTRIDE outs)
// In to_columns a step's 16 weights are 16 cache lines, each used by 16 steps in a row, so they
// stay in L1 as the packed block would. Only a last block of fewer than 16 rows is packed (its
// missing rows zero), so that no tile reads past the weight.

static int is_dense(const ckernels_conv_shape *s) {
    return s->kernel == 1 && s->stride == 1 && s->padding == 0 && s->height == 1 && s->width == 1
        && s->column_height == 1 && s->column_width == 1;
}

#define DENSE_TILE(VT, VL, MR, NV, LOAD, STORE)                                                     \
    TILE(VT, MR, NV, ablock + r0 * rs, rs, as, VL, out + (ob * PACK_ROWS + r0) * n, VL, rows - r0,  \
         ep->bias ? ep->bias + ob * PACK_ROWS + r0 : NULL, LOAD, STORE)

// Runs its arguments once per block of 16 output rows, with the block's weights (ablock, rs, as)
// and valid rows (rows) in scope.
#define FOR_EACH_DENSE_BLOCK(...)                                                                   \
    for (long ob = 0; ob < blocks; ob++) {                                                          \
        const int whole_ = ob < whole;                                                              \
        const float *ablock = whole_ ? w + ob * PACK_ROWS * (to_image ? 1 : ins) : pack;            \
        const long rs = whole_ ? (to_image ? 1 : ins) : 1;                                          \
        const long as = whole_ ? (to_image ? outs : 1) : PACK_ROWS;                                 \
        const long rows = outs - ob * PACK_ROWS;                                                    \
        __VA_ARGS__                                                                                 \
    }

TARGET_AVX512 static void dense_gather(const ckernels_conv_shape *s, const float *in, const float *w,
                                       float *out, int to_image, const epilogue *ep, float *pack) {
    const long n = s->lanes, in_stride = n, out_stride = n;
    const long outs = to_image ? s->image_channels : s->column_channels;
    const long ins = to_image ? s->column_channels : s->image_channels;
    const long whole = outs / PACK_ROWS, blocks = (outs + PACK_ROWS - 1) / PACK_ROWS;
    const int ntaps = 1, tix[1] = { 0 };
    const long off[1] = { 0 };
    if (whole < blocks) {
        // packed[c][r] = weight(row whole·16 + r, input c), 0 past outs
        const long base = whole * PACK_ROWS;
        for (long c = 0; c < ins; c++)
            for (long r = 0; r < PACK_ROWS; r++)
                pack[c * PACK_ROWS + r] = base + r >= outs ? 0.0f
                    : to_image ? w[c * outs + base + r] : w[(base + r) * ins + c];
    }
    long n0 = 0;
    for (; n0 + 32 <= n; n0 += 32)
        FOR_EACH_DENSE_BLOCK(for (long r0 = 0; r0 < PACK_ROWS && r0 < rows; r0 += 8)
                                 DENSE_TILE(f16, 16, 8, 2, LOAD_WHOLE, STORE_WHOLE);)
    for (; n0 + 16 <= n; n0 += 16)
        FOR_EACH_DENSE_BLOCK(const long r0 = 0; DENSE_TILE(f16, 16, PACK_ROWS, 1, LOAD_WHOLE, STORE_WHOLE);)
    for (; n0 + 8 <= n; n0 += 8)
        FOR_EACH_DENSE_BLOCK(const long r0 = 0; DENSE_TILE(f8, 8, PACK_ROWS, 1, LOAD_WHOLE, STORE_WHOLE);)
    if (n0 < n) {
        const long tail = n - n0;   /* 1 to 7 lanes */
        FOR_EACH_DENSE_BLOCK(const long r0 = 0; DENSE_TILE(f8, 8, PACK_ROWS, 1, LOAD_PART, STORE_PART);)
    }
}

static void gather(const ckernels_conv_shape *s, const float *in, const float *w, float *out,
                   int to_image, const epilogue *ep, float *pack) {
    const int variant = ckernels_direct_conv_variant(s);
    const long taps = s->kernel * s->kernel;
    const long outs = to_image ? s->image_channels : s->column_channels;
    const long ins = to_image ? s->column_channels : s->image_channels;
    if (variant != CKERNELS_CONV_AVX512) return;
    if (outs <= 4) {
        pack_weights(w, outs, ins, taps, to_image, outs, pack);   // one block of exactly `outs` rows
        switch (outs + (to_image ? 4 : 0)) {
        case 1: small_gather_1(s, in, pack, out, ep); break;
        case 2: small_gather_2(s, in, pack, out, ep); break;
        case 3: small_gather_3(s, in, pack, out, ep); break;
        case 4: small_gather_4(s, in, pack, out, ep); break;
        case 5: small_to_image_1(s, in, pack, out, ep); break;
        case 6: small_to_image_2(s, in, pack, out, ep); break;
        case 7: small_to_image_3(s, in, pack, out, ep); break;
        default: small_to_image_4(s, in, pack, out, ep); break;
        }
        return;
    }
    if (is_dense(s)) {
        dense_gather(s, in, w, out, to_image, ep, pack);
        return;
    }
    pack_weights(w, outs, ins, taps, to_image, PACK_ROWS, pack);
    gather_avx512(s, in, pack, out, to_image, ep);
}

void ckernels_conv_to_columns(const ckernels_conv_shape *s, const float *image, const float *w,
                              float *columns,
                              const float *bias, int relu, float *pack) {
    const epilogue e = { bias, relu };
    gather(s, image, w, columns, 0, &e, pack);
}

void ckernels_conv_to_image(const ckernels_conv_shape *s, const float *columns, const float *w,
                            float *image,
                            const float *bias, int relu, float *pack) {
    const epilogue e = { bias, relu };
    gather(s, columns, w, image, 1, &e, pack);
}

// ---------------------------------------------------------------------------------------------
// Weight gradient: for each tap (i, j), a BO × BI block of dot products over the column
// positions that tap reaches and their lanes. Channel blocks past the end read the last valid
// channel again (so every load stays in the buffers) and are not stored.

// The lane sums of 16 accumulators, sums[q] = Σ_l v[q][l], by a tree of shuffles and adds (15
// vector adds for 16 lanes) instead of 16 scalar loops: per block and tap those loops cost a third
// as much as the block's multiply-adds.
TARGET_AVX512 static inline void lane_sums_16(const f16 *v, float *sums) {
    f16 t[8], w[4], x[2];
    for (int q = 0; q < 8; q++)   // groups of 8 lanes: v[2q], v[2q+1]
        t[q] = __builtin_shufflevector(v[2 * q], v[2 * q + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
             + __builtin_shufflevector(v[2 * q], v[2 * q + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    for (int q = 0; q < 4; q++)   // groups of 4: v[4q .. 4q+3]
        w[q] = __builtin_shufflevector(t[2 * q], t[2 * q + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
             + __builtin_shufflevector(t[2 * q], t[2 * q + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    for (int q = 0; q < 2; q++)   // groups of 2: v[8q .. 8q+7]
        x[q] = __builtin_shufflevector(w[2 * q], w[2 * q + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29)
             + __builtin_shufflevector(w[2 * q], w[2 * q + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
    const f16 all = __builtin_shufflevector(x[0], x[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
                  + __builtin_shufflevector(x[0], x[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    memcpy(sums, &all, sizeof all);
}

#define DOT_STEP(VT, LOAD)                                                                          \
    do {                                                                                            \
        VT cv[BO], iv[BI];                                                                          \
        for (int a = 0; a < BO; a++) cv[a] = LOAD(VT, cb[a] + coff + n0);                           \
        for (int b = 0; b < BI; b++) iv[b] = LOAD(VT, ib[b] + ioff + n0);                           \
        for (int a = 0; a < BO; a++)                                                                \
            for (int b = 0; b < BI; b++) accv[a][b] += cv[a] * iv[b];                               \
    } while (0)

// Whole vectors of a run, then (with TAIL) its last run % VL lanes masked (zeros add nothing).
// TAIL is a constant: the lanes-multiple-of-16 kernel has no per-pixel tail test, which cost
// 10-15% there.
#define DOT_TILE(VT, VL, TAIL)                                                                      \
    for (; n0 + VL <= run; n0 += VL) DOT_STEP(VT, LOAD_WHOLE);                                      \
    if (TAIL && n0 < run) { const long tail = run - n0; DOT_STEP(VT, LOAD_PART); }

// Column positions are taken in blocks of about WGRAD_BLOCK floats per channel: whole rows
// while they are shorter, else pieces of one row. The BO + BI channels' rows of one block stay in
// L1/L2 while all k² taps read them (tap-major loops streamed whole planes once per tap and block
// pair, and ran from L3 at half the speed). Pieces of long rows (128 positions × 16 lanes at
// 256² input) keep a block's source in L1 for all of its channel blocks: the 3 → 16 first layer's
// gradient went from about 90 to 100–110 GFLOP/s, the 16 → 32 one at 128² from 165 to 170–190.
enum { WGRAD_BLOCK = 512 };

#define WEIGHT_GRAD(NAME, TARGET, VT, VL, BO_, BI_, TAIL)                                           \
    __attribute__((target(TARGET)))                                                                 \
    static void NAME(const ckernels_conv_shape *s, const float *col, const float *img, float *dw) { \
        enum { BO = BO_, BI = BI_ };                                                                \
        _Static_assert(BO_ * BI_ == 16, "lane_sums_* reduce exactly 16 accumulators");              \
        const long k = s->kernel, taps = k * k, n = s->lanes;                                       \
        const long co = s->column_channels, ci = s->image_channels;                                 \
        const long col_stride = s->column_height * s->column_width * n;                             \
        const long img_stride = s->height * s->width * n;                                           \
        long block_rows = WGRAD_BLOCK / (s->column_width * n);                                      \
        if (block_rows < 1) block_rows = 1;                                                         \
        long block_cols = block_rows > 1 ? s->column_width : WGRAD_BLOCK / n;                       \
        if (block_cols < 1) block_cols = 1;                                                         \
        for (long yb = 0; yb < s->column_height; yb += block_rows)                                  \
        for (long xb = 0; xb < s->column_width; xb += block_cols) {                                 \
            const long yb_end = yb + block_rows < s->column_height ? yb + block_rows : s->column_height; \
            const long xb_end = xb + block_cols < s->column_width ? xb + block_cols : s->column_width; \
            for (long o0 = 0; o0 < co; o0 += BO)                                                    \
                for (long c0 = 0; c0 < ci; c0 += BI) {                                              \
                    const float *cb[BO], *ib[BI];                                                   \
                    for (int a = 0; a < BO; a++)                                                    \
                        cb[a] = col + (o0 + a < co ? o0 + a : co - 1) * col_stride;                 \
                    for (int b = 0; b < BI; b++)                                                    \
                        ib[b] = img + (c0 + b < ci ? c0 + b : ci - 1) * img_stride;                 \
                    for (long i = 0; i < k; i++) {                                                  \
                        long ylo, yhi;                                                              \
                        valid_range(i, s->stride, s->padding, s->height, s->column_height, &ylo, &yhi); \
                        if (ylo < yb) ylo = yb;                                                     \
                        if (yhi > yb_end) yhi = yb_end;                                             \
                        if (ylo >= yhi) continue;                                                   \
                        for (long j = 0; j < k; j++) {                                              \
                            long xlo, xhi;                                                          \
                            valid_range(j, s->stride, s->padding, s->width, s->column_width, &xlo, &xhi); \
                            if (xlo < xb) xlo = xb;                                                 \
                            if (xhi > xb_end) xhi = xb_end;                                         \
                            if (xlo >= xhi) continue;                                               \
                            VT accv[BO][BI];                                                        \
                            for (int a = 0; a < BO; a++)                                            \
                                for (int b = 0; b < BI; b++) accv[a][b] = (VT)0.0f;                 \
                            /* With stride 1 a row of positions and its image row are one           \
                               contiguous run of (xhi − xlo)·n floats on both sides. */             \
                            const long run = s->stride == 1 ? (xhi - xlo) * n : n;                  \
                            const long xend = s->stride == 1 ? xlo + 1 : xhi;                       \
                            for (long y = ylo; y < yhi; y++) {                                      \
                                const long iy = y * s->stride - s->padding + i;                     \
                                for (long x = xlo; x < xend; x++) {                                 \
                                    const long ix = x * s->stride - s->padding + j;                 \
                                    const long coff = (y * s->column_width + x) * n;                \
                                    const long ioff = (iy * s->width + ix) * n;                     \
                                    long n0 = 0;                                                    \
                                    DOT_TILE(VT, VL, TAIL)                                          \
                                }                                                                   \
                            }                                                                       \
                            float sums[BO * BI];                                                    \
                            lane_sums_##VL(&accv[0][0], sums);                                      \
                            for (int a = 0; a < BO && o0 + a < co; a++)                             \
                                for (int b = 0; b < BI && c0 + b < ci; b++)                         \
                                    dw[((o0 + a) * ci + c0 + b) * taps + i * k + j] += sums[a * BI + b]; \
                        }                                                                           \
                    }                                                                               \
                }                                                                                   \
        }                                                                                           \
    }

// 4 × 4 accumulators + 8 loaded vectors of 16 lanes; for other lane counts a run's last lanes
// come in masked.
WEIGHT_GRAD(weight_grad_16, "avx512f,avx512vl,avx2,fma", f16, 16, 4, 4, 0)
WEIGHT_GRAD(weight_grad_masked, "avx512f,avx512vl,avx2,fma", f16, 16, 4, 4, 1)

void ckernels_conv_weight_grad(const ckernels_conv_shape *s, const float *columns, const float *image,
                               float *dw) {
    const int variant = ckernels_direct_conv_variant(s);
    if (variant != CKERNELS_CONV_AVX512) return;
    if (s->lanes % 16 == 0) weight_grad_16(s, columns, image, dw);
    else weight_grad_masked(s, columns, image, dw);
}
