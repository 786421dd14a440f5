/*
 * test_gradients.c -- the data-parallel pieces of the C API: compute_gradients + apply_gradients
 * against train_step, the gradient view as an allreduce would use it (two half batches averaged
 * equal one full batch), the flat parameter and buffer vectors, and their error paths.
 * Last line: "N passed, M failed"; exit status nonzero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <aecv.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *SPECS[] = {
    "{\"preset\": \"conv\", \"input\": [1, 12, 12], \"hidden\": [4, 8], \"seed\": 3}",
    "{\"preset\": \"vae\", \"input\": [1, 8, 8], \"hidden\": [16], \"latent\": 3, \"seed\": 4}",
};

static void fill(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 2654435761u + seed * 40503u) % 1000) / 1000.0f;
}

static aecv_model *make(const char *spec) {
    aecv_model *m = NULL;
    if (aecv_model_create(spec, &m) != AECV_OK) { fprintf(stderr, "create: %s\n", aecv_last_error()); exit(2); }
    return m;
}

static float *parameters(aecv_model *m) {
    size_t n = aecv_model_parameter_count(m);
    float *p = malloc(n * sizeof *p);
    CHECK_STATUS(aecv_model_get_parameters(m, p, n), AECV_OK);
    return p;
}

/* Largest |a - b| / max(|b|, 1e-3) over n floats. */
static double relative_difference(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(fabs((double)b[i]), 1e-3);
        if (d > worst) worst = d;
    }
    return worst;
}

/* compute + apply is train_step, bit for bit, over several steps. */
static void test_split_step_equals_train_step(const char *spec) {
    aecv_model *a = make(spec), *b = make(spec);
    size_t in = aecv_model_input_size(a), batch = 8, n = aecv_model_parameter_count(a);
    float *x = malloc(batch * in * sizeof *x);
    for (int step = 0; step < 3; step++) {
        fill(x, batch * in, (unsigned)step);
        float la = 0, lb = 0;
        CHECK_STATUS(aecv_model_train_step(a, x, NULL, batch, &la), AECV_OK);
        CHECK_STATUS(aecv_model_compute_gradients(b, x, NULL, batch, &lb), AECV_OK);
        CHECK_STATUS(aecv_model_apply_gradients(b), AECV_OK);
        CHECK(memcmp(&la, &lb, sizeof la) == 0);
    }
    float *pa = parameters(a), *pb = parameters(b);
    CHECK(memcmp(pa, pb, n * sizeof *pa) == 0);
    free(pa); free(pb); free(x);
    aecv_model_free(a); aecv_model_free(b);
}

/* Two "ranks" on half batches, gradients averaged through the view, equal one process on the
   whole batch (the VAE draws its noise per rank, so only the deterministic conv is compared
   this way; its objective is a mean over the batch). */
static void test_averaged_halves_equal_full_batch(void) {
    const char *spec = SPECS[0];
    aecv_model *full = make(spec), *rank0 = make(spec), *rank1 = make(spec);
    size_t in = aecv_model_input_size(full), n = aecv_model_parameter_count(full), half = 16;
    float *x = malloc(2 * half * in * sizeof *x), *sum = malloc(n * sizeof *sum);
    for (int step = 0; step < 5; step++) {
        fill(x, 2 * half * in, 10u + (unsigned)step);
        CHECK_STATUS(aecv_model_train_step(full, x, NULL, 2 * half, NULL), AECV_OK);
        float *g0 = NULL, *g1 = NULL;
        size_t n0 = 0, n1 = 0;
        CHECK_STATUS(aecv_model_compute_gradients(rank0, x, NULL, half, NULL), AECV_OK);
        CHECK_STATUS(aecv_model_compute_gradients(rank1, x + half * in, NULL, half, NULL), AECV_OK);
        CHECK_STATUS(aecv_model_gradients(rank0, &g0, &n0), AECV_OK);
        CHECK_STATUS(aecv_model_gradients(rank1, &g1, &n1), AECV_OK);
        CHECK(n0 == n && n1 == n && g0 != NULL && g1 != NULL);
        for (size_t i = 0; i < n; i++) sum[i] = g0[i] + g1[i];            /* the allreduce */
        for (size_t i = 0; i < n; i++) g0[i] = g1[i] = sum[i] / 2.0f;     /* ... and the mean */
        CHECK_STATUS(aecv_model_apply_gradients(rank0), AECV_OK);
        CHECK_STATUS(aecv_model_apply_gradients(rank1), AECV_OK);
    }
    float *pf = parameters(full), *p0 = parameters(rank0), *p1 = parameters(rank1);
    CHECK(memcmp(p0, p1, n * sizeof *p0) == 0);           /* the ranks agree exactly */
    double d = relative_difference(p0, pf, n);
    CHECK(d < 1e-4);
    if (d >= 1e-4) fprintf(stderr, "averaged halves vs full batch: relative difference %g\n", d);
    free(pf); free(p0); free(p1); free(x); free(sum);
    aecv_model_free(full); aecv_model_free(rank0); aecv_model_free(rank1);
}

