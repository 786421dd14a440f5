/*
 * test_concurrency.c -- four handles trained in parallel while another thread keeps changing
 * the library's thread count (aecv_set_num_threads), and four threads scoring, calibrating and
 * predicting on one shared handle. Run by `make test-c` and, under ThreadSanitizer, by `make
 * tsan` (with test_capi.c's shared-handle and free-during-use tests), where any data race
 * fails the run.
 *
 * What can be asserted about results: each handle's training is the same sequence of steps on
 * the same data, so the four final losses agree with a reference trained alone up to the
 * rounding that different thread splits of one batch give (1e-4 relative); and a step never
 * sees the thread count change half-way (it reads the setting once), which would show as a
 * wrong part count, i.e. a crash or a NaN.
 *
 * The third test covers the products of one image that are split by rows among the threads
 * (the pool's runShort): one-image VAE reconstructs on two threads, next to two-image ones (one
 * part, not split), batch encodes that take the pool the ordinary way, and a thread changing the
 * thread count. Every row is summed the same way whichever thread takes it, so the reconstructs
 * must equal, bit for bit, the same calls made alone on one thread.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { HANDLES = 4, STEPS = 12, BATCH = 48, SIZE = 784 };

static const char *spec = "{\"preset\": \"conv\", \"input\": [1, 28, 28], \"seed\": 11}";
/* With BatchNorm, the parts of a split batch meet mid-pass to combine their statistics: they
 * must run together, or fall back to one part when the pool is busy with another handle. */
static const char *bn_spec = "{\"preset\": \"conv\", \"input\": [1, 28, 28], \"seed\": 11, \"batch_norm\": true}";

static void make_batch(float *x, int n, int seed) {
    unsigned s = (unsigned)seed * 2654435761u + 1;
    for (int i = 0; i < n * SIZE; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f;
    }
}

struct trainer {
    aecv_model *model;
    const float *x;
    float loss;
    int failures;
};

static void *train_main(void *arg) {
    struct trainer *t = arg;
    for (int i = 0; i < STEPS; i++) {
        if (aecv_model_train_step(t->model, t->x, NULL, BATCH, &t->loss) != AECV_OK || !isfinite(t->loss)) {
            t->failures++;
            fprintf(stderr, "    train step %d: %s\n", i, aecv_last_error());
        }
    }
    return NULL;
}

/* Set by the main thread, read by the toggler: an atomic (a plain volatile is a data race). */
static int stop_toggling;

static void *toggle_main(void *arg) {
    int *changes = arg;
    for (int n = 1; !__atomic_load_n(&stop_toggling, __ATOMIC_ACQUIRE); n = n % 4 + 1) {
        if (aecv_set_num_threads(n) == AECV_OK) (*changes)++;
    }
    return NULL;
}

static void test_handles_while_the_thread_count_changes(const char *spec) {
    static float x[BATCH * SIZE];
    make_batch(x, BATCH, 1);
    /* The reference: one handle alone, 2 threads. */
    aecv_model *reference = NULL;
    CHECK_STATUS(aecv_model_create(spec, &reference), AECV_OK);
    CHECK_STATUS(aecv_set_num_threads(2), AECV_OK);
    struct trainer ref = {reference, x, NAN, 0};
    train_main(&ref);
    CHECK(ref.failures == 0 && isfinite(ref.loss));

    struct trainer trainers[HANDLES];
    pthread_t threads[HANDLES], toggler;
    int changes = 0;
    for (int i = 0; i < HANDLES; i++) {
        trainers[i] = (struct trainer){NULL, x, NAN, 0};
        CHECK_STATUS(aecv_model_create(spec, &trainers[i].model), AECV_OK);
    }
    __atomic_store_n(&stop_toggling, 0, __ATOMIC_RELEASE);
    CHECK(pthread_create(&toggler, NULL, toggle_main, &changes) == 0);
    for (int i = 0; i < HANDLES; i++) CHECK(pthread_create(&threads[i], NULL, train_main, &trainers[i]) == 0);
    for (int i = 0; i < HANDLES; i++) pthread_join(threads[i], NULL);
    __atomic_store_n(&stop_toggling, 1, __ATOMIC_RELEASE);
    pthread_join(toggler, NULL);
    CHECK(changes > 0);
    for (int i = 0; i < HANDLES; i++) {
        CHECK(trainers[i].failures == 0);
        CHECK(fabsf(trainers[i].loss - ref.loss) <= 1e-4f * fabsf(ref.loss));
        aecv_model_free(trainers[i].model);
    }
    aecv_model_free(reference);
    CHECK_STATUS(aecv_set_num_threads(2), AECV_OK);
}

