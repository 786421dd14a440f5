// CKernels: the few loops Swift cannot vectorize on Linux.
//
// Swift's Float.squareRoot() and SIMD.squareRoot() go through glibc's errno-setting sqrtf (a
// scalar sqrtss plus a call on the slow path), so an Adam update written in Swift runs one scalar
// square root per parameter; here clang's __builtin_elementwise_sqrt compiles to sqrtps. The
// Gaussian corruption's log, sin and cos were libm calls per pixel; here they are inline.
// im2col/col2im of one image are here for their per-row overhead (im2col_single.c), and the
// AVX-512 direct convolutions (direct_conv.c) for their intrinsics and run-time dispatch.
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

/// SSIM loss, interior columns of the row pass: for c < n, with taps k ascending,
///     mx[c] = Σ_k w[k]·x[c+k], my = Σ w·y, mxx = Σ w·x², myy = Σ w·y², mxy = Σ w·x·y
/// (x, y point at the leftmost tap of the first column; outputs must not overlap anything).
void ckernels_ssim_row_moments(size_t n, size_t taps, const double *w, const float *x, const float *y,
                               double *mx, double *my, double *mxx, double *myy, double *mxy);

/// o_i[j] = Σ_k w[k]·a_i[j+k] for j < n, i = 0, 1, 2 (the SSIM gradient's adjoint row pass).
void ckernels_filter3(size_t n, size_t taps, const double *w, const double *a0, const double *a1,
                      const double *a2, double *o0, double *o1, double *o2);

/// y[i] += g·x[i] for i < n (x and y must not overlap).
void ckernels_daxpy(size_t n, double g, const double *x, double *y);

/// im2col of ONE image (C, H, W) into cols (C·k·k, OH·OW), row-major:
///     cols[(c·k + i)·k + j, oy·OW + ox] = x[c, oy·s − p + i, ox·s − p + j]   (0 outside)
/// x and cols must not overlap.
void ckernels_im2col_single(const float *x, float *cols, long channels, long height, long width,
                            long k, long s, long p, long out_height, long out_width);

/// The adjoint of ckernels_im2col_single: x[c, oy·s − p + i, ox·s − p + j] += cols[(c·k + i)·k + j,
/// oy·OW + ox] over the positions inside the image. cols and x must not overlap.
void ckernels_col2im_single(const float *cols, float *x, long channels, long height, long width,
                            long k, long s, long p, long out_height, long out_width);

/// dst (cols × rows) = srcᵀ for src (rows × cols), in 8 × 8 register blocks (transpose.c).
void ckernels_transpose(const float *src, long rows, long cols, float *dst);

/// y = σ(a) = 1 / (1 + e^(−a)) over `count` floats, the exponential by the library's polynomial
/// (sigmoid.c), bitwise at every vector width; y may be a.
void ckernels_sigmoid(const float *a, float *y, long count);

/// A sigmoid output layer and the squared error in one pass (sigmoid.c):
///     y = σ(a),   da = (2·scale·(y − t)) · y · (1 − y),   returns Σ (y − t)²
/// (float partial sums over blocks of 4096 values, added in double). y and da bitwise as the
/// Swift sigmoidForward, the squared error's backward and sigmoidBackward; y may be a.
double ckernels_sigmoid_squared_error(const float *a, const float *t, float *y, float *da, long count,
                                      float scale);

/// Σ max(x, 0) − x·t + log(1 + e^(−|x|)), the binary cross-entropy of logits x against t summed
/// (sigmoid.c; float lanes per block of 512 values, each block added in double), and its gradient
/// dx = scale · (σ(x) − t), bitwise at every vector width.
double ckernels_bce_logits_sum(const float *x, const float *t, long count);
void ckernels_bce_logits_gradient(const float *x, const float *t, float *dx, long count, float scale);

/// C (m × n) += A (m × k) · Bᵀ with B (n × k), row strides lda, ldb, ldc, on AVX2 + FMA
/// (small_gemm.c): a convolution's weight gradient over a band. Returns 0 without touching C
/// when the CPU has no AVX2 and FMA (level 0), 1 when done.
int ckernels_small_gemm_abt(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                            float *c, long ldc);

