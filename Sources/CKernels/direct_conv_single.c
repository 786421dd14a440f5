// Direct convolutions of ONE image (lanes = 1): encode, decode and reconstruct of a single
// picture, the inspection line's call. The sums are direct_conv.c's:
//
//   to_columns:  col[o, oh, ow] = b[o] + Σ_{c,i,j} w[o, c, i, j] · img[c, oh·s − p + i, ow·s − p + j]
//   to_image:    img[c, y, x]   = b[c] + Σ_{o,i,j} w[o, c, i, j] · col[o, oh, ow]
//                                   over (oh, ow) with oh·s − p + i = y, ow·s − p + j = x
//
// The batched gathers put their vectors across the lanes (the examples of one pixel), which one
// image does not have, so for it the library used im2col + sgemm: on the seed's 28×28 encoder
// (1.1 MFLOP) 20 µs a call, of which im2col's rows of 4 to 14 floats, OpenBLAS's packing and the
// memset took half. Here the vectors run across 16 output channels instead:
//
//   acc[p][v] += wpack[t][c][v·16 … v·16+15] · img[c, source of pixel p at tap t]   (a broadcast)
//
// A register tile is OV vectors (16·OV output channels, up to 64) × P output pixels that read
// the same taps at a constant step (P·OV ≤ 24 accumulators), so each loaded weight vector serves
// P pixels and each broadcast input value OV vectors. Pixels that share taps: in to_columns
// neighbours in a row (source step s), all of a row once the image's rows are copied with zero
// padding (single_to_columns_padded); in to_image those s apart (one phase of the stride,
// source step 1), runs of them between the borders (single_to_image). Tiles are stored by scalar scatter to the channel-major output: one store per
// output value against 27 to 600 multiply-adds.
//
// Fewer than 8 output channels would leave most of each vector empty; those layers (a decoder's
// last ConvTranspose2d to grey or RGB) keep im2col + GEMM, as do CPUs without AVX-512.
#include "ckernels.h"
#include "conv_taps.h"
#include "avx512_vectors.h"
#include <immintrin.h>
#include <string.h>

#pragma clang fp contract(fast)

enum { CHANNELS = 16, MAX_BLOCKS = 4, MAX_PIXELS = 8 };

int ckernels_single_conv_variant(const ckernels_conv_shape *s, int to_image) {
    const int v = ckernels_direct_conv_active();
    if (v != CKERNELS_CONV_AVX512 || s->lanes != 1 || s->kernel > 8) return CKERNELS_CONV_GEMM;
    const long outs = to_image ? s->image_channels : s->column_channels;
    return outs >= 8 ? v : CKERNELS_CONV_GEMM;
}

// What one tile needs besides its accumulators. Pointers are at the tile's first output block
// and first pixel.
typedef struct {
    const float *src;      // the input (both sides: the source of the gather)
    const float *packed;   // packed[block][t][c][16] at block ob0
    long block_floats;     // taps · ins · 16: from one packed block to the next
    int ntaps;
    const int *tix;        // weight tap index of each valid tap
    const long *off;       // source offset of each valid tap, for pixel 0
    long ins, in_stride;   // input channels, floats per input plane
    long src_step;         // source offset from one pixel of the tile to the next
    float *out;            // output block ob0, pixel 0
    long out_stride;       // floats per output plane
    long pix_step;         // output offset from one pixel of the tile to the next
    long rows;             // valid output channels from block ob0 on
    const float *bias;     // bias at block ob0, or NULL
    int relu;
} tile_args;

TARGET_AVX512 static inline f16 masked_bias(const float *bias, long count) {
    if (!bias) return (f16)0.0f;
    return load_part_f16(bias, count < CHANNELS ? count : CHANNELS);
}