struct inspector {
    aecv_model *model;
    const float *x;
    int role, failures;
};

static void *inspect_main(void *arg) {
    struct inspector *w = arg;
    float scores[8], maps[8 * SIZE];
    uint8_t flags[8];
    for (int i = 0; i < 6; i++) {
        aecv_status s;
        switch (w->role) {
        case 0: s = aecv_model_anomaly_calibrate(w->model, w->x, 8, 28, 28, AECV_ANOMALY_SSIM, AECV_REDUCTION_TOP_MEAN,
                                                 0.05, 0, 0.9, NULL, NULL); break;
        case 1: s = aecv_model_anomaly_image_scores(w->model, w->x, 8, 28, 28, AECV_ANOMALY_BLURRED_MSE,
                                                    AECV_REDUCTION_MAX, 0, 0, scores, 8); break;
        case 2: s = aecv_model_anomaly_pixel_maps(w->model, w->x, 8, 28, 28, AECV_ANOMALY_MSE, 0, maps, 8 * SIZE); break;
        default: {
            /* Calibrated by role 0 before the threads start, so predict always has one. */
            s = aecv_model_anomaly_predict(w->model, w->x, 8, 28, 28, scores, flags, 8);
            char json[512];
            if (aecv_model_anomaly_calibration(w->model, json, sizeof json) == 0) w->failures++;
        }
        }
        if (s != AECV_OK) {
            w->failures++;
            fprintf(stderr, "    inspector role %d: %s\n", w->role, aecv_last_error());
        }
    }
    return NULL;
}

