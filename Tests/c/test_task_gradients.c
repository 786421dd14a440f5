/*
 * test_task_gradients.c -- the data-parallel functions of the classifier and the detector
 * (the shared trainable core): compute + apply equals train_step bit for bit; two half batches'
 * gradients averaged through the view equal the whole batch's; the flat parameter and buffer
 * vectors round-trip and refuse bad input; apply without pending gradients is refused.
 * Last line: "N passed, M failed"; exit status nonzero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <aecv.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void fill(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 2654435761u + seed * 40503u) % 1000) / 1000.0f;
}

static double relative_difference(const float *a, const float *b, size_t n) {
    double worst = 0, scale = 1e-6;
    for (size_t i = 0; i < n; i++) if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / scale;
        if (d > worst) worst = d;
    }
    return worst;
}

static aecv_model *autoencoder(void) {
    aecv_model *m = NULL;
    if (aecv_model_create("{\"preset\": \"dense\", \"input\": [1, 8, 8], \"hidden\": [16], \"latent\": 6, \"seed\": 2}",
                          &m) != AECV_OK) { fprintf(stderr, "create: %s\n", aecv_last_error()); exit(2); }
    return m;
}

enum { BATCH = 8, SIZE = 64 };

static aecv_classifier *classifier(aecv_model *ae, const char *spec) {
    aecv_classifier *c = NULL;
    if (aecv_classifier_create(ae, spec, &c) != AECV_OK) { fprintf(stderr, "classifier: %s\n", aecv_last_error()); exit(2); }
    return c;
}

static void test_classifier(void) {
    aecv_model *ae = autoencoder();
    /* Standardization statistics are batch statistics (they do not split); without them the
       objective is a mean over examples and halves average to the whole. */
    const char *spec = "{\"classes\": 3, \"hidden\": [5], \"freeze_encoder\": false, \"standardize\": false}";
    aecv_classifier *a = classifier(ae, spec), *b = classifier(ae, spec);
    aecv_classifier *h0 = classifier(ae, spec), *h1 = classifier(ae, spec);
    size_t n = aecv_classifier_parameter_count(a);
    CHECK(n > 0 && aecv_classifier_parameter_count(NULL) == 0);
    CHECK(aecv_classifier_buffer_count(a) == 0);
    float x[BATCH * SIZE];
    int32_t labels[BATCH];
    for (int i = 0; i < BATCH; i++) labels[i] = i % 3;
    fill(x, sizeof x / sizeof x[0], 1);
    float la = 0, lb = 0, *g = NULL, *g0 = NULL, *g1 = NULL;
    size_t count = 0;
    CHECK_STATUS(aecv_classifier_apply_gradients(b), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_classifier_train_step(a, x, labels, BATCH, &la), AECV_OK);
    CHECK_STATUS(aecv_classifier_compute_gradients(b, x, labels, BATCH, &lb), AECV_OK);
    CHECK_STATUS(aecv_classifier_gradients(b, &g, &count), AECV_OK);
    CHECK(count == n && g != NULL);
    /* halves, averaged */
    CHECK_STATUS(aecv_classifier_compute_gradients(h0, x, labels, BATCH / 2, NULL), AECV_OK);
    CHECK_STATUS(aecv_classifier_compute_gradients(h1, x + BATCH / 2 * SIZE, labels + BATCH / 2, BATCH / 2, NULL), AECV_OK);
    CHECK_STATUS(aecv_classifier_gradients(h0, &g0, &count), AECV_OK);
    CHECK_STATUS(aecv_classifier_gradients(h1, &g1, &count), AECV_OK);
    float *mean = malloc(n * sizeof *mean);
    for (size_t i = 0; i < n; i++) mean[i] = (g0[i] + g1[i]) / 2;
    CHECK(relative_difference(mean, g, n) < 1e-5);
    CHECK(relative_difference(g0, g, n) > 1e-3); /* one half alone is not the whole */
    CHECK_STATUS(aecv_classifier_apply_gradients(b), AECV_OK);
    CHECK(memcmp(&la, &lb, sizeof la) == 0);
    float *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
    CHECK_STATUS(aecv_classifier_get_parameters(a, pa, n), AECV_OK);
    CHECK_STATUS(aecv_classifier_get_parameters(b, pb, n), AECV_OK);
    CHECK(memcmp(pa, pb, n * sizeof *pa) == 0);
    /* set: round trip, refusals leave it unchanged */
    CHECK_STATUS(aecv_classifier_set_parameters(h0, pa, n), AECV_OK);
    CHECK_STATUS(aecv_classifier_get_parameters(h0, pb, n), AECV_OK);
    CHECK(memcmp(pa, pb, n * sizeof *pa) == 0);
    CHECK_STATUS(aecv_classifier_set_parameters(h0, pa, n - 1), AECV_ERR_SHAPE);
    pa[0] = NAN;
    CHECK_STATUS(aecv_classifier_set_parameters(h0, pa, n), AECV_ERR_NONFINITE);
    CHECK_STATUS(aecv_classifier_get_parameters(h0, pa, n), AECV_OK);
    CHECK(memcmp(pa, pb, n * sizeof *pa) == 0);
    CHECK_STATUS(aecv_classifier_get_parameters(h0, pa, n - 1), AECV_ERR_SHAPE);
    CHECK_STATUS(aecv_classifier_gradients(NULL, &g, &count), AECV_ERR_INVALID_ARGUMENT);
    CHECK(g == NULL && count == 0);
    CHECK_STATUS(aecv_classifier_gradients((aecv_classifier *)ae, &g, &count), AECV_ERR_INVALID_ARGUMENT);
    /* a NaN input: refused, nothing pending */
    x[3] = NAN;
    CHECK_STATUS(aecv_classifier_compute_gradients(h1, x, labels, BATCH, NULL), AECV_ERR_NONFINITE);
    CHECK_STATUS(aecv_classifier_apply_gradients(h1), AECV_ERR_INVALID_ARGUMENT);
    free(mean); free(pa); free(pb);
    aecv_classifier_free(a); aecv_classifier_free(b); aecv_classifier_free(h0); aecv_classifier_free(h1);

    /* With standardization: its running statistics are the buffer vector. */
    aecv_classifier *s = classifier(ae, "{\"classes\": 3}");
    size_t nb = aecv_classifier_buffer_count(s);
    CHECK(nb > 0);
    float *buf = malloc(nb * sizeof *buf), *buf2 = malloc(nb * sizeof *buf2);
    CHECK_STATUS(aecv_classifier_get_buffers(s, buf, nb), AECV_OK);
    fill(x, sizeof x / sizeof x[0], 2);
    CHECK_STATUS(aecv_classifier_compute_gradients(s, x, labels, BATCH, NULL), AECV_OK);
    CHECK_STATUS(aecv_classifier_get_buffers(s, buf2, nb), AECV_OK);
    CHECK(memcmp(buf, buf2, nb * sizeof *buf) == 0);       /* pending, not committed */
    CHECK_STATUS(aecv_classifier_apply_gradients(s), AECV_OK);
    CHECK_STATUS(aecv_classifier_get_buffers(s, buf2, nb), AECV_OK);
    CHECK(memcmp(buf, buf2, nb * sizeof *buf) != 0);       /* committed with the step */
    CHECK_STATUS(aecv_classifier_set_buffers(s, buf, nb), AECV_OK);
    CHECK_STATUS(aecv_classifier_get_buffers(s, buf2, nb), AECV_OK);
    CHECK(memcmp(buf, buf2, nb * sizeof *buf) == 0);
    CHECK_STATUS(aecv_classifier_set_buffers(s, buf, nb + 1), AECV_ERR_SHAPE);
    free(buf); free(buf2);
    aecv_classifier_free(s);
    aecv_model_free(ae);
}

