// The tap lists and the weight packing that the direct convolutions share (direct_conv.c, many
// lanes; direct_conv_single.c, one image). Private to CKernels (not under include/).
#ifndef AECV_CONV_TAPS_H
#define AECV_CONV_TAPS_H

#include "ckernels.h"
#include <string.h>

// Taps: for one output pixel of a gather, the (i, j) weight taps that reach it and the source
// pixel each one reads. Rows and columns separate: taps(y, x) = rows(y) × columns(x).

// to_columns: output row oh reads image row oh·s − p + i.
static inline int row_taps_to_columns(long oh, long s, long p, long k, long height, int *tap, long *src) {
    int n = 0;
    for (long i = 0; i < k; i++) {
        const long ih = oh * s - p + i;
        if (ih >= 0 && ih < height) { tap[n] = (int)i; src[n] = ih; n++; }
    }
    return n;
}

// to_image: image row y is written by column rows oh with oh·s − p + i = y.
static inline int row_taps_to_image(long y, long s, long p, long k, long out_rows, int *tap, long *src) {
    int n = 0;
    for (long i = 0; i < k; i++) {
        const long num = y + p - i;
        if (num < 0 || num % s != 0) continue;
        const long oh = num / s;
        if (oh < out_rows) { tap[n] = (int)i; src[n] = oh; n++; }
    }
    return n;
}

// Whether image pixel x of a gather toward the image has the column taps tj[0..nc): the test for
// pixels of one stride phase that can share a tile (those with the same taps form an interval,
// so testing the ends of a run is enough).
static inline int same_image_taps(long x, long s, long p, long k, long src_w, int nc, const int *tj) {
    int tq[8];
    long sq[8];
    if (row_taps_to_image(x, s, p, k, src_w, tq, sq) != nc) return 0;
    for (int b = 0; b < nc; b++)
        if (tq[b] != tj[b]) return 0;
    return 1;
}

// The taps of one output pixel, rows(y) × columns(x): each one's weight index i·k + j and the
// offset of the source pixel it reads (rows of src_w pixels of n lanes). Returns their count.
static inline int pixel_taps(int nr, const int *ti, const long *si, int nc, const int *tj, const long *sj,
                             long k, long src_w, long n, int *tix, long *off) {
    int count = 0;
    for (int a = 0; a < nr; a++)
        for (int b = 0; b < nc; b++) {
            tix[count] = (int)(ti[a] * k + tj[b]);
            off[count] = (si[a] * src_w + sj[b]) * n;
            count++;
        }
    return count;
}

// Weight packing for a gather whose outputs have `outs` channels and inputs `ins`:
//   packed[ob][t][c][r] = weight(out = ob·MR + r, in = c, tap t), zero for out ≥ outs.
// to_columns reads w[o, c, t] (outs = Co); to_image reads w[o, c, t] with outs = Ci, ins = Co.

static inline void pack_weights(const float *w, long outs, long ins, long taps, int to_image, long mr,
                         float *packed) {
    const long blocks = (outs + mr - 1) / mr;
    // Whole blocks without the padding test, and with the loop over the block's rows innermost
    // and its source offset hoisted: 3.6× faster than the general loop below (2.7 against 9.8 µs
    // for a 32 → 64 3×3 weight), which was 5% of a batch-64 training step at 28×28.
    const long whole = outs / mr;
    long ob = 0;
    for (; ob < whole; ob++) {
        float *block = packed + ob * taps * ins * mr;
        if (taps == 1 && !to_image) {
            // A 1×1 convolution or a dense layer: the block is the transpose of its mr × ins
            // rows of w (784 × 256 floats: 120 µs a call by the general loop, as long as the
            // gather itself at batch 32).
            ckernels_transpose(w + ob * mr * ins, mr, ins, block);
        } else if (to_image) {
            // packed[t][c][r] = w[(c·outs + ob·mr + r)·taps + t]: per c, an mr × taps block.
            for (long c = 0; c < ins; c++) {
                const float *src = w + (c * outs + ob * mr) * taps;
                for (long r = 0; r < mr; r++)
                    for (long t = 0; t < taps; t++) block[(t * ins + c) * mr + r] = src[r * taps + t];
            }
        } else {
            // packed[t][c][r] = w[((ob·mr + r)·ins + c)·taps + t]
            const long step = ins * taps;
            for (long c = 0; c < ins; c++)
                for (long t = 0; t < taps; t++) {
                    float *dst = block + (t * ins + c) * mr;
                    const float *src = w + ob * mr * step + c * taps + t;
                    for (long r = 0; r < mr; r++) dst[r] = src[r * step];
                }
        }
    }
    for (; ob < blocks; ob++)
        for (long t = 0; t < taps; t++)
            for (long c = 0; c < ins; c++) {
                float *dst = packed + ((ob * taps + t) * ins + c) * mr;
                for (long r = 0; r < mr; r++) {
                    const long o = ob * mr + r;
                    // to_columns: out o is w's first index; to_image: out o is w's second index.
                    dst[r] = o >= outs ? 0.0f
                           : to_image ? w[(c * outs + o) * taps + t] : w[(o * ins + c) * taps + t];
                }
            }
}

static inline long padded(long count, long mr) { return (count + mr - 1) / mr * mr; }

#endif