/// c[r·ldc] += Σ_i a[r·lda + i]·x[i] for r < m, x contiguous (gemv.c): a dense layer on one
/// image. Returns 0 without touching c when the CPU lacks AVX2 + FMA.
int ckernels_gemv_accumulate(long m, long k, const float *a, long lda, const float *x, float *c, long ldc);

/// What vector kernels this CPU and its OS allow (cpu_level.c, asked once): 2 AVX-512 (F, VL,
/// with AVX2 and FMA), 1 AVX2 with FMA, 0 neither; at most 1 in a `make lib-avx2` build. The
/// direct convolutions run at 2, the sigmoid kernels at their widths for 2 and 1, small_gemm.c
/// and gemv.c at 1 and above.
int ckernels_cpu_level(void);

/// A test hook: the sigmoid kernels above at a level up to ckernels_cpu_level() (-1: automatic
/// again); 0 when refused.
int ckernels_sigmoid_force_level(int level);

/// The geometry of one convolution seen from both sides (direct_conv.c): the image side is the
/// Conv2d input / ConvTranspose2d output, the column side the Conv2d output / ConvTranspose2d
/// input; buffers are batch-minor (channels, rows, columns, lanes) and the weight is
/// (column_channels, image_channels, kernel, kernel) in both layers.
typedef struct {
    long image_channels, height, width;
    long column_channels, column_height, column_width;
    long kernel, stride, padding;
    long lanes;
} ckernels_conv_shape;

enum { CKERNELS_CONV_GEMM = 0, CKERNELS_CONV_AVX512 = 2 };

/// The best direct-convolution variant this CPU and OS support (CKERNELS_CONV_GEMM: none).
int ckernels_direct_conv_detected(void);
/// Restricts every later call to `variant` (CKERNELS_CONV_GEMM, or the detected one; -1:
/// automatic again), for tests that compare the paths. Returns 0, changing nothing, when the
/// CPU lacks it.
int ckernels_direct_conv_force(int variant);
/// The variant a call with this shape uses: GEMM (the caller's im2col path) when the CPU has no
/// AVX-512, there are fewer than 8 lanes, or the kernel is larger than 8.
int ckernels_direct_conv_variant(const ckernels_conv_shape *shape);
/// The variant in force: the detected one, or the one ckernels_direct_conv_force set.
int ckernels_direct_conv_active(void);

/// One image (lanes = 1), direct_conv_single.c: the same sums as ckernels_conv_to_columns /
/// _to_image, with vectors across 16 output channels instead of lanes. Usable (returns the
/// AVX-512 variant) when the active variant is AVX-512, lanes = 1, the kernel is at most 8 and
/// the gather has 8 or more output channels (column channels for to_columns, image channels for
/// to_image); otherwise CKERNELS_CONV_GEMM and the caller keeps im2col + GEMM.
int ckernels_single_conv_variant(const ckernels_conv_shape *shape, int to_image);
/// Packs w (column_channels, image_channels, k, k) into ckernels_direct_conv_pack_floats floats,
/// for to_columns (to_image = 0) or to_image: a layer keeps the result while its weights do not
/// change (PackedWeights.swift).
void ckernels_single_conv_pack(const ckernels_conv_shape *shape, const float *w, int to_image, float *pack);
/// to_columns copies the image with zero-padded rows into `scratch` (this many floats) first.
long ckernels_single_conv_scratch_floats(const ckernels_conv_shape *shape);
void ckernels_single_conv_to_columns(const ckernels_conv_shape *shape, const float *image, const float *packed,
                                     float *columns, const float *bias, int relu, float *scratch);
void ckernels_single_conv_to_image(const ckernels_conv_shape *shape, const float *columns, const float *packed,
                                   float *image, const float *bias, int relu);

/// Whether to_columns prefetches its source for this shape: when the image side is larger than
/// the prefetch threshold (a quarter of the L3 by default), so that it comes from DRAM.
int ckernels_direct_conv_prefetches(const ckernels_conv_shape *shape);
/// Sets that threshold in bytes (0: the default again), for tests that run both paths.
void ckernels_direct_conv_set_prefetch_bytes(long bytes);
/// Floats of the `pack` buffer that to_columns / to_image need for this shape.
long ckernels_direct_conv_pack_floats(const ckernels_conv_shape *shape);

