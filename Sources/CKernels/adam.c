// The Adam update loop (see include/ckernels.h for the formula and why it is in C).
#include "ckernels.h"

#include <string.h>

// Bitwise the same results as the scalar formula on every target: no contraction into FMA.
#pragma clang fp contract(off)

typedef float v4 __attribute__((ext_vector_type(4)));

static inline v4 load4(const float *x) { v4 r; memcpy(&r, x, sizeof r); return r; }
static inline void store4(float *x, v4 r) { memcpy(x, &r, sizeof r); }

int ckernels_adam_update(size_t count, const float *p, const float *grad, const float *m, const float *v,
                     float *new_p, float *new_m, float *new_v,
                     float step_size, float root_correction2, float beta1, float beta2,
                     float epsilon, float weight_decay) {
    const float c1 = 1 - beta1, c2 = 1 - beta2;
    // x·0 is 0 for finite x and NaN for ±Inf or NaN: one accumulator flags any non-finite value.
    v4 bad4 = 0;
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        v4 g = load4(grad + i), pi = load4(p + i);
        if (weight_decay != 0) g = g + weight_decay * pi;
        v4 mi = beta1 * load4(m + i) + c1 * g;
        v4 vi = beta2 * load4(v + i) + c2 * g * g;
        v4 pn = pi - step_size * mi / (__builtin_elementwise_sqrt(vi) / root_correction2 + epsilon);
        store4(new_m + i, mi);
        store4(new_v + i, vi);
        store4(new_p + i, pn);
        bad4 += mi * 0 + vi * 0 + pn * 0;
    }
    float bad = 0;
    for (int k = 0; k < 4; k++) bad += bad4[k];
    for (; i < count; i++) {
        float g = weight_decay != 0 ? grad[i] + weight_decay * p[i] : grad[i];
        float mi = beta1 * m[i] + c1 * g;
        float vi = beta2 * v[i] + c2 * g * g;
        float pn = p[i] - step_size * mi / (__builtin_sqrtf(vi) / root_correction2 + epsilon);
        new_m[i] = mi;
        new_v[i] = vi;
        new_p[i] = pn;
        bad += mi * 0 + vi * 0 + pn * 0;
    }
    return bad == 0;
}
