/*
 * test_conditional.c -- the cvae preset through the C API: aecv_model_train_step_labeled and
 * aecv_model_sample_class, their argument checks, a NaN batch that leaves the model unchanged,
 * and samples that depend on the class (and only on the seed otherwise).
 * Last line: "N passed, M failed"; exit status nonzero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <aecv.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define IN 16
#define BATCH 8
static const char *SPEC = "{\"preset\": \"cvae\", \"input\": [1, 4, 4], \"hidden\": [16], \"latent\": 2, "
                          "\"classes\": 3, \"seed\": 2}";

static float *parameters(aecv_model *m) {
    size_t n = aecv_model_parameter_count(m);
    float *p = malloc(n * sizeof *p);
    CHECK_STATUS(aecv_model_get_parameters(m, p, n), AECV_OK);
    return p;
}

int main(void) {
    aecv_model *m = NULL;
    CHECK_STATUS(aecv_model_create(SPEC, &m), AECV_OK);
    if (!m) return 1;
    float x[BATCH * IN], loss = -1;
    int32_t labels[BATCH];
    for (int i = 0; i < BATCH * IN; i++) x[i] = (float)((i * 37) % 100) / 100.0f;
    for (int i = 0; i < BATCH; i++) labels[i] = i % 3;

    /* argument checks */
    CHECK_STATUS(aecv_model_train_step_labeled(NULL, x, labels, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_train_step_labeled(m, NULL, labels, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_train_step_labeled(m, x, NULL, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK(strstr(aecv_last_error(), "labels") != NULL);
    CHECK_STATUS(aecv_model_train_step_labeled(m, x, labels, 0, &loss), AECV_ERR_INVALID_ARGUMENT);
    labels[5] = 3;
    CHECK_STATUS(aecv_model_train_step_labeled(m, x, labels, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK(strstr(aecv_last_error(), "labels[5] = 3") != NULL);
    labels[5] = -1;
    CHECK_STATUS(aecv_model_train_step_labeled(m, x, labels, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
    labels[5] = 2;
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, BATCH, &loss), AECV_ERR_UNSUPPORTED);
    CHECK(strstr(aecv_last_error(), "train_step_labeled") != NULL);

    /* a NaN batch leaves the parameters and the step count as they were */
    float *before = parameters(m);
    size_t n = aecv_model_parameter_count(m);
    float bad[BATCH * IN];
    memcpy(bad, x, sizeof bad);
    bad[17] = NAN;
    CHECK_STATUS(aecv_model_train_step_labeled(m, bad, labels, BATCH, &loss), AECV_ERR_NONFINITE);
    float *after = parameters(m);
    CHECK(memcmp(before, after, n * sizeof *before) == 0);
    free(after);
    /* ... and the random and optimizer state: the next step equals a fresh model's first step */
    aecv_model *fresh = NULL;
    CHECK_STATUS(aecv_model_create(SPEC, &fresh), AECV_OK);
    float loss_fresh = -2;
    CHECK_STATUS(aecv_model_train_step_labeled(fresh, x, labels, BATCH, &loss_fresh), AECV_OK);
    CHECK_STATUS(aecv_model_train_step_labeled(m, x, labels, BATCH, &loss), AECV_OK);
    CHECK(loss == loss_fresh);
    float *p_fresh = parameters(fresh);
    after = parameters(m);
    CHECK(memcmp(p_fresh, after, n * sizeof *after) == 0);
    free(p_fresh); free(after);
    aecv_model_free(fresh);

    /* labeled steps train */
    float first = 0;
    for (int step = 0; step < 30; step++) {
        CHECK_STATUS(aecv_model_train_step_labeled(m, x, labels, BATCH, &loss), AECV_OK);
        if (step == 0) first = loss;
    }
    CHECK(isfinite(loss) && loss < first);
    after = parameters(m);
    CHECK(memcmp(before, after, n * sizeof *before) != 0);
    free(before); free(after);

    /* sample_class */
    float a[4 * IN], b[4 * IN], c[4 * IN];
    CHECK_STATUS(aecv_model_sample_class(NULL, 0, 4, 1, a, 4 * IN), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_sample_class(m, 0, 4, 1, NULL, 4 * IN), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_sample_class(m, 0, 0, 1, a, 4 * IN), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_sample_class(m, 3, 4, 1, a, 4 * IN), AECV_ERR_INVALID_ARGUMENT);
    CHECK(strstr(aecv_last_error(), "class 3") != NULL);
    CHECK_STATUS(aecv_model_sample_class(m, -1, 4, 1, a, 4 * IN), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_sample_class(m, 0, 4, 1, a, 4 * IN - 1), AECV_ERR_SHAPE);
    CHECK_STATUS(aecv_model_sample_class(m, 0, 4, 7, a, 4 * IN), AECV_OK);
    CHECK_STATUS(aecv_model_sample_class(m, 0, 4, 7, b, 4 * IN), AECV_OK);
    CHECK(memcmp(a, b, sizeof a) == 0); /* same class and seed: same images */
    CHECK_STATUS(aecv_model_sample_class(m, 1, 4, 7, c, 4 * IN), AECV_OK);
    CHECK(memcmp(a, c, sizeof a) != 0); /* class 1 differs from class 0 with the same z */
    int in_range = 1;
    for (int i = 0; i < 4 * IN; i++) in_range &= a[i] >= 0 && a[i] <= 1;
    CHECK(in_range);

    /* not a cvae */
    aecv_model *vae = NULL;
    CHECK_STATUS(aecv_model_create("{\"preset\": \"vae\", \"input\": [1, 4, 4], \"hidden\": [8], \"latent\": 2}", &vae), AECV_OK);
    CHECK_STATUS(aecv_model_train_step_labeled(vae, x, labels, BATCH, &loss), AECV_ERR_UNSUPPORTED);
    CHECK_STATUS(aecv_model_sample_class(vae, 0, 4, 7, a, 4 * IN), AECV_ERR_UNSUPPORTED);
    aecv_model_free(vae);
    aecv_model_free(m);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
