/* Loading Fashion-MNIST (or any MNIST-family IDX file, gzipped or not) for the C examples and
 * benchmarks: images as float32 NCHW in [0, 1], labels as int32. Needs zlib (-lz). */
#ifndef AECV_EXAMPLES_FASHION_MNIST_H
#define AECV_EXAMPLES_FASHION_MNIST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Reads a whole (possibly gzipped) file; returns a malloc'd buffer or NULL. */
static inline unsigned char *idx_read_all(const char *path, size_t *out_size) {
    gzFile f = gzopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, size = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (size == cap) { cap *= 2; buf = realloc(buf, cap); }
        int n = gzread(f, buf + size, (unsigned)(cap - size));
        if (n < 0) { free(buf); gzclose(f); return NULL; }
        if (n == 0) break;
        size += (size_t)n;
    }
    gzclose(f);
    *out_size = size;
    return buf;
}

/* images: N×H×W uint8 IDX → float32 / 255. Returns count (≤ limit when limit > 0), 0 on error. */
static inline size_t idx_load_images(const char *path, size_t limit, float **out, size_t *out_pixels) {
    size_t size = 0;
    unsigned char *b = idx_read_all(path, &size);
    if (!b || size < 16 || b[2] != 8 || b[3] != 3) { free(b); return 0; }
    size_t n = (size_t)b[4] << 24 | (size_t)b[5] << 16 | (size_t)b[6] << 8 | b[7];
    size_t h = (size_t)b[8] << 24 | (size_t)b[9] << 16 | (size_t)b[10] << 8 | b[11];
    size_t w = (size_t)b[12] << 24 | (size_t)b[13] << 16 | (size_t)b[14] << 8 | b[15];
    if (limit && n > limit) n = limit;
    if (16 + n * h * w > size) { free(b); return 0; }
    float *x = malloc(n * h * w * sizeof(float));
    for (size_t i = 0; i < n * h * w; i++) x[i] = b[16 + i] / 255.0f;
    free(b);
    *out = x;
    *out_pixels = h * w;
    return n;
}

static inline size_t idx_load_labels(const char *path, size_t limit, int32_t **out) {
    size_t size = 0;
    unsigned char *b = idx_read_all(path, &size);
    if (!b || size < 8 || b[2] != 8 || b[3] != 1) { free(b); return 0; }
    size_t n = (size_t)b[4] << 24 | (size_t)b[5] << 16 | (size_t)b[6] << 8 | b[7];
    if (limit && n > limit) n = limit;
    if (8 + n > size) { free(b); return 0; }
    int32_t *y = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) y[i] = b[8 + i];
    free(b);
    *out = y;
    return n;
}

#endif
