// The inner loops of the SSIM loss (Sources/AECVKernels/Kernels/StructuralSimilarity.swift): the
// window's taps over whole rows, in Double. Swift cannot prove that its five output planes do not
// alias the inputs, so it ran them scalar; with restrict clang vectorizes them. Each sum adds the
// taps in ascending order, as the Swift code it replaces did.
#include "ckernels.h"

void ckernels_ssim_row_moments(size_t n, size_t taps, const double *w, const float *x, const float *y,
                               double *restrict mx, double *restrict my, double *restrict mxx,
                               double *restrict myy, double *restrict mxy) {
    for (size_t c = 0; c < n; c++) { mx[c] = 0; my[c] = 0; mxx[c] = 0; myy[c] = 0; mxy[c] = 0; }
    for (size_t k = 0; k < taps; k++) {
        const double g = w[k];
        const float *restrict xs = x + k, *restrict ys = y + k;
        for (size_t c = 0; c < n; c++) {
            const double p = xs[c], q = ys[c];
            mx[c] += g * p; my[c] += g * q; mxx[c] += g * p * p; myy[c] += g * q * q; mxy[c] += g * p * q;
        }
    }
}

void ckernels_filter3(size_t n, size_t taps, const double *w, const double *a0, const double *a1,
                      const double *a2, double *restrict o0, double *restrict o1, double *restrict o2) {
    for (size_t j = 0; j < n; j++) { o0[j] = 0; o1[j] = 0; o2[j] = 0; }
    for (size_t k = 0; k < taps; k++) {
        const double g = w[k];
        const double *restrict b0 = a0 + k, *restrict b1 = a1 + k, *restrict b2 = a2 + k;
        for (size_t j = 0; j < n; j++) { o0[j] += g * b0[j]; o1[j] += g * b1[j]; o2[j] += g * b2[j]; }
    }
}

void ckernels_daxpy(size_t n, double g, const double *restrict x, double *restrict y) {
    for (size_t i = 0; i < n; i++) y[i] += g * x[i];
}
