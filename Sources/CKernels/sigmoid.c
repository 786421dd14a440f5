// The sigmoid of a decoder's last layer, alone (inference) and fused with the squared error and
// its gradient (a training step), and the binary cross-entropy on logits (the VAEs' Bernoulli
// decoder) with its gradient, on AVX-512 or AVX2 lanes when CPUID says so; see
// include/ckernels.h for the formulas.
//
// Why C: Swift compiles for baseline x86-64, so its SIMD8 loops run as pairs of SSE vectors
// without FMA. An exponential and a division per value made the sigmoid + loss passes 5–7% of a
// conv training step at 128 px, and the BCE sum and gradient 7% of a conv_vae step. Every lane
// does the operations of the former Swift 8-lane kernels (their exponential is kept as the
// tests' reference, Tests/AECVTests/Support/ReferenceExponential.swift) in the same order with
// no contraction into FMA, and the scalar tail is the last count mod 8 values at every width.
// So y and the gradients are bitwise the same at every vector width and as the Swift
// layer-by-layer path (KernelTests checks it); only the losses' sums may differ in their last
// bits, from the order of the lanes' partial sums. (The ReLU's backward, 4% of the 128 px step,
// measured no faster in this form: it is bound by memory.)
#include "ckernels.h"

#include <math.h>
#include <string.h>

#pragma clang fp contract(off)

typedef float f8 __attribute__((ext_vector_type(8)));
typedef float f16 __attribute__((ext_vector_type(16)));
typedef int i8 __attribute__((ext_vector_type(8)));
typedef int i16 __attribute__((ext_vector_type(16)));

// The body of each kernel, for vector type VT (integer lanes IT) of W lanes. A select is written
// with the comparison's all-ones mask, so that NaN (every comparison false) passes through.
#define SELECT(IT, VT, mask, a, b) ({ IT m_ = (mask); VT av_ = (a), bv_ = (b); IT a_, b_; VT r_;     \
    memcpy(&a_, &av_, sizeof a_); memcpy(&b_, &bv_, sizeof b_);                                      \
    IT c_ = (m_ & a_) | (~m_ & b_); memcpy(&r_, &c_, sizeof r_); r_; })

// e^x: n = round(x·log2 e) by the 1.5·2²³ shifter, r = x − n·ln2 (Cody–Waite), e^r by its
// degree-6 Taylor polynomial, times 2^n in the exponent bits; x clamped to [−87, 88].
#define EXPONENTIAL(IT, VT, x) ({                                                                    \
    VT c_ = SELECT(IT, VT, (x) < -87.0f, -87.0f, (x));                                               \
    c_ = SELECT(IT, VT, c_ > 88.0f, 88.0f, c_);                                                      \
    const VT shifter_ = 12582912.0f;                                                                 \
    VT shifted_ = c_ * 1.44269504f + shifter_;                                                       \
    VT n_ = shifted_ - shifter_;                                                                     \
    IT k_; memcpy(&k_, &shifted_, sizeof k_); k_ = k_ - 0x4B400000;                                  \
    VT r_ = c_ - n_ * 0.693359375f + n_ * 2.1219444e-4f;                                             \
    VT p_ = 1.0f / 720;                                                                              \
    p_ = p_ * r_ + 1.0f / 120; p_ = p_ * r_ + 1.0f / 24; p_ = p_ * r_ + 1.0f / 6;                    \
    p_ = p_ * r_ + 0.5f; p_ = p_ * r_ + 1.0f; p_ = p_ * r_ + 1.0f;                                   \
    IT e_ = (k_ + 127) << 23; VT s_; memcpy(&s_, &e_, sizeof s_);                                    \
    p_ * s_; })

#define LOADV(VT, p) ({ VT v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STOREV(VT, p, v) do { VT w_ = (v); memcpy((p), &w_, sizeof w_); } while (0)

// The scalar sigmoid of the Swift `sigmoid`: 1/(1 + e^−x) for x ≥ 0, e^x/(1 + e^x) below, with
// libm's expf (the tails of a run, as the Swift kernels do them).
static inline float sigmoid1(float x) {
    if (x >= 0) return 1 / (1 + expf(-x));
    const float e = expf(x);
    return e / (1 + e);
}