#define SINGLE_TILE(OV, P)                                                                          \
    TARGET_AVX512 static void tile_##OV##_##P(const tile_args *a) {                                 \
        f16 acc[P][OV];                                                                             \
        for (int p = 0; p < P; p++)                                                                 \
            for (int v = 0; v < OV; v++) acc[p][v] = (f16)0.0f;                                     \
        for (int t = 0; t < a->ntaps; t++) {                                                        \
            const float *wp = a->packed + (long)a->tix[t] * a->ins * CHANNELS;                      \
            const float *src = a->src + a->off[t];                                                  \
            for (long c = 0; c < a->ins; c++) {                                                     \
                f16 wv[OV];                                                                         \
                for (int v = 0; v < OV; v++) memcpy(&wv[v], wp + v * a->block_floats, sizeof wv[v]); \
                for (int p = 0; p < P; p++) {                                                       \
                    const float x = src[p * a->src_step];                                           \
                    for (int v = 0; v < OV; v++) acc[p][v] += x * wv[v];                            \
                }                                                                                   \
                wp += CHANNELS;                                                                     \
                src += a->in_stride;                                                                \
            }                                                                                       \
        }                                                                                           \
        for (int v = 0; v < OV; v++) {                                                              \
            const long rows = a->rows - v * CHANNELS;                                               \
            const long valid = rows < CHANNELS ? rows : CHANNELS;                                   \
            const f16 b = masked_bias(a->bias ? a->bias + v * CHANNELS : NULL, valid);              \
            float *dst = a->out + v * CHANNELS * a->out_stride;                                     \
            for (int p = 0; p < P; p++) {                                                           \
                f16 value = acc[p][v] + b;                                                          \
                if (a->relu) value = relu_f16(value);                                                 \
                float lanes[CHANNELS];                                                              \
                memcpy(lanes, &value, sizeof lanes);                                                \
                for (long r = 0; r < valid; r++) dst[r * a->out_stride + p * a->pix_step] = lanes[r]; \
            }                                                                                       \
        }                                                                                           \
    }

// OV ≤ 4 blocks × every P ≤ 8 pixels (6 for 4 blocks), at most 24 accumulators (with OV weight
// vectors and one broadcast, within 32 registers). Every width, not only powers of two: the
// rows here are short (4 to 14 pixels, split by the stride's phases and the borders), and a run
// of 7 as 4 + 2 + 1 tiles loaded each weight vector three times.
#define SINGLE_TILES_8(OV) SINGLE_TILE(OV, 1) SINGLE_TILE(OV, 2) SINGLE_TILE(OV, 3) SINGLE_TILE(OV, 4) \
                           SINGLE_TILE(OV, 5) SINGLE_TILE(OV, 6) SINGLE_TILE(OV, 7) SINGLE_TILE(OV, 8)
SINGLE_TILES_8(1) SINGLE_TILES_8(2) SINGLE_TILES_8(3)
SINGLE_TILE(4, 1) SINGLE_TILE(4, 2) SINGLE_TILE(4, 3) SINGLE_TILE(4, 4) SINGLE_TILE(4, 5) SINGLE_TILE(4, 6)

typedef void (*tile_fn)(const tile_args *);
// tiles[OV − 1][P − 1]
#define TILE_ROW(OV) { tile_##OV##_1, tile_##OV##_2, tile_##OV##_3, tile_##OV##_4, tile_##OV##_5, \
                       tile_##OV##_6, tile_##OV##_7, tile_##OV##_8 }
static const tile_fn tiles[MAX_BLOCKS][MAX_PIXELS] = {
    TILE_ROW(1), TILE_ROW(2), TILE_ROW(3),
    { tile_4_1, tile_4_2, tile_4_3, tile_4_4, tile_4_5, tile_4_6, NULL, NULL },   // 4 × 7 > 24
};

// The epilogue of an empty sum (no tap reaches the pixels) for `pixels` pixels pix_step apart.
static void store_empty_sums(float *opix, long outs, long out_stride, long pixels, long pix_step,
                             const float *bias, int relu) {
    for (long o = 0; o < outs; o++) {
        const float v = bias ? bias[o] : 0.0f;
        for (long q = 0; q < pixels; q++) opix[o * out_stride + q * pix_step] = relu && v <= 0.0f ? 0.0f : v;   // NaN stays
    }
}

