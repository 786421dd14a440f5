/*
 * test_inspection.c -- the inspection calls of include/aecv.h from C, as a line computer's
 * program uses them: metrics on small cases whose answers are worked out by hand, argument
 * errors, and a calibration that a saved and reloaded model applies identically
 * (aecv_model_anomaly_calibrate / _calibration / _predict / _segment).
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_metrics(void) {
    /* Scores 1..4 with labels 0 0 1 1: perfect. One tie between classes out of 4 pairs: 3.5 / 4. */
    const float ordered[4] = {1, 2, 3, 4}, tied[4] = {1, 2, 2, 3};
    const uint8_t labels[4] = {0, 0, 1, 1};
    double auc = -1, f1 = -1, pro = -1;
    float threshold = -1;
    CHECK_STATUS(aecv_roc_auc(ordered, labels, 4, &auc), AECV_OK);
    CHECK(auc == 1.0);
    CHECK_STATUS(aecv_roc_auc(tied, labels, 4, &auc), AECV_OK);
    CHECK(auc == 0.875);
    /* Best F1 of the perfect ranking: 1, with the threshold between 2 and 3. */
    CHECK_STATUS(aecv_best_f1(ordered, labels, 4, &f1, &threshold), AECV_OK);
    CHECK(f1 == 1.0 && threshold == 2.5f);
    CHECK_STATUS(aecv_best_f1(ordered, labels, 4, &f1, NULL), AECV_OK);

    /* PRO of a 4x4 map equal to its mask (two regions): 1. A constant map: 0.15. */
    uint8_t mask[16] = {0};
    float map[16] = {0}, flat[16];
    mask[0] = mask[5] = 1;      /* diagonal neighbours: ONE 8-connected region */
    mask[15] = 1;               /* a second region */
    for (int i = 0; i < 16; i++) { map[i] = mask[i]; flat[i] = 0.5f; }
    CHECK_STATUS(aecv_per_region_overlap(map, mask, 1, 4, 4, 0.3, &pro), AECV_OK);
    CHECK(fabs(pro - 1.0) < 1e-12);
    CHECK_STATUS(aecv_per_region_overlap(flat, mask, 1, 4, 4, 0.3, &pro), AECV_OK);
    CHECK(fabs(pro - 0.15) < 1e-12);
    /* Finding only the 2-pixel region (not the 1-pixel one) gives PRO(FPR 0) = 1/2:
       the curve (0,0) -> (0,0.5) -> (1,1), mean height up to 0.3 = 0.575. */
    map[15] = 0;
    CHECK_STATUS(aecv_per_region_overlap(map, mask, 1, 4, 4, 0.3, &pro), AECV_OK);
    CHECK(fabs(pro - 0.575) < 1e-12);

    /* Errors name the problem and write nothing. */
    const uint8_t same[4] = {1, 1, 1, 1};
    auc = -1;
    CHECK_STATUS(aecv_roc_auc(ordered, same, 4, &auc), AECV_ERR_INVALID_ARGUMENT);
    CHECK(strstr(aecv_last_error(), "both classes") != NULL && auc == -1);
    CHECK_STATUS(aecv_roc_auc(NULL, labels, 4, &auc), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_roc_auc(ordered, NULL, 4, &auc), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_roc_auc(ordered, labels, 0, &auc), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_roc_auc(ordered, labels, 4, NULL), AECV_ERR_INVALID_ARGUMENT);
    const float nan_scores[4] = {1, NAN, 3, 4};
    CHECK_STATUS(aecv_roc_auc(nan_scores, labels, 4, &auc), AECV_ERR_NONFINITE);
    CHECK_STATUS(aecv_per_region_overlap(map, mask, 1, 4, 4, 0.0, &pro), AECV_ERR_INVALID_ARGUMENT);
    CHECK(strstr(aecv_last_error(), "fpr_limit") != NULL);
    const uint8_t none[16] = {0};
    CHECK_STATUS(aecv_per_region_overlap(map, none, 1, 4, 4, 0.3, &pro), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_per_region_overlap(map, mask, (size_t)-1, 4, 4, 0.3, &pro), AECV_ERR_NO_MEMORY);
}

/* Flat grey 8x8 images with a bright 3x3 square in the odd ones, on a 16x16 canvas. */
static void make_images(float *x, uint8_t *labels, uint8_t *masks, int n) {
    for (int i = 0; i < n; i++) {
        labels[i] = (uint8_t)(i % 2);
        for (int p = 0; p < 256; p++) {
            x[i * 256 + p] = 0.3f + 0.02f * (float)((p * 7 + i * 13) % 5);
            masks[i * 256 + p] = 0;
        }
        if (labels[i]) {
            int r0 = (i * 5) % 12, c0 = (i * 3) % 12;
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 3; c++) {
                    x[i * 256 + (r0 + r) * 16 + c0 + c] = 1.0f;
                    masks[i * 256 + (r0 + r) * 16 + c0 + c] = 1;
                }
        }
    }
}

