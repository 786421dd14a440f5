// im2col and col2im for ONE image (Sources/AECVKernels/Kernels/Im2Col.swift calls these when
// N = 1). The batch-minor Swift loops copy runs of N floats per output position; with N = 1 their
// per-row work (overflow-checked index arithmetic, a memset call for each padded edge) cost more
// than the copying: a one-image encode of the seed's conv model spent 55 % of its instructions
// in im2col. Here the edges are plain loops and the index arithmetic unchecked; the ranges are
// computed once per (c, i, j), so the inner loops are branch-free. Every index stays inside x.
#include "ckernels.h"
#include "conv_range.h"

void ckernels_im2col_single(const float *restrict x, float *restrict cols, long channels, long height,
                            long width, long k, long s, long p, long out_height, long out_width) {
    const long positions = out_height * out_width;
    for (long c = 0; c < channels; c++) {
        const float *restrict plane = x + c * height * width;
        for (long i = 0; i < k; i++) {
            long ylo, yhi;
            valid_range(i, s, p, height, out_height, &ylo, &yhi);
            for (long j = 0; j < k; j++) {
                long xlo, xhi;
                valid_range(j, s, p, width, out_width, &xlo, &xhi);
                float *restrict row = cols + ((c * k + i) * k + j) * positions;
                for (long q = 0; q < ylo * out_width; q++) row[q] = 0;
                for (long oy = ylo; oy < yhi; oy++) {
                    float *restrict dst = row + oy * out_width;
                    const long base = (oy * s - p + i) * width - p + j;
                    for (long ox = 0; ox < xlo; ox++) dst[ox] = 0;
                    if (s == 1) {
                        for (long ox = xlo; ox < xhi; ox++) dst[ox] = plane[base + ox];
                    } else {
                        for (long ox = xlo; ox < xhi; ox++) dst[ox] = plane[base + ox * s];
                    }
                    for (long ox = xhi; ox < out_width; ox++) dst[ox] = 0;
                }
                for (long q = yhi * out_width; q < positions; q++) row[q] = 0;
            }
        }
    }
}

void ckernels_col2im_single(const float *restrict cols, float *restrict x, long channels, long height,
                            long width, long k, long s, long p, long out_height, long out_width) {
    const long positions = out_height * out_width;
    for (long c = 0; c < channels; c++) {
        float *restrict plane = x + c * height * width;
        for (long i = 0; i < k; i++) {
            long ylo, yhi;
            valid_range(i, s, p, height, out_height, &ylo, &yhi);
            for (long j = 0; j < k; j++) {
                long xlo, xhi;
                valid_range(j, s, p, width, out_width, &xlo, &xhi);
                const float *restrict row = cols + ((c * k + i) * k + j) * positions;
                for (long oy = ylo; oy < yhi; oy++) {
                    const float *restrict src = row + oy * out_width;
                    const long base = (oy * s - p + i) * width - p + j;
                    if (s == 1) {
                        for (long ox = xlo; ox < xhi; ox++) plane[base + ox] += src[ox];
                    } else {
                        for (long ox = xlo; ox < xhi; ox++) plane[base + ox * s] += src[ox];
                    }
                }
            }
        }
    }
}