// The tiles of `pixels` pixels from opix on, over every output block, in groups of up to
// MAX_BLOCKS blocks (a.src, a.ntaps and the tap lists set by the caller).
static void run_tiles(tile_args *a, const float *packed, float *opix, long outs, long pixels, const float *bias) {
    const long blocks = (outs + CHANNELS - 1) / CHANNELS;
    for (long ob = 0; ob < blocks; ob += MAX_BLOCKS) {
        const long ov = blocks - ob < MAX_BLOCKS ? blocks - ob : MAX_BLOCKS;
        a->packed = packed + ob * a->block_floats;
        a->out = opix + ob * CHANNELS * a->out_stride;
        a->rows = outs - ob * CHANNELS;
        a->bias = bias ? bias + ob * CHANNELS : NULL;
        tiles[ov - 1][pixels - 1](a);
    }
}

// Tiles of up to 8 pixels, 6 when a group of 4 blocks (64 channels) is among them.
static long max_tile_pixels(long outs) { return (outs + CHANNELS - 1) / CHANNELS >= MAX_BLOCKS ? 6 : MAX_PIXELS; }

// to_image: image pixels one stride apart (one phase of the stride) read the same taps one
// source pixel apart; a run of them between the borders is one tile.
static void single_to_image(const ckernels_conv_shape *s, const float *in, const float *packed, float *out,
                            const float *bias, int relu) {
    const long k = s->kernel, taps = k * k;
    const long outs = s->image_channels, ins = s->column_channels;
    const long oh_count = s->height, ow_count = s->width;
    const long src_w = s->column_width, src_h = s->column_height;
    const long out_stride = oh_count * ow_count, pix_step = s->stride;
    const long max_pixels = max_tile_pixels(outs);
    int ti[8], tj[8], tix[64];
    long si[8], sj[8], off[64];
    tile_args a = { .src = in, .block_floats = taps * ins * CHANNELS, .tix = tix, .off = off, .ins = ins,
                    .in_stride = src_h * src_w, .src_step = 1, .out_stride = out_stride,
                    .pix_step = pix_step, .relu = relu };
    for (long y = 0; y < oh_count; y++) {
        const int nr = row_taps_to_image(y, s->stride, s->padding, k, src_h, ti, si);
        for (long phase = 0; phase < pix_step && phase < ow_count; phase++) {
            long x = phase;
            while (x < ow_count) {
                const int nc = row_taps_to_image(x, s->stride, s->padding, k, src_w, tj, sj);
                a.ntaps = pixel_taps(nr, ti, si, nc, tj, sj, k, src_w, 1, tix, off);
                float *opix = out + y * ow_count + x;
                if (a.ntaps == 0) {
                    store_empty_sums(opix, outs, out_stride, 1, pix_step, bias, relu);
                    x += pix_step;
                    continue;
                }
                long pixels = 1;   // the run of following pixels with the same taps
                while (pixels < max_pixels && x + pixels * pix_step < ow_count
                       && same_image_taps(x + pixels * pix_step, s->stride, s->padding, k, src_w, nc, tj))
                    pixels++;
                run_tiles(&a, packed, opix, outs, pixels, bias);
                x += pixels * pix_step;
            }
        }
    }
}

void ckernels_single_conv_pack(const ckernels_conv_shape *s, const float *w, int to_image, float *pack) {
    const long taps = s->kernel * s->kernel;
    if (to_image) pack_weights(w, s->image_channels, s->column_channels, taps, 1, CHANNELS, pack);
    else pack_weights(w, s->column_channels, s->image_channels, taps, 0, CHANNELS, pack);
}

// to_columns on an image whose rows are padded with zeros to the left (p) and right: every
// output pixel of a row then reads all k column taps, at x·s + j, so a row is one run of tiles
// instead of border pixels apart (a 32 → 64 layer to 4 × 4 outputs ran as 1-, 2- and 1-pixel
// tiles: a third of a one-image encode). Rows keep their valid taps (no padding needed there).
static long padded_width(const ckernels_conv_shape *s) {
    const long right = (s->column_width - 1) * s->stride + s->kernel - s->padding - s->width;
    return s->padding + s->width + (right > 0 ? right : 0);
}