static void test_one_handle_inspected_by_four_threads(void) {
    static float x[8 * SIZE];
    make_batch(x, 8, 2);
    aecv_model *model = NULL;
    CHECK_STATUS(aecv_model_create(spec, &model), AECV_OK);
    CHECK_STATUS(aecv_model_anomaly_calibrate(model, x, 8, 28, 28, AECV_ANOMALY_MSE, AECV_REDUCTION_MEAN, 0, 0, 0.5,
                                              NULL, NULL), AECV_OK);
    struct inspector workers[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (struct inspector){model, x, i, 0};
        CHECK(pthread_create(&threads[i], NULL, inspect_main, &workers[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].failures == 0);
    }
    aecv_model_free(model);
}

enum { SPLIT_IMAGES = 6, SPLIT_ROUNDS = 40 };
static const char *vae_spec = "{\"preset\": \"vae\", \"input\": [1, 28, 28], \"seed\": 5}";
static const char *dense_spec = "{\"preset\": \"dense\", \"input\": [1, 28, 28], \"seed\": 6}";

struct splitter {
    aecv_model *model;
    const float *x, *expected;   /* SPLIT_IMAGES images and their reconstructions alone */
    int pairs;                   /* reconstruct two images per call (parts of one image each) */
    int mismatches, failures;
};

static void *split_main(void *arg) {
    struct splitter *w = arg;
    float y[2 * SIZE];
    for (int r = 0; r < SPLIT_ROUNDS; r++) {
        for (int i = 0; i + w->pairs < SPLIT_IMAGES; i += 1 + w->pairs) {
            const size_t n = 1 + (size_t)w->pairs;
            if (aecv_model_reconstruct(w->model, w->x + i * SIZE, n, y, n * SIZE) != AECV_OK) {
                w->failures++;
                fprintf(stderr, "    reconstruct: %s\n", aecv_last_error());
                continue;
            }
            if (memcmp(y, w->expected + i * SIZE, n * SIZE * sizeof(float)) != 0) w->mismatches++;
        }
    }
    return NULL;
}

struct batcher {
    aecv_model *model;
    const float *x;
    int failures;
};

static void *batch_main(void *arg) {
    struct batcher *b = arg;
    float codes[16 * 64];
    const size_t latent = aecv_model_latent_size(b->model);
    for (int r = 0; r < SPLIT_ROUNDS; r++) {
        if (latent > 64 || aecv_model_encode(b->model, b->x, 16, codes, 16 * latent) != AECV_OK
            || !isfinite(codes[0])) {
            b->failures++;
            fprintf(stderr, "    batch encode: %s\n", aecv_last_error());
        }
    }
    return NULL;
}

static void test_split_products_next_to_other_work(void) {
    static float x[16 * SIZE], expected[SPLIT_IMAGES * SIZE], expected_pairs[SPLIT_IMAGES * SIZE];
    make_batch(x, 16, 3);
    aecv_model *vae = NULL, *vae2 = NULL, *dense = NULL;
    CHECK_STATUS(aecv_model_create(vae_spec, &vae), AECV_OK);
    CHECK_STATUS(aecv_model_create(vae_spec, &vae2), AECV_OK);
    CHECK_STATUS(aecv_model_create(dense_spec, &dense), AECV_OK);
    CHECK_STATUS(aecv_set_num_threads(1), AECV_OK);
    for (int i = 0; i < SPLIT_IMAGES; i++)
        CHECK_STATUS(aecv_model_reconstruct(vae, x + i * SIZE, 1, expected + i * SIZE, SIZE), AECV_OK);
    for (int i = 0; i + 1 < SPLIT_IMAGES; i += 2)
        CHECK_STATUS(aecv_model_reconstruct(vae, x + i * SIZE, 2, expected_pairs + i * SIZE, 2 * SIZE), AECV_OK);
    /* Alone on two threads first: the split itself, without contention, gives the same floats. */
    CHECK_STATUS(aecv_set_num_threads(2), AECV_OK);
    struct splitter alone = {vae, x, expected, 0, 0, 0};
    split_main(&alone);
    CHECK(alone.failures == 0 && alone.mismatches == 0);

    struct splitter singles = {vae, x, expected, 0, 0, 0}, pairs = {vae2, x, expected_pairs, 1, 0, 0};
    struct batcher batches = {dense, x, 0};
    pthread_t t1, t2, t3, toggler;
    int changes = 0;
    __atomic_store_n(&stop_toggling, 0, __ATOMIC_RELEASE);
    CHECK(pthread_create(&toggler, NULL, toggle_main, &changes) == 0);
    CHECK(pthread_create(&t1, NULL, split_main, &singles) == 0);
    CHECK(pthread_create(&t2, NULL, split_main, &pairs) == 0);
    CHECK(pthread_create(&t3, NULL, batch_main, &batches) == 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_join(t3, NULL);
    __atomic_store_n(&stop_toggling, 1, __ATOMIC_RELEASE);
    pthread_join(toggler, NULL);
    CHECK(changes > 0);
    CHECK(singles.failures == 0 && singles.mismatches == 0);
    CHECK(pairs.failures == 0 && pairs.mismatches == 0);
    CHECK(batches.failures == 0);
    aecv_model_free(vae);
    aecv_model_free(vae2);
    aecv_model_free(dense);
    CHECK_STATUS(aecv_set_num_threads(2), AECV_OK);
}

int main(void) {
    test_handles_while_the_thread_count_changes(spec);
    test_handles_while_the_thread_count_changes(bn_spec);
    test_one_handle_inspected_by_four_threads();
    test_split_products_next_to_other_work();
    printf("test_concurrency: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