/// columns[o, oh, ow, n] = f(bias[o] + Σ_{c,i,j} w[o, c, i, j] ·
/// image[c, oh·s − p + i, ow·s − p + j, n]) (0 outside), with bias[o] = 0 when bias is NULL and
/// f = ReLU when relu (v ≤ 0 → 0), else the identity. Only when the variant is not GEMM.
void ckernels_conv_to_columns(const ckernels_conv_shape *shape, const float *image, const float *w,
                              float *columns, const float *bias, int relu, float *pack);
/// image[c, y, x, n] = f(bias[c] + Σ w[o, c, i, j] · columns[o, oh,
/// ow, n]) over oh·s − p + i = y, ow·s − p + j = x: the adjoint of to_columns, with the same
/// bias and f.
void ckernels_conv_to_image(const ckernels_conv_shape *shape, const float *columns, const float *w,
                            float *image, const float *bias, int relu, float *pack);
/// dw[o, c, i, j] += Σ_{oh,ow,n} columns[o, oh, ow, n] · image[c, oh·s − p + i, ow·s − p + j, n].
void ckernels_conv_weight_grad(const ckernels_conv_shape *shape, const float *columns,
                               const float *image, float *dw);

/// dw[o, c] += Σ_l dy[o, l] · x[c, l] for dy (outs × lanes), x (ins × lanes), dw (outs × ins): a
/// dense layer's weight gradient on a batch-minor part (dense_weight_grad.c, AVX-512). `scratch`
/// holds ckernels_dense_weight_grad_scratch_floats floats (xᵀ). Returns 0, changing nothing,
/// without AVX-512.
long ckernels_dense_weight_grad_scratch_floats(long ins, long lanes);
int ckernels_dense_weight_grad(long outs, long ins, long lanes, const float *dy, const float *x, float *dw,
                               float *scratch);

/// The library's compute-thread setting, stored atomically (0: not set yet). A call reads it
/// once (ComputeThreads.forCall) so a concurrent aecv_set_num_threads never changes a call
/// half-way.
long ckernels_load_compute_threads(void);
void ckernels_store_compute_threads(long value);

/// Atomic mirrors of the worker pool's run generation and pending-part count (WorkerPool.swift,
/// a process-wide singleton), which its threads watch for a short while before they sleep on
/// its condition variables. The mutex-protected originals stay the truth: a mirror only decides
/// how long a thread spins before it takes the mutex and checks them.
void ckernels_pool_publish(long generation, long pending);
/// How long the pool's threads spin before they sleep (set when the pool is resized; read by
/// every waiting thread).
void ckernels_pool_set_spin(long nanoseconds);
long ckernels_pool_spin(void);
/// Spins (with pause hints) until the published generation differs from `seen`, for at most
/// `nanoseconds`; returns whether it did.
int ckernels_pool_spin_for_generation(long seen, long nanoseconds);
/// Spins until the published pending count is 0, for at most `nanoseconds`; returns whether it was.
int ckernels_pool_spin_for_done(long nanoseconds);

/// The claims of a short run (WorkerPool.runShort), where the caller takes over every part no
/// worker has started. One word holds the run's generation (high 32 bits) and a bit per part
/// (tasks ≤ 32): a part runs on whoever sets its bit first, and a worker that woke for an older
/// run cannot claim a part of a newer one. `open` also zeroes the count of finished parts.
void ckernels_pool_open_claims(long generation, long tasks);
/// Sets part's bit if the open run is `generation` and the bit is clear; returns whether it did.
int ckernels_pool_claim(long generation, long part);
/// Counts one claimed part finished.
void ckernels_pool_part_finished(void);
/// Finished parts of the open run.
long ckernels_pool_parts_finished(void);
/// Spins until `count` parts have finished, for at most `nanoseconds`; returns whether they had.
int ckernels_pool_spin_for_parts(long count, long nanoseconds);

#ifdef __cplusplus
}
#endif

#endif