// Whole vectors of W lanes from i, as far as they fit.
#define SIGMOID_RUN(IT, VT, W)                                                                       \
    for (; i + W <= count; i += W) {                                                                 \
        VT e = EXPONENTIAL(IT, VT, -LOADV(VT, a + i));                                               \
        STOREV(VT, y + i, 1.0f / (1.0f + e));                                                        \
    }

#define FUSED_BLOCK(IT, VT, W) {                                                                     \
    VT acc = 0;                                                                                      \
    for (; i + W <= end; i += W) {                                                                   \
        VT e = EXPONENTIAL(IT, VT, -LOADV(VT, a + i));                                               \
        VT v = 1.0f / (1.0f + e);                                                                    \
        VT d = v - LOADV(VT, t + i);                                                                 \
        acc += d * d;                                                                                \
        STOREV(VT, y + i, v);                                                                        \
        STOREV(VT, da + i, s * d * v * (1.0f - v));                                                  \
    }                                                                                                \
    for (int k = 0; k < W; k++) partial += acc[k];                                                   \
    }

// After the W-lane vectors, one of 8 lanes where 8 values remain: the scalar tail is then the
// last count mod 8 values at every width, as in the Swift kernels.
#define DEFINE_KERNELS(NAME, ATTR, IT, VT, W)                                                        \
    ATTR static void sigmoid_##NAME(const float *a, float *y, long count) {                          \
        long i = 0;                                                                                  \
        SIGMOID_RUN(IT, VT, W)                                                                       \
        SIGMOID_RUN(i8, f8, 8)                                                                       \
        for (; i < count; i++) y[i] = sigmoid1(a[i]);                                                \
    }                                                                                                \
    ATTR static double fused_##NAME(const float *a, const float *t, float *y, float *da, long count, \
                                    float scale) {                                                   \
        const float s = 2 * scale;                                                                   \
        double sum = 0;                                                                              \
        for (long start = 0; start < count;) {                                                       \
            const long end = start + (count - start < 4096 ? count - start : 4096);                  \
            float partial = 0;                                                                       \
            long i = start;                                                                          \
            FUSED_BLOCK(IT, VT, W)                                                                   \
            FUSED_BLOCK(i8, f8, 8)                                                                   \
            for (; i < end; i++) {                                                                   \
                const float v = sigmoid1(a[i]), d = v - t[i];                                        \
                partial += d * d;                                                                    \
                y[i] = v;                                                                            \
                da[i] = s * d * v * (1 - v);                                                         \
            }                                                                                        \
            sum += partial;                                                                          \
            start = end;                                                                             \
        }                                                                                            \
        return sum;                                                                                  \
    }

DEFINE_KERNELS(avx512, __attribute__((target("avx512f,avx512vl,avx2"))), i16, f16, 16)
DEFINE_KERNELS(avx2, __attribute__((target("avx2"))), i8, f8, 8)
DEFINE_KERNELS(baseline, , i8, f8, 8)

// BCE with logits: Σ max(x, 0) − x·t + log(1 + e^(−|x|)), log(1 + u) as 2·atanh(s) =
// 2(s + s³/3 + … + s¹⁷/17) with s = u / (2 + u) (binaryCrossEntropyWithLogitsSum in
// Elementwise.swift says why), float lanes over blocks of 512 values, each block's sum added in
// double; the last count mod 8 values in double with libm. The gradient: scale · (σ(x) − t).
#define BCE_BLOCK(IT, VT, W) {                                                                       \
    VT lanes = 0;                                                                                    \
    for (; i + W <= end; i += W) {                                                                   \
        const VT xi = LOADV(VT, x + i);                                                              \
        IT bits; memcpy(&bits, &xi, sizeof bits);                                                    \
        bits = bits | (int)0x80000000;                                                               \
        VT negative_abs; memcpy(&negative_abs, &bits, sizeof bits);                                  \
        const VT u = EXPONENTIAL(IT, VT, negative_abs);                                              \
        const VT sv = u / (2.0f + u), s2 = sv * sv;                                                  \
        VT p = 1.0f / 17;                                                                            \
        p = p * s2 + 1.0f / 15; p = p * s2 + 1.0f / 13; p = p * s2 + 1.0f / 11;                      \
        p = p * s2 + 1.0f / 9; p = p * s2 + 1.0f / 7; p = p * s2 + 1.0f / 5;                         \
        p = p * s2 + 1.0f / 3; p = p * s2 + 1.0f;                                                    \
        lanes += SELECT(IT, VT, xi < 0.0f, 0.0f, xi) - xi * LOADV(VT, t + i) + 2.0f * sv * p;        \
    }                                                                                                \
    for (int k = 0; k < W; k++) partial += lanes[k];                                                 \
    }