static void test_errors_leave_the_model_unchanged(void) {
    aecv_model *m = make(SPECS[0]);
    size_t in = aecv_model_input_size(m), n = aecv_model_parameter_count(m), batch = 4;
    float *x = malloc(batch * in * sizeof *x);
    fill(x, batch * in, 7);
    CHECK_STATUS(aecv_model_apply_gradients(m), AECV_ERR_INVALID_ARGUMENT);   /* nothing computed */
    CHECK(strstr(aecv_last_error(), "compute_gradients") != NULL);
    float *before = parameters(m);

    /* NaN in the inputs: nothing pending afterwards. */
    x[3] = NAN;
    CHECK_STATUS(aecv_model_compute_gradients(m, x, NULL, batch, NULL), AECV_ERR_NONFINITE);
    CHECK_STATUS(aecv_model_apply_gradients(m), AECV_ERR_INVALID_ARGUMENT);
    x[3] = 0.5f;

    /* A poisoned gradient buffer: refused, parameters bit-identical, gradients still pending. */
    float *g = NULL;
    size_t count = 0;
    CHECK_STATUS(aecv_model_compute_gradients(m, x, NULL, batch, NULL), AECV_OK);
    CHECK_STATUS(aecv_model_gradients(m, &g, &count), AECV_OK);
    float saved = g[0];
    g[0] = INFINITY;
    CHECK_STATUS(aecv_model_apply_gradients(m), AECV_ERR_NONFINITE);
    float *after = parameters(m);
    CHECK(memcmp(before, after, n * sizeof *before) == 0);
    g[0] = saved;
    CHECK_STATUS(aecv_model_apply_gradients(m), AECV_OK);
    float *stepped = parameters(m);
    CHECK(memcmp(before, stepped, n * sizeof *before) != 0);

    /* Flat parameters: round trip, wrong count, NaN, capacity. */
    CHECK_STATUS(aecv_model_set_parameters(m, before, n), AECV_OK);
    float *restored = parameters(m);
    CHECK(memcmp(before, restored, n * sizeof *before) == 0);
    CHECK_STATUS(aecv_model_set_parameters(m, before, n - 1), AECV_ERR_SHAPE);
    before[5] = NAN;
    CHECK_STATUS(aecv_model_set_parameters(m, before, n), AECV_ERR_NONFINITE);
    float *unchanged = parameters(m);
    CHECK(memcmp(restored, unchanged, n * sizeof *restored) == 0);
    CHECK_STATUS(aecv_model_get_parameters(m, unchanged, n - 1), AECV_ERR_SHAPE);
    CHECK_STATUS(aecv_model_get_parameters(m, NULL, n), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_gradients(m, NULL, &count), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_gradients(NULL, &g, &count), AECV_ERR_INVALID_ARGUMENT);
    CHECK(g == NULL && count == 0);

    /* No buffers in the presets: the empty vector is accepted, a non-empty one refused. */
    CHECK(aecv_model_buffer_count(m) == 0);
    CHECK(aecv_model_buffer_count(NULL) == 0);
    CHECK_STATUS(aecv_model_get_buffers(m, NULL, 0), AECV_OK);
    CHECK_STATUS(aecv_model_set_buffers(m, NULL, 0), AECV_OK);
    CHECK_STATUS(aecv_model_set_buffers(m, x, 1), AECV_ERR_SHAPE);
    free(before); free(after); free(stepped); free(restored); free(unchanged); free(x);
    aecv_model_free(m);
}

