// CKernels: the few loops Swift cannot vectorize on Linux.
//
// Swift's Float.squareRoot() and SIMD.squareRoot() go through glibc's errno-setting sqrtf (a
// scalar sqrtss plus a call on the slow path), so an Adam update written in Swift runs one scalar
// square root per parameter; here clang's __builtin_elementwise_sqrt compiles to sqrtps. The
// Gaussian corruption's log, sin and cos were libm calls per pixel; here they are inline.
// Everything else stays in Swift.
#ifndef AECV_CKERNELS_H
#define AECV_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One Adam step out of place, exactly the arithmetic of PyTorch's torch.optim.Adam (amsgrad off),
/// in this order, per element i (no fused multiply-add):
///     g  = grad[i] + weight_decay·p[i]                       (only when weight_decay != 0)
///     m' = beta1·m[i] + (1 − beta1)·g
///     v' = beta2·v[i] + (1 − beta2)·g·g
///     p' = p[i] − step_size·m' / (√v' / root_correction2 + epsilon)
/// with step_size = lr / (1 − beta1^t) and root_correction2 = √(1 − beta2^t).
/// Writes p', m', v' to new_p, new_m, new_v (which must not overlap the inputs). Returns 1 when
/// every written value is finite, 0 otherwise (the caller then discards the new buffers).
int ckernels_adam_update(size_t count, const float *p, const float *grad, const float *m, const float *v,
                     float *new_p, float *new_m, float *new_v,
                     float step_size, float root_correction2, float beta1, float beta2,
                     float epsilon, float weight_decay);

/// Denoising's Gaussian corruption: out[i] = clamp(x[i] + sigma·z_i, 0, 1) with z from Box–Muller
/// on the xoshiro256** generator whose state is `state` (advanced in place, two words per pair of
/// outputs exactly as RandomSource.normalPair() draws them: u1 = (w1 >> 40 + 1)/2^24 ∈ (0, 1],
/// angle 2π·(w2 >> 40)/2^24; z_2k = r·cos, z_2k+1 = r·sin, r = √(−2 ln u1)). The math is inline
/// (no libm call per pixel), within a few float ulps of libm's.
void ckernels_gaussian_corrupt(uint64_t state[4], const float *x, float *out, size_t count, float sigma);

/// The library's compute-thread setting, stored atomically (0: not set yet). A call reads it
/// once (ComputeThreads.forCall) so a concurrent aecv_set_num_threads never changes a call
/// half-way.
long ckernels_load_compute_threads(void);
void ckernels_store_compute_threads(long value);

#ifdef __cplusplus
}
#endif

#endif
