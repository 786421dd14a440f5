/*
 * test_onnx.c -- the ONNX entry points through the installed header and library: every part
 * exports, a bad part or path is refused without touching an existing file, our own export
 * imports back into a model with the same outputs (that then trains), and malformed or
 * unsupported files are clean errors naming the problem.
 *
 * Built and run by `make test-c` like every C file in Tests/c.
 */
#define _POSIX_C_SOURCE 200809L

#include <aecv.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, " (last_error: \"%s\")\n", aecv_last_error());  \
            failures++;                                                     \
        }                                                                   \
    } while (0)

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

int main(void) {
    const char *spec = "{\"preset\":\"conv\",\"input\":[1,12,12],\"hidden\":[4,8],\"seed\":5}";
    char path[64], bad[64];
    aecv_model *m = NULL, *back = NULL, *vae = NULL;
    float x[2 * 144], a[2 * 144], b[2 * 144], loss = 0;
    size_t i;
    int part;
    FILE *f;

    snprintf(path, sizeof path, "/tmp/aecv-test-onnx-%d.onnx", (int)getpid());
    snprintf(bad, sizeof bad, "/tmp/aecv-test-onnx-%d.bad.onnx", (int)getpid());
    for (i = 0; i < 2 * 144; i++) x[i] = (float)((i * 37) % 101) / 101.0f;

    CHECK(aecv_model_create(spec, &m) == AECV_OK, "create");
    for (part = AECV_PART_AUTOENCODER; part <= AECV_PART_DECODER; part++) {
        CHECK(aecv_model_export_onnx(m, path, part) == AECV_OK, "export part %d", part);
        CHECK(file_size(path) > 1000, "part %d: file of %ld bytes", part, file_size(path));
    }
    CHECK(aecv_model_export_onnx(m, path, 3) == AECV_ERR_INVALID_ARGUMENT, "part 3 refused");
    CHECK(strstr(aecv_last_error(), "part") != NULL, "the error names the part");
    CHECK(aecv_model_export_onnx(NULL, path, 0) == AECV_ERR_INVALID_ARGUMENT, "NULL model");
    CHECK(aecv_model_export_onnx(m, "/nonexistent-dir/x.onnx", 0) == AECV_ERR_IO, "bad directory");

    /* The decoder export is the last written: import needs the whole autoencoder. */
    CHECK(aecv_model_export_onnx(m, path, AECV_PART_AUTOENCODER) == AECV_OK, "export autoencoder");
    CHECK(aecv_model_import_onnx(path, NULL, &back) == AECV_OK, "import our export");
    CHECK(back != NULL && aecv_model_latent_size(back) == aecv_model_latent_size(m), "same code size");
    CHECK(aecv_model_reconstruct(m, x, 2, a, 2 * 144) == AECV_OK, "reconstruct original");
    CHECK(aecv_model_reconstruct(back, x, 2, b, 2 * 144) == AECV_OK, "reconstruct imported");
    for (i = 0; i < 2 * 144; i++) {
        if (fabsf(a[i] - b[i]) > 1e-6f) { CHECK(0, "output %zu: %g vs %g", i, a[i], b[i]); break; }
    }
    CHECK(aecv_model_train_step(back, x, NULL, 2, &loss) == AECV_OK && loss > 0, "imported model trains");
    aecv_model_free(back);
    back = NULL;

    CHECK(aecv_model_import_onnx(path, "{\"loss\":\"bce\",\"seed\":9}", &back) == AECV_OK, "overrides");
    aecv_model_free(back);
    back = NULL;
    CHECK(aecv_model_import_onnx(path, "{\"code\":\"no-such-value\"}", &back) == AECV_ERR_CONFIG
              && back == NULL, "unknown code value");
    CHECK(aecv_model_import_onnx(path, "[1]", &back) == AECV_ERR_CONFIG, "overrides not an object");

    /* Truncated: a format error, never a crash. */
    f = fopen(bad, "wb");
    fwrite("\x3a\x7f\x0a", 1, 3, f);
    fclose(f);
    CHECK(aecv_model_import_onnx(bad, NULL, &back) == AECV_ERR_FORMAT && back == NULL, "truncated file");
    CHECK(aecv_model_import_onnx("/nonexistent.onnx", NULL, &back) == AECV_ERR_IO, "missing file");
    CHECK(aecv_model_import_onnx(NULL, NULL, &back) == AECV_ERR_INVALID_ARGUMENT, "NULL path");

    /* A VAE's encoder slices [mu | logvar]: no layer imports Slice yet. */
    CHECK(aecv_model_create("{\"preset\":\"vae\",\"input\":[1,8,8],\"hidden\":[8],\"latent\":2}", &vae) == AECV_OK, "vae");
    CHECK(aecv_model_export_onnx(vae, bad, AECV_PART_AUTOENCODER) == AECV_OK, "vae export");
    CHECK(aecv_model_import_onnx(bad, NULL, &back) == AECV_ERR_UNSUPPORTED, "Slice unsupported");
    CHECK(strstr(aecv_last_error(), "Slice") != NULL && strstr(aecv_last_error(), "fc_mu") != NULL,
          "the error names the operator and the node");

    aecv_model_free(vae);
    aecv_model_free(m);
    unlink(path);
    unlink(bad);
    if (failures) {
        fprintf(stderr, "test_onnx: %d FAILED\n", failures);
        return 1;
    }
    printf("test_onnx: all checks passed\n");
    return 0;
}