long ckernels_single_conv_scratch_floats(const ckernels_conv_shape *s) {
    return s->image_channels * s->height * padded_width(s);
}

// dst rows of pw floats = `left` zeros, the src row of `width` floats, zeros. By masked
// AVX-512 stores rather than memset/memcpy (which clang also makes of plain loops): the rows
// are 4 to 30 floats, and three library calls a row were 13% of a one-image encode.
TARGET_AVX512 static void pad_rows(const float *src, long rows, long width, long left, long pw, float *dst) {
    for (long r = 0; r < rows; r++, src += width, dst += pw) {
        for (long q = 0; q < pw; q += CHANNELS) {   // zeros over the whole padded row
            const long n = pw - q < CHANNELS ? pw - q : CHANNELS;
            _mm512_mask_storeu_ps(dst + q, (__mmask16)((1u << n) - 1), _mm512_setzero_ps());
        }
        for (long q = 0; q < width; q += CHANNELS) {   // then the row itself
            const long n = width - q < CHANNELS ? width - q : CHANNELS;
            const __mmask16 m = (__mmask16)((1u << n) - 1);
            _mm512_mask_storeu_ps(dst + left + q, m, _mm512_maskz_loadu_ps(m, src + q));
        }
    }
}

static void single_to_columns_padded(const ckernels_conv_shape *s, const float *image, float *padded_image,
                                     const float *packed, float *out, const float *bias, int relu) {
    const long k = s->kernel, taps = k * k, pw = padded_width(s);
    const long outs = s->column_channels, ins = s->image_channels;
    const long oh_count = s->column_height, ow_count = s->column_width, src_h = s->height;
    const long out_stride = oh_count * ow_count;
    const long max_pixels = max_tile_pixels(outs);
    pad_rows(image, ins * src_h, s->width, s->padding, pw, padded_image);
    int ti[8], tj[8], tix[64];
    long si[8], sj[8], off[64];
    for (int j = 0; j < k; j++) { tj[j] = j; sj[j] = j; }   // pixel 0's padded columns
    tile_args a = { .block_floats = taps * ins * CHANNELS, .tix = tix, .off = off, .ins = ins,
                    .in_stride = src_h * pw, .src_step = s->stride, .out_stride = out_stride,
                    .pix_step = 1, .relu = relu };
    for (long y = 0; y < oh_count; y++) {
        const int nr = row_taps_to_columns(y, s->stride, s->padding, k, src_h, ti, si);
        float *orow = out + y * ow_count;
        if (nr == 0) {   // the row sees only padding
            store_empty_sums(orow, outs, out_stride, ow_count, 1, bias, relu);
            continue;
        }
        a.ntaps = pixel_taps(nr, ti, si, (int)k, tj, sj, k, pw, 1, tix, off);
        for (long x = 0; x < ow_count;) {
            const long pixels = ow_count - x < max_pixels ? ow_count - x : max_pixels;
            a.src = padded_image + x * s->stride;
            run_tiles(&a, packed, orow + x, outs, pixels, bias);
            x += pixels;
        }
    }
}

void ckernels_single_conv_to_columns(const ckernels_conv_shape *s, const float *image, const float *packed,
                                     float *columns, const float *bias, int relu, float *scratch) {
    if (ckernels_single_conv_variant(s, 0) != CKERNELS_CONV_AVX512) return;
    single_to_columns_padded(s, image, scratch, packed, columns, bias, relu);
}

void ckernels_single_conv_to_image(const ckernels_conv_shape *s, const float *columns, const float *packed,
                                   float *image, const float *bias, int relu) {
    if (ckernels_single_conv_variant(s, 1) != CKERNELS_CONV_AVX512) return;
    single_to_image(s, columns, packed, image, bias, relu);
}