static void test_calibration_round_trip(void) {
    enum { N = 12 };
    aecv_model *model = NULL;
    CHECK_STATUS(aecv_model_create("{\"preset\": \"conv\", \"input\": [1, 8, 8], \"hidden\": [4, 8], \"seed\": 3}",
                                   &model), AECV_OK);
    if (!model) return;
    static float x[N * 256];
    static uint8_t labels[N], masks[N * 256], flags[N], segmented[N * 256], flags2[N];
    static float scores[N], scores2[N], maps[N * 256];
    make_images(x, labels, masks, N);

    /* Not calibrated yet: predict says how to get a calibration; the JSON is empty. */
    char json[1024];
    CHECK(aecv_model_anomaly_calibration(model, json, sizeof json) == 0 && json[0] == 0);
    CHECK_STATUS(aecv_model_anomaly_predict(model, x, N, 16, 16, scores, flags, N), AECV_ERR_UNSUPPORTED);
    CHECK(strstr(aecv_last_error(), "calibrat") != NULL);

    /* Bad arguments. */
    CHECK_STATUS(aecv_model_anomaly_calibrate(model, x, N, 16, 16, 9, AECV_REDUCTION_MAX, 0, 0, 0.9, NULL, NULL),
                 AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_anomaly_calibrate(model, x, N, 16, 16, AECV_ANOMALY_MSE, 5, 0, 0, 0.9, NULL, NULL),
                 AECV_ERR_INVALID_ARGUMENT);
    CHECK(strstr(aecv_last_error(), "aecv_score_reduction") != NULL);
    CHECK_STATUS(aecv_model_anomaly_calibrate(model, x, N, 16, 16, AECV_ANOMALY_MSE, AECV_REDUCTION_TOP_MEAN, 0, 0, 0.9,
                                              NULL, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_anomaly_calibrate(model, x, N, 4, 16, AECV_ANOMALY_MSE, AECV_REDUCTION_MAX, 0, 0, 0.9,
                                              NULL, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK(strstr(aecv_last_error(), "smaller than the model's input") != NULL);
    CHECK_STATUS(aecv_model_anomaly_calibrate(model, x, N, 16, 16, AECV_ANOMALY_MSE, AECV_REDUCTION_MAX, 0, 0, 0.9,
                                              NULL, masks), AECV_ERR_INVALID_ARGUMENT);

    /* Calibrated with labels and masks: best-F1 thresholds. */
    CHECK_STATUS(aecv_model_anomaly_calibrate(model, x, N, 16, 16, AECV_ANOMALY_MSE, AECV_REDUCTION_TOP_MEAN, 0.05, 4,
                                              0.99, labels, masks), AECV_OK);
    size_t length = aecv_model_anomaly_calibration(model, json, sizeof json);
    CHECK(length > 0 && length == strlen(json));
    CHECK(strstr(json, "\"best_f1\"") != NULL && strstr(json, "\"tile_stride\":4") != NULL);
    CHECK_STATUS(aecv_model_anomaly_predict(model, x, N, 16, 16, scores, flags, N), AECV_OK);
    int correct = 0;
    for (int i = 0; i < N; i++) correct += flags[i] == labels[i];
    CHECK(correct == N); /* saturated squares on a flat image: separable even untrained */
    CHECK_STATUS(aecv_model_anomaly_segment(model, x, N, 16, 16, maps, segmented, N * 256), AECV_OK);
    CHECK_STATUS(aecv_model_anomaly_segment(model, x, N, 16, 16, maps, segmented, N * 256 - 1), AECV_ERR_SHAPE);
    CHECK_STATUS(aecv_model_anomaly_predict(model, x, N, 16, 16, scores, NULL, N), AECV_ERR_INVALID_ARGUMENT);

    /* The file carries it: a reloaded model decides identically. */
    char path[] = "/tmp/aecv-inspection-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK_STATUS(aecv_model_save(model, path), AECV_OK);
    aecv_model *loaded = NULL;
    CHECK_STATUS(aecv_model_load(path, &loaded), AECV_OK);
    unlink(path);
    if (loaded) {
        char json2[1024];
        CHECK(aecv_model_anomaly_calibration(loaded, json2, sizeof json2) == length && strcmp(json, json2) == 0);
        CHECK_STATUS(aecv_model_anomaly_predict(loaded, x, N, 16, 16, scores2, flags2, N), AECV_OK);
        CHECK(memcmp(scores, scores2, sizeof scores) == 0 && memcmp(flags, flags2, sizeof flags) == 0);
        aecv_model_free(loaded);
    }
    /* Truncated JSON follows snprintf: the full length is returned, the buffer NUL-terminated. */
    char small[8];
    CHECK(aecv_model_anomaly_calibration(model, small, sizeof small) == length && strlen(small) == 7);
    CHECK(aecv_model_anomaly_calibration(NULL, small, sizeof small) == 0 && small[0] == 0);
    aecv_model_free(model);
}

int main(void) {
    test_metrics();
    test_calibration_round_trip();
    printf("test_inspection: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