static aecv_detector *detector(void) {
    aecv_detector *d = NULL;
    if (aecv_detector_create(NULL, "{\"classes\": 2, \"input\": [1, 32, 32], \"head_channels\": 8, \"anchor\": 10}",
                             &d) != AECV_OK) { fprintf(stderr, "detector: %s\n", aecv_last_error()); exit(2); }
    return d;
}

static void test_detector(void) {
    aecv_detector *a = detector(), *b = detector(), *h0 = detector(), *h1 = detector();
    size_t n = aecv_detector_parameter_count(a), count = 0;
    CHECK(n > 0 && aecv_detector_parameter_count(NULL) == 0 && aecv_detector_buffer_count(a) == 0);
    enum { IMAGES = 4, PIXELS = 1024 };
    static float images[IMAGES * PIXELS];
    fill(images, IMAGES * PIXELS, 3);
    float boxes[IMAGES * 5];
    for (int i = 0; i < IMAGES; i++) {
        float row[5] = {(float)(i % 2), 4.0f + i, 5.0f, 20.0f + i, 22.0f};
        memcpy(boxes + 5 * i, row, sizeof row);
    }
    float la = 0, lb = 0, *g = NULL, *g0 = NULL, *g1 = NULL;
    CHECK_STATUS(aecv_detector_train_step(a, images, IMAGES, boxes, 1, &la), AECV_OK);
    CHECK_STATUS(aecv_detector_compute_gradients(b, images, IMAGES, boxes, 1, &lb), AECV_OK);
    CHECK_STATUS(aecv_detector_gradients(b, &g, &count), AECV_OK);
    CHECK(count == n);
    CHECK_STATUS(aecv_detector_compute_gradients(h0, images, IMAGES / 2, boxes, 1, NULL), AECV_OK);
    CHECK_STATUS(aecv_detector_compute_gradients(h1, images + IMAGES / 2 * PIXELS, IMAGES / 2, boxes + 5 * IMAGES / 2, 1, NULL),
                 AECV_OK);
    CHECK_STATUS(aecv_detector_gradients(h0, &g0, &count), AECV_OK);
    CHECK_STATUS(aecv_detector_gradients(h1, &g1, &count), AECV_OK);
    float *mean = malloc(n * sizeof *mean);
    for (size_t i = 0; i < n; i++) mean[i] = (g0[i] + g1[i]) / 2;
    CHECK(relative_difference(mean, g, n) < 1e-5);
    CHECK(relative_difference(g0, g, n) > 1e-3);
    CHECK_STATUS(aecv_detector_apply_gradients(b), AECV_OK);
    CHECK_STATUS(aecv_detector_apply_gradients(b), AECV_ERR_INVALID_ARGUMENT);
    CHECK(memcmp(&la, &lb, sizeof la) == 0);
    float *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
    CHECK_STATUS(aecv_detector_get_parameters(a, pa, n), AECV_OK);
    CHECK_STATUS(aecv_detector_get_parameters(b, pb, n), AECV_OK);
    CHECK(memcmp(pa, pb, n * sizeof *pa) == 0);
    CHECK_STATUS(aecv_detector_set_parameters(h0, pa, n), AECV_OK);
    CHECK_STATUS(aecv_detector_get_parameters(h0, pb, n), AECV_OK);
    CHECK(memcmp(pa, pb, n * sizeof *pa) == 0);
    CHECK_STATUS(aecv_detector_set_parameters(h0, pa, n + 1), AECV_ERR_SHAPE);
    CHECK_STATUS(aecv_detector_get_buffers(h0, NULL, 0), AECV_OK);
    CHECK_STATUS(aecv_detector_set_buffers(h0, pa, 1), AECV_ERR_SHAPE);
    CHECK_STATUS(aecv_detector_apply_gradients(NULL), AECV_ERR_INVALID_ARGUMENT);
    free(mean); free(pa); free(pb);
    aecv_detector_free(a); aecv_detector_free(b); aecv_detector_free(h0); aecv_detector_free(h1);
}

int main(void) {
    test_classifier();
    test_detector();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