/* Uneven shards (4, 3, 2, 1 of a batch of 10), each weighted for the whole batch and summed,
   equal one process on the whole batch: gradients and losses, for the conv AE and for the VAE,
   whose reparameterization noise is drawn per example position, so it must match too. Then the
   summed gradients applied on each "rank" give the same parameters as the full-batch step. */
static void test_summed_shards_equal_full_batch(const char *spec) {
    enum { RANKS = 4 };
    const size_t sizes[RANKS] = {4, 3, 2, 1}, total = 10;
    aecv_model *full = make(spec), *ranks[RANKS];
    for (int r = 0; r < RANKS; r++) ranks[r] = make(spec);
    size_t in = aecv_model_input_size(full), n = aecv_model_parameter_count(full);
    float *x = malloc(total * in * sizeof *x), *sum = calloc(n, sizeof *sum);
    fill(x, total * in, 7);
    float full_loss = 0, loss_sum = 0;
    CHECK_STATUS(aecv_model_compute_gradients(full, x, NULL, total, &full_loss), AECV_OK);
    float *g = NULL; size_t count = 0;
    CHECK_STATUS(aecv_model_gradients(full, &g, &count), AECV_OK);
    size_t first = 0;
    for (int r = 0; r < RANKS; r++) {
        float loss = 0, *gr = NULL; size_t cr = 0;
        CHECK_STATUS(aecv_model_compute_gradients_shard(ranks[r], x + first * in, NULL, sizes[r], first, total, &loss),
                     AECV_OK);
        CHECK_STATUS(aecv_model_gradients(ranks[r], &gr, &cr), AECV_OK);
        for (size_t i = 0; i < n; i++) sum[i] += gr[i];
        loss_sum += loss;
        first += sizes[r];
    }
    CHECK(count == n);
    CHECK(relative_difference(sum, g, n) < 1e-4);
    CHECK(fabs(loss_sum - full_loss) <= 1e-5 * fabs(full_loss));
    /* A shard at the wrong place gives a different gradient (the test can fail). */
    aecv_model *other = make(spec);
    float *go = NULL;
    CHECK_STATUS(aecv_model_compute_gradients_shard(other, x, NULL, 4, 0, 4, NULL), AECV_OK);
    CHECK_STATUS(aecv_model_gradients(other, &go, &count), AECV_OK);
    CHECK(relative_difference(go, g, n) > 1e-3);
    /* Out of range: refused, nothing pending. */
    CHECK_STATUS(aecv_model_compute_gradients_shard(other, x, NULL, 4, 7, 10, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_compute_gradients_shard(other, x, NULL, 4, 0, 3, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_apply_gradients(full), AECV_OK);
    float *pf = parameters(full);
    for (int r = 0; r < RANKS; r++) {
        float *gr = NULL; size_t cr = 0;
        CHECK_STATUS(aecv_model_gradients(ranks[r], &gr, &cr), AECV_OK);
        memcpy(gr, sum, n * sizeof *sum);
        CHECK_STATUS(aecv_model_apply_gradients(ranks[r]), AECV_OK);
        float *pr = parameters(ranks[r]);
        CHECK(relative_difference(pr, pf, n) < 1e-5);
        free(pr);
        aecv_model_free(ranks[r]);
    }
    free(pf); free(x); free(sum);
    aecv_model_free(full); aecv_model_free(other);
}

int main(void) {
    for (size_t k = 0; k < sizeof SPECS / sizeof SPECS[0]; k++) test_split_step_equals_train_step(SPECS[k]);
    test_averaged_halves_equal_full_batch();
    for (size_t k = 0; k < sizeof SPECS / sizeof SPECS[0]; k++) test_summed_shards_equal_full_batch(SPECS[k]);
    test_errors_leave_the_model_unchanged();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