#define DEFINE_BCE(NAME, ATTR, IT, VT, W)                                                            \
    ATTR static double bce_sum_##NAME(const float *x, const float *t, long count) {                  \
        const long whole = count - count % 8;                                                        \
        double sum = 0;                                                                              \
        long i = 0;                                                                                  \
        while (i < whole) {                                                                          \
            const long end = whole - i < 512 ? whole : i + 512;                                      \
            float partial = 0;                                                                       \
            BCE_BLOCK(IT, VT, W)                                                                     \
            BCE_BLOCK(i8, f8, 8)                                                                     \
            sum += partial;                                                                          \
        }                                                                                            \
        for (; i < count; i++) {                                                                     \
            const double v = x[i];                                                                   \
            sum += (v > 0 ? v : 0) - v * (double)t[i] + log1p(exp(-fabs(v)));                        \
        }                                                                                            \
        return sum;                                                                                  \
    }                                                                                                \
    ATTR static void bce_gradient_##NAME(const float *x, const float *t, float *dx, long count,      \
                                         float scale) {                                              \
        long i = 0;                                                                                  \
        for (; i + W <= count; i += W) {                                                             \
            const VT e = EXPONENTIAL(IT, VT, -LOADV(VT, x + i));                                     \
            STOREV(VT, dx + i, scale * (1.0f / (1.0f + e) - LOADV(VT, t + i)));                      \
        }                                                                                            \
        for (; i + 8 <= count; i += 8) {                                                             \
            const f8 e = EXPONENTIAL(i8, f8, -LOADV(f8, x + i));                                     \
            STOREV(f8, dx + i, scale * (1.0f / (1.0f + e) - LOADV(f8, t + i)));                      \
        }                                                                                            \
        for (; i < count; i++) dx[i] = scale * (sigmoid1(x[i]) - t[i]);                              \
    }

DEFINE_BCE(avx512, __attribute__((target("avx512f,avx512vl,avx2"))), i16, f16, 16)
DEFINE_BCE(avx2, __attribute__((target("avx2"))), i8, f8, 8)
DEFINE_BCE(baseline, , i8, f8, 8)

static int forced = -1;   // -1: the CPU's level

static int level(void) {
    const int v = __atomic_load_n(&forced, __ATOMIC_RELAXED);
    return v < 0 ? ckernels_cpu_level() : v;
}

int ckernels_sigmoid_force_level(int v) {
    if (v < -1 || v > ckernels_cpu_level()) return 0;
    __atomic_store_n(&forced, v, __ATOMIC_RELAXED);
    return 1;
}

void ckernels_sigmoid(const float *a, float *y, long count) {
    switch (level()) {
    case 2: sigmoid_avx512(a, y, count); break;
    case 1: sigmoid_avx2(a, y, count); break;
    default: sigmoid_baseline(a, y, count);
    }
}

double ckernels_sigmoid_squared_error(const float *a, const float *t, float *y, float *da, long count,
                                      float scale) {
    switch (level()) {
    case 2: return fused_avx512(a, t, y, da, count, scale);
    case 1: return fused_avx2(a, t, y, da, count, scale);
    default: return fused_baseline(a, t, y, da, count, scale);
    }
}

double ckernels_bce_logits_sum(const float *x, const float *t, long count) {
    switch (level()) {
    case 2: return bce_sum_avx512(x, t, count);
    case 1: return bce_sum_avx2(x, t, count);
    default: return bce_sum_baseline(x, t, count);
    }
}

void ckernels_bce_logits_gradient(const float *x, const float *t, float *dx, long count, float scale) {
    switch (level()) {
    case 2: bce_gradient_avx512(x, t, dx, count, scale); break;
    case 1: bce_gradient_avx2(x, t, dx, count, scale); break;
    default: bce_gradient_baseline(x, t, dx, count, scale);
    }
}
