// Gaussian input corruption for the denoising autoencoder (see include/ckernels.h).
//
// Box–Muller on the library's xoshiro256** stream. The generator is serial, so a block of words
// is drawn first; the math then runs 4 lanes at a time with no libm call: ln by Cephes' logf
// polynomial (about 1 ulp), sin and cos of the angle 2π·k/2^24 by its quadrant (the top 2 bits
// of k, exact) and Cephes' sinf/cosf polynomials on [−π/4, π/4] around the quadrant's middle.
#include "ckernels.h"

#include <string.h>

#pragma clang fp contract(off)

typedef float f4 __attribute__((ext_vector_type(4)));
typedef unsigned int u4 __attribute__((ext_vector_type(4)));
typedef int i4 __attribute__((ext_vector_type(4)));

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// xoshiro256**, the same step as RandomSource.next() in Swift.
static inline uint64_t next(uint64_t s[4]) {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

enum { BLOCK = 64 };   // pairs per block (multiple of 4)

// Standard normals for `pairs` pairs from the words u1bits[j] = w1 >> 40, kbits[j] = w2 >> 40:
// z[2j] = r·cos θ, z[2j+1] = r·sin θ, r = √(−2 ln u1), u1 = (u1bits + 1)/2^24, θ = 2π·k/2^24.
static void box_muller(const u4 *u1bits, const u4 *kbits, f4 *cosines, f4 *sines, size_t vectors) {
    for (size_t v = 0; v < vectors; v++) {
        // ln u1, u1 in (0, 1]: u1 = m·2^e with m in [0.5, 1), then m in [√½, √2) by moving a factor 2.
        f4 u = __builtin_convertvector(u1bits[v] + 1, f4) * (1.0f / 16777216.0f);
        u4 bits;
        memcpy(&bits, &u, sizeof bits);
        i4 e = (i4)((bits >> 23) & 0xFF) - 126;
        u4 mbits = (bits & 0x007FFFFFu) | 0x3F000000u;
        f4 m;
        memcpy(&m, &mbits, sizeof m);
        i4 small = m < 0.707106781186547524f;              // lanes: −1 where true, 0 where false
        e = e + small;                                     // e − 1 where small
        f4 mm;
        {
            f4 twice = m + m - 1.0f, once = m - 1.0f;
            u4 t, o, sm = (u4)small;
            memcpy(&t, &twice, sizeof t);
            memcpy(&o, &once, sizeof o);
            u4 r = (t & sm) | (o & ~sm);
            memcpy(&mm, &r, sizeof mm);
        }
        f4 z = mm * mm;
        f4 y = 7.0376836292e-2f;
        y = y * mm - 1.1514610310e-1f;
        y = y * mm + 1.1676998740e-1f;
        y = y * mm - 1.2420140846e-1f;
        y = y * mm + 1.4249322787e-1f;
        y = y * mm - 1.6668057665e-1f;
        y = y * mm + 2.0000714765e-1f;
        y = y * mm - 2.4999993993e-1f;
        y = y * mm + 3.3333331174e-1f;
        y = y * mm * z;
        f4 fe = __builtin_convertvector(e, f4);
        y = y + -2.12194440e-4f * fe;
        y = y + -0.5f * z;
        f4 ln = mm + y + 0.693359375f * fe;
        f4 radius = __builtin_elementwise_sqrt(-2.0f * ln);

        // θ = q·π/2 + φ, q = k >> 22; x = φ − π/4 in [−π/4, π/4).
        u4 k = kbits[v];
        u4 q = k >> 22;
        f4 x = __builtin_convertvector(k & 0x3FFFFFu, f4) * (float)(6.28318530717958647692 / 16777216.0)
               - 0.785398163397448309616f;
        f4 x2 = x * x;
        f4 sx = ((-1.9515295891e-4f * x2 + 8.3321608736e-3f) * x2 - 1.6666654611e-1f) * x2 * x + x;
        f4 cx = ((2.443315711809948e-5f * x2 - 1.388731625493765e-3f) * x2 + 4.166664568298827e-2f) * x2 * x2
                - 0.5f * x2 + 1.0f;
        // φ = x + π/4: sin φ = (sin x + cos x)/√2, cos φ = (cos x − sin x)/√2.
        f4 sphi = (sx + cx) * 0.707106781186547524f, cphi = (cx - sx) * 0.707106781186547524f;
        // Quadrant q: sin θ = (s, c, −s, −c), cos θ = (c, −s, −c, s) for q = 0, 1, 2, 3.
        u4 swap = (u4)(-(i4)(q & 1)), sbits, cbits, sn, cs;
        memcpy(&sbits, &sphi, sizeof sbits);
        memcpy(&cbits, &cphi, sizeof cbits);
        sn = ((cbits & swap) | (sbits & ~swap)) ^ ((q & 2) << 30);
        cs = ((sbits & swap) | (cbits & ~swap)) ^ (((q + 1) & 2) << 30);
        f4 sine, cosine;
        memcpy(&sine, &sn, sizeof sine);
        memcpy(&cosine, &cs, sizeof cosine);
        cosines[v] = radius * cosine;
        sines[v] = radius * sine;
    }
}

void ckernels_gaussian_corrupt(uint64_t state[4], const float *x, float *out, size_t count, float sigma) {
    u4 u1bits[BLOCK / 4], kbits[BLOCK / 4];
    f4 cosines[BLOCK / 4], sines[BLOCK / 4];
    const size_t pairs = (count + 1) / 2;
    for (size_t start = 0; start < pairs; start += BLOCK) {
        const size_t n = pairs - start < BLOCK ? pairs - start : BLOCK;
        unsigned int *a = (unsigned int *)u1bits, *b = (unsigned int *)kbits;
        for (size_t j = 0; j < n; j++) {
            a[j] = (unsigned int)(next(state) >> 40);
            b[j] = (unsigned int)(next(state) >> 40);
        }
        for (size_t j = n; j % 4 != 0; j++) a[j] = b[j] = 0;   // lanes past n: computed, unused
        box_muller(u1bits, kbits, cosines, sines, (n + 3) / 4);
        const float *c = (const float *)cosines, *s = (const float *)sines;
        for (size_t j = 0; j < n; j++) {
            const size_t i = 2 * (start + j);
            float v = x[i] + sigma * c[j];
            out[i] = v < 0 ? 0 : (v > 1 ? 1 : v);
            if (i + 1 < count) {
                v = x[i + 1] + sigma * s[j];
                out[i + 1] = v < 0 ? 0 : (v > 1 ? 1 : v);
            }
        }
    }
}
