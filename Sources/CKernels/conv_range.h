// The one range computation the C convolution loops share (im2col_single.c, direct_conv.c); the
// Swift batch-minor loops have the same formula in Im2Col.swift's validRange. Private to
// CKernels (not under include/).
#ifndef AECV_CONV_RANGE_H
#define AECV_CONV_RANGE_H

// Output positions o in [0, count) whose input coordinate o·s − p + j lies in [0, size):
// o in [*low, *high). Hoisting it out of the inner loops leaves them branch-free.
//   o·s − p + j ≥ 0  ⇔  o ≥ ⌈(p − j)/s⌉;   o·s − p + j ≤ size − 1  ⇔  o ≤ ⌊(size − 1 + p − j)/s⌋
static inline void valid_range(long j, long s, long p, long size, long count, long *low, long *high) {
    long lo = p - j <= 0 ? 0 : (p - j + s - 1) / s;
    const long num = size - 1 + p - j;
    long hi = num < 0 ? 0 : num / s + 1;
    if (lo > count) lo = count;
    if (hi < lo) hi = lo;
    if (hi > count) hi = count;
    *low = lo; *high = hi;
}

#endif
