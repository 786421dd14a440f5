/*
 * test_capi.c -- the C API of libaecv (include/aecv.h), exercised as a C host would: every
 * function, its error paths, hostile inputs, model files (truncated, corrupted), and threads.
 *
 * Built by `make test-c` against the INSTALLED header and library (pkg-config aecv) with
 * -Wall -Wextra -Werror -std=c99. No framework: CHECK counts, prints failures with file:line,
 * and the last line is "N passed, M failed"; the exit status is nonzero on any failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <aecv.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* checks                                                                                     */

static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static int passed, failed;

static int check(int ok, const char *what, const char *file, int line) {
    pthread_mutex_lock(&check_lock);
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "%s:%d: FAILED: %.160s (last_error: \"%s\")\n", file, line, what,
                aecv_last_error());
    }
    pthread_mutex_unlock(&check_lock);
    return ok;
}

static int check_status(aecv_status got, aecv_status want, const char *what, const char *file,
                        int line) {
    pthread_mutex_lock(&check_lock);
    int ok = got == want;
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "%s:%d: FAILED: %.160s returned %s (%d), expected %s (%d); last_error: \"%s\"\n",
                file, line, what, aecv_status_name(got), (int)got, aecv_status_name(want),
                (int)want, aecv_last_error());
    }
    pthread_mutex_unlock(&check_lock);
    return ok;
}

#define CHECK(cond) check(!!(cond), #cond, __FILE__, __LINE__)
#define CHECK_STATUS(expr, want) check_status((expr), (want), #expr, __FILE__, __LINE__)
/* The last error of this thread mentions `word` (e.g. the argument's name). */
#define CHECK_ERROR_MENTIONS(word) \
    check(strstr(aecv_last_error(), (word)) != NULL, "last_error mentions \"" word "\"", \
          __FILE__, __LINE__)
#define CHECK_NO_ERROR() \
    check(aecv_last_error() != NULL && aecv_last_error()[0] == '\0', "last_error is \"\"", \
          __FILE__, __LINE__)

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                    */

static const char *conv_spec = "{\"preset\":\"conv\",\"input\":[1,28,28]}";
static const char *dense_spec = "{\"preset\":\"dense\",\"input\":[1,28,28]}";
static const float sentinel = -12345.0f;
static char temp_dir[256];

/* Deterministic pseudo-images in [0, 1]: smooth blobs plus a little hash noise. */
static void make_batch(float *x, size_t batch, size_t size, uint32_t seed) {
    uint32_t state = seed * 2654435761u + 12345u;
    for (size_t b = 0; b < batch; b++) {
        for (size_t i = 0; i < size; i++) {
            state = state * 1664525u + 1013904223u;
            float noise = (float)(state >> 8) / 16777216.0f;
            size_t r = (i / 28) % 28, c = i % 28;
            float cx = 14.0f + (float)((b * 3 + seed) % 7) - 3.0f, cy = 14.0f;
            float d2 = ((float)c - cx) * ((float)c - cx) + ((float)r - cy) * ((float)r - cy);
            float v = expf(-d2 / 40.0f) * 0.9f + 0.1f * noise;
            x[b * size + i] = v < 0 ? 0 : (v > 1 ? 1 : v);
        }
    }
}

static float *alloc_floats(size_t n, float fill) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) p[i] = fill;
    return p;
}

static int all_equal(const float *p, size_t n, float value) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&p[i], &value, sizeof value) != 0) return 0;
    return 1;
}

static int all_finite(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i])) return 0;
    return 1;
}

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *data = NULL;
    size_t capacity = 0, length = 0;
    for (;;) {
        if (length == capacity) {
            capacity = capacity ? capacity * 2 : 65536;
            unsigned char *grown = realloc(data, capacity);
            if (!grown) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = grown;
        }
        size_t got = fread(data + length, 1, capacity - length, f);
        length += got;
        if (got == 0) break;
    }
    fclose(f);
    *size = length;
    return data;
}

static int write_file(const char *path, const unsigned char *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void temp_path(char *out, size_t capacity, const char *name) {
    snprintf(out, capacity, "%s/%s", temp_dir, name);
}

/* The bytes of a model file written by aecv_model_save, malloc'd. */
static unsigned char *saved_bytes(aecv_model *m, const char *name, size_t *size) {
    char path[512];
    temp_path(path, sizeof path, name);
    if (aecv_model_save(m, path) != AECV_OK) return NULL;
    unsigned char *data = read_file(path, size);
    remove(path);
    return data;
}

static aecv_model *create(const char *spec) {
    aecv_model *m = NULL;
    aecv_status s = aecv_model_create(spec, &m);
    if (!check_status(s, AECV_OK, spec, __FILE__, __LINE__)) return NULL;
    return m;
}

/* ------------------------------------------------------------------------------------------ */
/* version, status names, last error, threads setting                                         */

static void test_version(void) {
    char expected[32];
    CHECK(aecv_version_number() == AECV_VERSION_NUMBER);
    CHECK(AECV_VERSION_NUMBER ==
          AECV_VERSION_MAJOR * 10000 + AECV_VERSION_MINOR * 100 + AECV_VERSION_PATCH);
    CHECK(aecv_version_number() == 100);
    CHECK(aecv_version_string() != NULL);
    CHECK(strcmp(aecv_version_string(), AECV_VERSION_STRING) == 0);
    snprintf(expected, sizeof expected, "%d.%d.%d", AECV_VERSION_MAJOR, AECV_VERSION_MINOR,
             AECV_VERSION_PATCH);
    CHECK(strcmp(aecv_version_string(), expected) == 0);
    CHECK(aecv_version_string() == aecv_version_string()); /* static */
}

static void test_status_names(void) {
    static const struct { aecv_status code; const char *name; } known[] = {
        {AECV_OK, "AECV_OK"},
        {AECV_ERR_INVALID_ARGUMENT, "AECV_ERR_INVALID_ARGUMENT"},
        {AECV_ERR_SHAPE, "AECV_ERR_SHAPE"},
        {AECV_ERR_CONFIG, "AECV_ERR_CONFIG"},
        {AECV_ERR_NONFINITE, "AECV_ERR_NONFINITE"},
        {AECV_ERR_IO, "AECV_ERR_IO"},
        {AECV_ERR_FORMAT, "AECV_ERR_FORMAT"},
        {AECV_ERR_NO_MEMORY, "AECV_ERR_NO_MEMORY"},
        {AECV_ERR_UNSUPPORTED, "AECV_ERR_UNSUPPORTED"},
        {AECV_ERR_INTERNAL, "AECV_ERR_INTERNAL"},
    };
    static const aecv_status unknown[] = {9, 42, 99, 101, -1, INT32_MIN, INT32_MAX};
    size_t i, j;

    /* the contract's values */
    CHECK(AECV_OK == 0 && AECV_ERR_INVALID_ARGUMENT == 1 && AECV_ERR_SHAPE == 2 &&
          AECV_ERR_CONFIG == 3 && AECV_ERR_NONFINITE == 4 && AECV_ERR_IO == 5 &&
          AECV_ERR_FORMAT == 6 && AECV_ERR_NO_MEMORY == 7 && AECV_ERR_UNSUPPORTED == 8 &&
          AECV_ERR_INTERNAL == 100);
    for (i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *name = aecv_status_name(known[i].code);
        if (!CHECK(name != NULL)) continue;
        if (!CHECK(strcmp(name, known[i].name) == 0))
            fprintf(stderr, "    status %d: got \"%s\", expected \"%s\"\n", (int)known[i].code,
                    name, known[i].name);
    }
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *name = aecv_status_name(unknown[i]);
        if (!CHECK(name != NULL)) continue;
        CHECK(name[0] != '\0');
        for (j = 0; j < sizeof known / sizeof known[0]; j++)
            CHECK(strcmp(name, known[j].name) != 0);
    }
}

static void test_last_error_and_threads(void) {
    CHECK(aecv_last_error() != NULL);
    CHECK_STATUS(aecv_set_num_threads(1), AECV_OK);
    CHECK_NO_ERROR();
    CHECK_STATUS(aecv_set_num_threads(0), AECV_ERR_INVALID_ARGUMENT);
    CHECK(aecv_last_error()[0] != '\0');
    CHECK_ERROR_MENTIONS("n");
    /* the query functions leave the message alone (printf-friendly) */
    (void)aecv_status_name(AECV_ERR_SHAPE);
    (void)aecv_version_string();
    CHECK(aecv_last_error()[0] != '\0');
    CHECK_STATUS(aecv_set_num_threads(-1), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_set_num_threads(INT32_MIN), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_set_num_threads(INT32_MAX), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_set_num_threads(2), AECV_OK);
    CHECK_NO_ERROR();
    CHECK_STATUS(aecv_set_num_threads(1), AECV_OK);
    CHECK_NO_ERROR();
}

/* ------------------------------------------------------------------------------------------ */
/* create                                                                                     */

static void expect_config_error(const char *spec, const char *label) {
    aecv_model *m = (aecv_model *)&temp_dir; /* a non-NULL garbage value: must become NULL */
    aecv_status s = aecv_model_create(spec, &m);
    if (!check_status(s, AECV_ERR_CONFIG, label, __FILE__, __LINE__)) {
        if (s == AECV_OK) aecv_model_free(m);
        return;
    }
    CHECK(m == NULL);
    CHECK(aecv_last_error()[0] != '\0');
}

static char *repeat_nesting(size_t depth, const char *open, const char *close, int closed) {
    size_t lo = strlen(open), lc = strlen(close);
    char *s = malloc(depth * (lo + lc) + 64);
    char *p = s;
    if (!s) exit(2);
    p += sprintf(p, "{\"preset\":\"conv\",\"input\":[1,28,28],\"x\":");
    for (size_t i = 0; i < depth; i++, p += lo) memcpy(p, open, lo);
    if (closed)
        for (size_t i = 0; i < depth; i++, p += lc) memcpy(p, close, lc);
    strcpy(p, closed ? "}" : "");
    return s;
}

static void test_create_errors(void) {
    aecv_model *m = (aecv_model *)&temp_dir;
    static const char *bad[] = {
        "",
        " ",
        "{",
        "}",
        "[]",
        "null",
        "42",
        "\"conv\"",
        "not json",
        "{\"preset\":\"conv\",\"input\":[1,28,28]",
        "{\"preset\":\"conv\",\"input\":[1,28,28]}}",
        "{\"preset\":\"conv\",\"input\":[1,28,28]} trailing",
        "{\"preset\":\"conv\",\"input\":[1,28,28],}",
        "{preset:\"conv\",\"input\":[1,28,28]}",
        "{'preset':'conv','input':[1,28,28]}",
        "{\"preset\":\"conv\"}",
        "{\"input\":[1,28,28],\"preset\":\"no_such_preset\"}",
        "{\"preset\":\"conv\",\"input\":[1,28,28],\"unknown_key\":1}",
        "{\"preset\":\"conv\",\"input\":[1,28,28],\"preset\":\"dense\"}",
        "{\"preset\":1,\"input\":[1,28,28]}",
        "{\"preset\":\"conv\",\"input\":\"1,28,28\"}",
        "{\"preset\":\"conv\",\"input\":[1,28]}",
        "{\"preset\":\"conv\",\"input\":[1,28,28,1]}",
        "{\"preset\":\"conv\",\"input\":[1,28,28.5]}",
        "{\"preset\":\"conv\",\"input\":[0,28,28]}",
        "{\"preset\":\"conv\",\"input\":[-1,28,28]}",
        "{\"preset\":\"conv\",\"input\":[1,true,28]}",
        "{\"preset\":\"conv\",\"input\":[1,null,28]}",
        "{\"preset\":\"dense\",\"input\":[1,4000000000,4000000000]}",
        "{\"preset\":\"dense\",\"input\":[1,4e9,4e9]}",
        "{\"preset\":\"dense\",\"input\":[1,1e999,28]}",
        "{\"preset\":\"dense\",\"input\":[1,99999999999999999999999999999,28]}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"hidden\":[100000000000]}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"hidden\":[1e11]}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"hidden\":[0]}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"latent\":100000000000}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"latent\":-5}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"latent\":\"64\"}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"seed\":-1}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"seed\":1.5}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"seed\":\"0\"}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"loss\":\"hinge\"}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"optimizer\":{\"name\":\"rmsprop\"}}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"optimizer\":{\"learning_rate\":\"fast\"}}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"optimizer\":{\"name\":\"adam\",\"bogus\":1}}",
        "{\"preset\":\"dense\",\"input\":[1,28,28],\"optimizer\":[]}",
        "{\"preset\":\"sparse\",\"input\":[1,28,28],\"sparsity\":{\"l3\":1}}",
        "{\"preset\":\"denoising\",\"input\":[1,28,28],\"noise\":{\"gaussian\":\"a lot\"}}",
        "{\"preset\":\"custom\",\"input\":[1,28,28],\"encoder\":[{\"type\":\"warp\"}],"
        "\"decoder\":[]}",
        "{\"preset\":\"conv\",\"input\":[1,28,28],\"x\":\"\xff\xfe\"}",
        "\xef\xbb\xbf\xff{\"preset\":\"conv\",\"input\":[1,28,28]}",
        "{\"preset\":\"conv\",\"input\":[1,28,28],\"x\":\"\\ud800\"}",
    };
    size_t i;

    /* NULL arguments */
    CHECK_STATUS(aecv_model_create(NULL, &m), AECV_ERR_INVALID_ARGUMENT);
    CHECK(m == NULL);
    CHECK_ERROR_MENTIONS("spec_json");
    CHECK_STATUS(aecv_model_create(conv_spec, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("out_model");
    CHECK_STATUS(aecv_model_create(NULL, NULL), AECV_ERR_INVALID_ARGUMENT);

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* unknown keys and the like are allowed to be ignored only if the contract says so; it
           says they are CONFIG errors */
        expect_config_error(bad[i], bad[i]);
    }
    /* the message names the field */
    expect_config_error("{\"preset\":\"conv\",\"input\":[1,28,28],\"unknown_key\":1}", "unknown key");
    CHECK_ERROR_MENTIONS("unknown_key");
    expect_config_error("{\"preset\":\"dense\",\"input\":[1,28,28],\"latent\":\"64\"}", "latent type");
    CHECK_ERROR_MENTIONS("latent");

    /* deep nesting, closed and unclosed, arrays and objects: an error, not a stack overflow */
    {
        char *s = repeat_nesting(100000, "[", "]", 1);
        expect_config_error(s, "100000 nested arrays");
        free(s);
        s = repeat_nesting(100000, "[", "]", 0);
        expect_config_error(s, "100000 unclosed arrays");
        free(s);
        s = repeat_nesting(50000, "{\"a\":", "}", 1);
        expect_config_error(s, "50000 nested objects");
        free(s);
        s = repeat_nesting(65, "[", "]", 1);
        expect_config_error(s, "65 nested arrays");
        free(s);
    }
    /* longer than the 1 MiB limit (valid JSON padded with spaces) */
    {
        size_t n = (1u << 20) + 100;
        char *s = malloc(n + 1);
        if (!s) exit(2);
        memset(s, ' ', n);
        memcpy(s + n - strlen(conv_spec), conv_spec, strlen(conv_spec));
        s[n] = '\0';
        expect_config_error(s, "spec longer than 1 MiB");
        free(s);
    }
    /* a long string value and a huge array inside the limit: an error (unknown key), no crash */
    {
        size_t n = 900000;
        char *s = malloc(n + 200);
        char *p;
        if (!s) exit(2);
        p = s + sprintf(s, "{\"preset\":\"conv\",\"input\":[1,28,28],\"x\":[");
        while ((size_t)(p - s) < n) p += sprintf(p, "1e308,");
        strcpy(p, "1]}");
        expect_config_error(s, "huge array");
        free(s);
    }

    /* after all that, a good spec still works and the message is cleared */
    m = NULL;
    CHECK_STATUS(aecv_model_create(conv_spec, &m), AECV_OK);
    CHECK(m != NULL);
    CHECK_NO_ERROR();
    aecv_model_free(m);
    aecv_model_free(NULL); /* no-op */
}

/* ------------------------------------------------------------------------------------------ */
/* shapes and spec                                                                            */

static void test_shapes_and_spec(void) {
    aecv_model *conv = create(conv_spec), *dense = create(dense_spec), *again = NULL;
    char buffer[8192];
    size_t n;
    if (!conv || !dense) goto done;

    CHECK(aecv_model_input_size(conv) == 784);
    CHECK(aecv_model_latent_size(conv) == 1024);
    CHECK(aecv_model_parameter_count(conv) == 46529);
    /* 784*256+256 + 256*64+64 + 64*256+256 + 256*784+784 */
    CHECK(aecv_model_input_size(dense) == 784);
    CHECK(aecv_model_latent_size(dense) == 64);
    CHECK(aecv_model_parameter_count(dense) == 435536);
    CHECK(aecv_model_input_size(NULL) == 0);
    CHECK(aecv_model_latent_size(NULL) == 0);
    CHECK(aecv_model_parameter_count(NULL) == 0);

    /* snprintf semantics */
    n = aecv_model_spec(conv, NULL, 0);
    CHECK(n > 0 && n < sizeof buffer - 1);
    if (n == 0 || n >= sizeof buffer - 1) goto done;
    memset(buffer, 'X', sizeof buffer);
    CHECK(aecv_model_spec(conv, buffer, 0) == n);
    CHECK(buffer[0] == 'X');
    CHECK(aecv_model_spec(conv, buffer, 1) == n);
    CHECK(buffer[0] == '\0' && buffer[1] == 'X');
    memset(buffer, 'X', sizeof buffer);
    CHECK(aecv_model_spec(conv, buffer, 6) == n);
    CHECK(buffer[5] == '\0' && strlen(buffer) == 5 && buffer[6] == 'X');
    memset(buffer, 'X', sizeof buffer);
    CHECK(aecv_model_spec(conv, buffer, n) == n); /* one short: truncated by one */
    CHECK(strlen(buffer) == n - 1 && buffer[n] == 'X');
    memset(buffer, 'X', sizeof buffer);
    CHECK(aecv_model_spec(conv, buffer, n + 1) == n);
    CHECK(strlen(buffer) == n && buffer[n + 1] == 'X');
    CHECK(strstr(buffer, "\"preset\"") != NULL);
    CHECK(strstr(buffer, "\"conv\"") != NULL);
    CHECK(strstr(buffer, "\"input\"") != NULL);
    CHECK(strstr(buffer, "\"seed\"") != NULL); /* defaults filled in */
    memset(buffer, 'X', sizeof buffer);
    CHECK(aecv_model_spec(conv, buffer, sizeof buffer) == n);
    CHECK(strlen(buffer) == n);
    CHECK(aecv_model_spec(NULL, NULL, 0) == 0);
    buffer[0] = 'X';
    CHECK(aecv_model_spec(NULL, buffer, 10) == 0);
    CHECK(buffer[0] == '\0');

    /* the filled spec builds the same architecture */
    aecv_model_spec(conv, buffer, sizeof buffer);
    CHECK_STATUS(aecv_model_create(buffer, &again), AECV_OK);
    if (again) {
        char second[8192];
        CHECK(aecv_model_parameter_count(again) == 46529);
        CHECK(aecv_model_latent_size(again) == 1024);
        CHECK(aecv_model_spec(again, second, sizeof second) == n);
        CHECK(strcmp(buffer, second) == 0);
    }
done:
    aecv_model_free(again);
    aecv_model_free(conv);
    aecv_model_free(dense);
}

/* Every preset builds and trains one step with a finite loss; sample only on generative kinds. */
static void test_presets(void) {
    static const struct { const char *spec; int generative; } presets[] = {
        {"{\"preset\":\"conv\",\"input\":[1,28,28]}", 0},
        {"{\"preset\":\"dense\",\"input\":[1,28,28]}", 0},
        {"{\"preset\":\"sparse\",\"input\":[1,28,28],\"sparsity\":{\"l1\":0.001}}", 0},
        {"{\"preset\":\"sparse\",\"input\":[1,28,28],\"sparsity\":{\"kl\":{\"rho\":0.05,\"beta\":3}}}", 0},
        {"{\"preset\":\"denoising\",\"input\":[1,28,28],\"noise\":{\"gaussian\":0.3}}", 0},
        {"{\"preset\":\"denoising\",\"input\":[1,28,28],\"base\":\"dense\",\"noise\":{\"masking\":0.25}}", 0},
        {"{\"preset\":\"vae\",\"input\":[1,28,28]}", 1},
        {"{\"preset\":\"conv_vae\",\"input\":[1,28,28]}", 1},
    };
    const size_t batch = 4;
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        aecv_model *m = create(presets[p].spec);
        float *x, *out, loss = NAN;
        size_t size;
        if (!m) continue;
        size = aecv_model_input_size(m);
        CHECK(size == 784);
        CHECK(aecv_model_latent_size(m) > 0);
        x = alloc_floats(batch * size, 0);
        out = alloc_floats(batch * size, sentinel);
        make_batch(x, batch, size, (uint32_t)p);
        if (!check_status(aecv_model_train_step(m, x, NULL, batch, &loss), AECV_OK,
                          presets[p].spec, __FILE__, __LINE__) ||
            !CHECK(isfinite(loss)))
            fprintf(stderr, "    preset %s: loss %g\n", presets[p].spec, (double)loss);
        loss = NAN;
        CHECK_STATUS(aecv_model_evaluate(m, x, NULL, batch, &loss), AECV_OK);
        CHECK(isfinite(loss));
        CHECK_STATUS(aecv_model_reconstruct(m, x, batch, out, batch * size), AECV_OK);
        CHECK(all_finite(out, batch * size));
        if (presets[p].generative) {
            float *again = alloc_floats(batch * size, sentinel);
            CHECK_STATUS(aecv_model_sample(m, batch, 7, out, batch * size), AECV_OK);
            CHECK(all_finite(out, batch * size));
            CHECK_STATUS(aecv_model_sample(m, batch, 7, again, batch * size), AECV_OK);
            CHECK(memcmp(out, again, batch * size * sizeof(float)) == 0); /* seeded */
            CHECK_STATUS(aecv_model_sample(m, 0, 7, out, batch * size), AECV_ERR_INVALID_ARGUMENT);
            CHECK_STATUS(aecv_model_sample(m, batch, 7, NULL, batch * size),
                         AECV_ERR_INVALID_ARGUMENT);
            for (size_t i = 0; i < batch * size; i++) again[i] = sentinel;
            CHECK_STATUS(aecv_model_sample(m, batch, 7, again, batch * size - 1), AECV_ERR_SHAPE);
            CHECK(all_equal(again, batch * size, sentinel));
            CHECK_STATUS(aecv_model_sample(m, SIZE_MAX, 7, again, batch * size),
                         AECV_ERR_NO_MEMORY);
            free(again);
        } else {
            CHECK_STATUS(aecv_model_sample(m, batch, 7, out, batch * size), AECV_ERR_UNSUPPORTED);
            CHECK(aecv_last_error()[0] != '\0');
        }
        free(x);
        free(out);
        aecv_model_free(m);
    }
    CHECK_STATUS(aecv_model_sample(NULL, 1, 0, NULL, 0), AECV_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------------------------ */
/* training                                                                                   */

static void test_train_errors(void) {
    aecv_model *m = create(conv_spec);
    const size_t batch = 4, size = 784;
    float *x = alloc_floats(batch * size, 0), *probe = alloc_floats(batch * size, 0);
    float *before = alloc_floats(batch * size, 0), *after = alloc_floats(batch * size, 0);
    float loss = sentinel;
    unsigned char *file_before = NULL, *file_after = NULL;
    size_t size_before = 0, size_after = 0;
    if (!m) goto done;
    make_batch(x, batch, size, 1);
    make_batch(probe, batch, size, 2);

    CHECK_STATUS(aecv_model_train_step(NULL, x, NULL, batch, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("model");
    CHECK_STATUS(aecv_model_train_step(m, NULL, NULL, batch, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("inputs");
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, 0, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("batch");
    CHECK(aecv_model_train_step(m, x, NULL, SIZE_MAX, &loss) != AECV_OK);
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, SIZE_MAX, &loss), AECV_ERR_NO_MEMORY);
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, SIZE_MAX / 784 + 2, &loss), AECV_ERR_NO_MEMORY);
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, ((size_t)1 << 31) / 784 + 1, &loss),
                 AECV_ERR_NO_MEMORY);
    CHECK_STATUS(aecv_model_train_step(m, (const float *)((const char *)x + 1), NULL, batch, &loss),
                 AECV_ERR_INVALID_ARGUMENT);
    CHECK(loss == sentinel); /* not written on failure */
    CHECK_STATUS(aecv_model_evaluate(NULL, x, NULL, batch, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_evaluate(m, NULL, NULL, batch, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_evaluate(m, x, NULL, 0, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_evaluate(m, x, NULL, SIZE_MAX, &loss), AECV_ERR_NO_MEMORY);

    CHECK_STATUS(aecv_model_set_learning_rate(NULL, 1e-3f), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_set_learning_rate(m, NAN), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("learning_rate");
    CHECK_STATUS(aecv_model_set_learning_rate(m, -1e-3f), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_set_learning_rate(m, INFINITY), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_set_learning_rate(m, -INFINITY), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_set_learning_rate(m, 1e-3f), AECV_OK);
    CHECK_NO_ERROR();

    /* one real step first, so the optimizer state is not trivially zero */
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, batch, &loss), AECV_OK);

    /* a NaN (then an Inf in the targets) leaves the model bit-identical */
    CHECK_STATUS(aecv_model_reconstruct(m, probe, batch, before, batch * size), AECV_OK);
    file_before = saved_bytes(m, "nan-before.aecv", &size_before);
    CHECK(file_before != NULL);
    x[123] = NAN;
    loss = sentinel;
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, batch, &loss), AECV_ERR_NONFINITE);
    CHECK(loss == sentinel);
    CHECK_STATUS(aecv_model_evaluate(m, x, NULL, batch, &loss), AECV_ERR_NONFINITE);
    x[123] = 0.5f;
    {
        float *t = alloc_floats(batch * size, 0.5f);
        t[batch * size - 1] = INFINITY;
        CHECK_STATUS(aecv_model_train_step(m, x, t, batch, &loss), AECV_ERR_NONFINITE);
        t[batch * size - 1] = -INFINITY;
        t[0] = NAN;
        CHECK_STATUS(aecv_model_train_step(m, x, t, batch, NULL), AECV_ERR_NONFINITE);
        free(t);
    }
    x[0] = INFINITY;
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, batch, NULL), AECV_ERR_NONFINITE);
    x[0] = 0.5f;
    CHECK_STATUS(aecv_model_reconstruct(m, probe, batch, after, batch * size), AECV_OK);
    CHECK(memcmp(before, after, batch * size * sizeof(float)) == 0);
    file_after = saved_bytes(m, "nan-after.aecv", &size_after);
    CHECK(file_after != NULL && size_after == size_before);
    if (file_before && file_after && size_after == size_before)
        CHECK(memcmp(file_before, file_after, size_before) == 0);
    free(file_after);
    file_after = NULL;

    /* evaluate does not modify the model either */
    loss = NAN;
    CHECK_STATUS(aecv_model_evaluate(m, x, NULL, batch, &loss), AECV_OK);
    CHECK(isfinite(loss));
    CHECK_STATUS(aecv_model_evaluate(m, x, x, batch, NULL), AECV_OK);
    file_after = saved_bytes(m, "eval-after.aecv", &size_after);
    CHECK(file_after != NULL && size_after == size_before);
    if (file_before && file_after && size_after == size_before)
        CHECK(memcmp(file_before, file_after, size_before) == 0);
done:
    free(file_before);
    free(file_after);
    free(x);
    free(probe);
    free(before);
    free(after);
    aecv_model_free(m);
}

static void test_training_converges(const char *spec) {
    aecv_model *m = create(spec);
    const size_t batch = 8;
    float *x, first = NAN, last = NAN, loss = NAN, explicit_target = NAN;
    size_t size;
    int step, all_ok = 1, finite = 1;
    if (!m) return;
    size = aecv_model_input_size(m);
    x = alloc_floats(batch * size, 0);
    make_batch(x, batch, size, 3);
    for (step = 0; step < 50; step++) {
        aecv_status s = aecv_model_train_step(m, x, NULL, batch, &loss);
        if (s != AECV_OK) {
            all_ok = 0;
            fprintf(stderr, "    %s: step %d: %s: %s\n", spec, step, aecv_status_name(s),
                    aecv_last_error());
            break;
        }
        if (!isfinite(loss)) finite = 0;
        if (step == 0) first = loss;
        last = loss;
    }
    CHECK(all_ok);
    CHECK(finite);
    if (!CHECK(last < first * 0.9f))
        fprintf(stderr, "    %s: loss %g -> %g over 50 steps\n", spec, (double)first, (double)last);
    /* explicit targets equal to the inputs give the same objective as targets = NULL */
    CHECK_STATUS(aecv_model_evaluate(m, x, NULL, batch, &loss), AECV_OK);
    CHECK_STATUS(aecv_model_evaluate(m, x, x, batch, &explicit_target), AECV_OK);
    CHECK(loss == explicit_target);
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, batch, NULL), AECV_OK); /* out_loss NULL */
    free(x);
    aecv_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* inference                                                                                  */

static void test_inference(const char *spec) {
    aecv_model *m = create(spec);
    const size_t batch = 3;
    size_t size, latent, n_in, n_code;
    float *x, *codes, *images, *recon, *inplace;
    if (!m) return;
    size = aecv_model_input_size(m);
    latent = aecv_model_latent_size(m);
    n_in = batch * size;
    n_code = batch * latent;
    x = alloc_floats(n_in, 0);
    codes = alloc_floats(n_code + 16, sentinel);
    images = alloc_floats(n_in + 16, sentinel);
    recon = alloc_floats(n_in + 16, sentinel);
    make_batch(x, batch, size, 4);

    /* capacity too small: AECV_ERR_SHAPE, nothing written, message with the numbers */
    CHECK_STATUS(aecv_model_encode(m, x, batch, codes, n_code - 1), AECV_ERR_SHAPE);
    CHECK(all_equal(codes, n_code + 16, sentinel));
    CHECK_ERROR_MENTIONS("out_codes");
    CHECK_ERROR_MENTIONS("capacity");
    {
        char expected[128];
        snprintf(expected, sizeof expected, "needs %zu floats, capacity %zu", n_code, n_code - 1);
        CHECK(strstr(aecv_last_error(), expected) != NULL);
    }
    CHECK_STATUS(aecv_model_encode(m, x, batch, codes, 0), AECV_ERR_SHAPE);
    CHECK_STATUS(aecv_model_encode(m, x, batch, codes, latent), AECV_ERR_SHAPE);
    CHECK(all_equal(codes, n_code + 16, sentinel));
    CHECK_STATUS(aecv_model_decode(m, codes, batch, images, n_in - 1), AECV_ERR_SHAPE);
    CHECK(all_equal(images, n_in + 16, sentinel));
    CHECK_ERROR_MENTIONS("out_images");
    CHECK_STATUS(aecv_model_reconstruct(m, x, batch, images, n_in - 1), AECV_ERR_SHAPE);
    CHECK(all_equal(images, n_in + 16, sentinel));
    CHECK_STATUS(aecv_model_reconstruct(m, x, batch, images, size), AECV_ERR_SHAPE);
    CHECK(all_equal(images, n_in + 16, sentinel));

    /* NULLs, zero and absurd batches */
    CHECK_STATUS(aecv_model_encode(NULL, x, batch, codes, n_code), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_encode(m, NULL, batch, codes, n_code), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("inputs");
    CHECK_STATUS(aecv_model_encode(m, x, batch, NULL, n_code), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("out_codes");
    CHECK_STATUS(aecv_model_encode(m, x, 0, codes, n_code), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_encode(m, x, SIZE_MAX, codes, SIZE_MAX), AECV_ERR_NO_MEMORY);
    CHECK_STATUS(aecv_model_decode(NULL, codes, batch, images, n_in), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_decode(m, NULL, batch, images, n_in), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("codes");
    CHECK_STATUS(aecv_model_decode(m, codes, batch, NULL, n_in), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_decode(m, codes, 0, images, n_in), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_decode(m, codes, SIZE_MAX, images, SIZE_MAX), AECV_ERR_NO_MEMORY);
    CHECK_STATUS(aecv_model_reconstruct(NULL, x, batch, images, n_in), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_reconstruct(m, NULL, batch, images, n_in), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_reconstruct(m, x, batch, NULL, n_in), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_reconstruct(m, x, 0, images, n_in), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_reconstruct(m, x, SIZE_MAX, images, SIZE_MAX), AECV_ERR_NO_MEMORY);
    CHECK(all_equal(codes, n_code + 16, sentinel));
    CHECK(all_equal(images, n_in + 16, sentinel));

    /* NaN input: NONFINITE, nothing written */
    x[7] = NAN;
    CHECK_STATUS(aecv_model_encode(m, x, batch, codes, n_code), AECV_ERR_NONFINITE);
    CHECK_STATUS(aecv_model_reconstruct(m, x, batch, images, n_in), AECV_ERR_NONFINITE);
    CHECK(all_equal(codes, n_code + 16, sentinel));
    CHECK(all_equal(images, n_in + 16, sentinel));
    make_batch(x, batch, size, 4);

    /* the real thing: exact capacities write exactly the prefix */
    CHECK_STATUS(aecv_model_encode(m, x, batch, codes, n_code + 16), AECV_OK);
    CHECK_NO_ERROR();
    CHECK(all_finite(codes, n_code));
    CHECK(all_equal(codes + n_code, 16, sentinel));
    CHECK_STATUS(aecv_model_decode(m, codes, batch, images, n_in), AECV_OK);
    CHECK(all_finite(images, n_in));
    CHECK(all_equal(images + n_in, 16, sentinel));
    CHECK_STATUS(aecv_model_reconstruct(m, x, batch, recon, n_in), AECV_OK);
    {
        float worst = 0, lo = 1, hi = 0;
        for (size_t i = 0; i < n_in; i++) {
            float d = fabsf(images[i] - recon[i]);
            if (d > worst) worst = d;
            if (recon[i] < lo) lo = recon[i];
            if (recon[i] > hi) hi = recon[i];
        }
        CHECK(worst <= 1e-5f); /* reconstruct == decode(encode) */
        CHECK(lo >= 0.0f && hi <= 1.0f); /* sigmoid output */
    }
    /* one example at a time gives the same as the batch */
    {
        float *one = alloc_floats(size, sentinel);
        float worst = 0;
        CHECK_STATUS(aecv_model_reconstruct(m, x + size, 1, one, size), AECV_OK);
        for (size_t i = 0; i < size; i++) {
            float d = fabsf(one[i] - recon[size + i]);
            if (d > worst) worst = d;
        }
        CHECK(worst <= 1e-5f);
        free(one);
    }
    /* in place */
    inplace = alloc_floats(n_in, 0);
    memcpy(inplace, x, n_in * sizeof(float));
    CHECK_STATUS(aecv_model_reconstruct(m, inplace, batch, inplace, n_in), AECV_OK);
    CHECK(memcmp(inplace, recon, n_in * sizeof(float)) == 0);
    /* deterministic */
    CHECK_STATUS(aecv_model_reconstruct(m, x, batch, images, n_in), AECV_OK);
    CHECK(memcmp(images, recon, n_in * sizeof(float)) == 0);

    free(inplace);
    free(x);
    free(codes);
    free(images);
    free(recon);
    aecv_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* files                                                                                      */

static void test_files(void) {
    aecv_model *m = create(conv_spec), *loaded = (aecv_model *)&temp_dir;
    const size_t batch = 4, size = 784;
    char path[512], bad_path[512], scratch[512];
    float *x = alloc_floats(batch * size, 0), *a = alloc_floats(batch * size, 0);
    float *b = alloc_floats(batch * size, 0);
    unsigned char *bytes = NULL, *copy = NULL;
    size_t file_size = 0, n, i;
    if (!m) goto done;
    make_batch(x, batch, size, 5);
    for (i = 0; i < 3; i++) CHECK_STATUS(aecv_model_train_step(m, x, NULL, batch, NULL), AECV_OK);

    /* argument errors */
    temp_path(path, sizeof path, "model.aecv");
    temp_path(bad_path, sizeof bad_path, "no/such/dir/model.aecv");
    CHECK_STATUS(aecv_model_save(NULL, path), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_save(m, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("path");
    CHECK_STATUS(aecv_model_save(m, ""), AECV_ERR_INVALID_ARGUMENT);
    temp_path(scratch, sizeof scratch, "not-utf8-\xff\xfe.aecv");
    CHECK_STATUS(aecv_model_save(m, scratch), AECV_ERR_INVALID_ARGUMENT);
    CHECK(!file_exists(scratch));
    CHECK_STATUS(aecv_model_load(scratch, &loaded), AECV_ERR_INVALID_ARGUMENT);
    {
        char *long_path = malloc(10000);
        if (!long_path) exit(2);
        memset(long_path, 'a', 9999);
        long_path[0] = '/';
        long_path[9999] = '\0';
        CHECK_STATUS(aecv_model_save(m, long_path), AECV_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(aecv_model_load(long_path, &loaded), AECV_ERR_INVALID_ARGUMENT);
        free(long_path);
    }
    CHECK_STATUS(aecv_model_load(NULL, &loaded), AECV_ERR_INVALID_ARGUMENT);
    CHECK(loaded == NULL);
    CHECK_STATUS(aecv_model_load(path, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_save(m, bad_path), AECV_ERR_IO);
    CHECK(aecv_last_error()[0] != '\0');
    CHECK(!file_exists(bad_path));
    temp_path(scratch, sizeof scratch, "no");
    CHECK(!file_exists(scratch));
    loaded = (aecv_model *)&temp_dir;
    CHECK_STATUS(aecv_model_load(bad_path, &loaded), AECV_ERR_IO);
    CHECK(loaded == NULL);
    temp_path(scratch, sizeof scratch, "missing.aecv");
    CHECK_STATUS(aecv_model_load(scratch, &loaded), AECV_ERR_IO);
    CHECK_STATUS(aecv_model_load(temp_dir, &loaded), AECV_ERR_IO); /* a directory */

    /* save / load round trip: bit-identical outputs, and training resumes identically */
    CHECK_STATUS(aecv_model_save(m, path), AECV_OK);
    CHECK_NO_ERROR();
    CHECK_STATUS(aecv_model_save(m, path), AECV_OK); /* overwrite */
    bytes = read_file(path, &file_size);
    CHECK(bytes != NULL && file_size > 46529 * 4);
    loaded = NULL;
    CHECK_STATUS(aecv_model_load(path, &loaded), AECV_OK);
    CHECK(loaded != NULL);
    if (!bytes || !loaded) goto done;
    CHECK(aecv_model_parameter_count(loaded) == 46529);
    CHECK(aecv_model_input_size(loaded) == 784 && aecv_model_latent_size(loaded) == 1024);
    {
        char s1[8192], s2[8192];
        CHECK(aecv_model_spec(m, s1, sizeof s1) == aecv_model_spec(loaded, s2, sizeof s2));
        CHECK(strcmp(s1, s2) == 0);
    }
    CHECK_STATUS(aecv_model_reconstruct(m, x, batch, a, batch * size), AECV_OK);
    CHECK_STATUS(aecv_model_reconstruct(loaded, x, batch, b, batch * size), AECV_OK);
    CHECK(memcmp(a, b, batch * size * sizeof(float)) == 0);
    {
        float la = NAN, lb = NAN;
        CHECK_STATUS(aecv_model_train_step(m, x, NULL, batch, &la), AECV_OK);
        CHECK_STATUS(aecv_model_train_step(loaded, x, NULL, batch, &lb), AECV_OK);
        CHECK(memcmp(&la, &lb, sizeof la) == 0);
        CHECK_STATUS(aecv_model_train_step(m, x, NULL, batch, &la), AECV_OK);
        CHECK_STATUS(aecv_model_train_step(loaded, x, NULL, batch, &lb), AECV_OK);
        CHECK(memcmp(&la, &lb, sizeof la) == 0); /* optimizer state was saved too */
        CHECK_STATUS(aecv_model_reconstruct(m, x, batch, a, batch * size), AECV_OK);
        CHECK_STATUS(aecv_model_reconstruct(loaded, x, batch, b, batch * size), AECV_OK);
        CHECK(memcmp(a, b, batch * size * sizeof(float)) == 0);
    }
    aecv_model_free(loaded);
    loaded = NULL;
    CHECK(!file_exists(bad_path));

    /* empty file */
    temp_path(scratch, sizeof scratch, "damaged.aecv");
    CHECK(write_file(scratch, bytes, 0));
    loaded = (aecv_model *)&temp_dir;
    CHECK_STATUS(aecv_model_load(scratch, &loaded), AECV_ERR_FORMAT);
    CHECK(loaded == NULL);

    /* truncations: every length up to 4096 bytes, and some larger cuts: FORMAT, never OK */
    {
        int wrong = 0, reported = 0;
        size_t cuts[] = {file_size / 4, file_size / 2, file_size - 4096, file_size - 100,
                         file_size - 5, file_size - 4, file_size - 3, file_size - 1};
        size_t limit = file_size < 4096 ? file_size : 4096;
        size_t total = limit + sizeof cuts / sizeof cuts[0];
        for (n = 0; n < total; n++) {
            size_t length = n < limit ? n : cuts[n - limit];
            aecv_status s;
            if (length >= file_size) continue;
            if (!write_file(scratch, bytes, length)) continue;
            loaded = NULL;
            s = aecv_model_load(scratch, &loaded);
            if (s != AECV_ERR_FORMAT || loaded != NULL) {
                wrong++;
                if (reported++ < 5)
                    fprintf(stderr, "    truncated to %zu of %zu bytes: %s: %s\n", length,
                            file_size, aecv_status_name(s), aecv_last_error());
            }
            if (s == AECV_OK) aecv_model_free(loaded);
        }
        if (!CHECK(wrong == 0)) fprintf(stderr, "    %d truncations not rejected as FORMAT\n", wrong);
    }

    /* flipped bytes at a few hundred positions: FORMAT, never OK */
    copy = malloc(file_size);
    if (copy) {
        int wrong = 0, reported = 0, tried = 0;
        size_t position;
        for (n = 0; n < 400; n++) {
            aecv_status s;
            /* the first 128 bytes one by one (header), then spread over the whole file */
            position = n < 128 ? n : 128 + (size_t)((double)(n - 128) / 272.0 * (double)(file_size - 129));
            if (position >= file_size) continue;
            memcpy(copy, bytes, file_size);
            copy[position] ^= (unsigned char)(n % 2 ? 0x01 : 0xA5);
            if (!write_file(scratch, copy, file_size)) continue;
            tried++;
            loaded = NULL;
            s = aecv_model_load(scratch, &loaded);
            if (s != AECV_ERR_FORMAT || loaded != NULL) {
                wrong++;
                if (reported++ < 5)
                    fprintf(stderr, "    byte %zu of %zu flipped: %s: %s\n", position, file_size,
                            aecv_status_name(s), aecv_last_error());
            }
            if (s == AECV_OK) aecv_model_free(loaded);
        }
        CHECK(tried >= 390);
        if (!CHECK(wrong == 0)) fprintf(stderr, "    %d corruptions not rejected as FORMAT\n", wrong);
        /* appended garbage */
        if (write_file(scratch, bytes, file_size)) {
            FILE *f = fopen(scratch, "ab");
            if (f) {
                fputs("garbage", f);
                fclose(f);
            }
            loaded = NULL;
            CHECK_STATUS(aecv_model_load(scratch, &loaded), AECV_ERR_FORMAT);
            if (loaded) aecv_model_free(loaded);
        }
    }
    /* not a model file at all */
    {
        const char *text = "{\"preset\":\"conv\",\"input\":[1,28,28]}\n";
        CHECK(write_file(scratch, (const unsigned char *)text, strlen(text)));
        loaded = NULL;
        CHECK_STATUS(aecv_model_load(scratch, &loaded), AECV_ERR_FORMAT);
        if (loaded) aecv_model_free(loaded);
    }
    remove(scratch);
    loaded = NULL;

    /* the original file is still good, and saving left no temporary files behind */
    CHECK_STATUS(aecv_model_load(path, &loaded), AECV_OK);
    aecv_model_free(loaded);
    loaded = NULL;
    remove(path);
    CHECK(rmdir(temp_dir) == 0 || errno != ENOTEMPTY);
    if (mkdir(temp_dir, 0700) != 0 && errno != EEXIST) fprintf(stderr, "cannot recreate %s\n", temp_dir);
done:
    if (loaded != (aecv_model *)&temp_dir) aecv_model_free(loaded);
    free(bytes);
    free(copy);
    free(x);
    free(a);
    free(b);
    aecv_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* threads                                                                                    */

enum { THREAD_ITERATIONS = 15 };

struct worker {
    aecv_model *model;
    int role; /* 0 train, 1 encode, 2 reconstruct, 3 evaluate + errors */
    int failures;
    float last_loss;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    const size_t batch = 4;
    size_t size = aecv_model_input_size(w->model), latent = aecv_model_latent_size(w->model);
    float *x = alloc_floats(batch * size, 0), *out = alloc_floats(batch * (size + latent), 0);
    make_batch(x, batch, size, 6);
    for (int i = 0; i < THREAD_ITERATIONS; i++) {
        aecv_status s = AECV_OK;
        switch (w->role) {
        case 0: s = aecv_model_train_step(w->model, x, NULL, batch, &w->last_loss); break;
        case 1: s = aecv_model_encode(w->model, x, batch, out, batch * latent); break;
        case 2: s = aecv_model_reconstruct(w->model, x, batch, out, batch * size); break;
        default:
            s = aecv_model_evaluate(w->model, x, NULL, batch, &w->last_loss);
            /* this thread's errors are its own */
            if (aecv_model_encode(w->model, x, batch, out, 1) != AECV_ERR_SHAPE) w->failures++;
            if (strstr(aecv_last_error(), "out_codes") == NULL) w->failures++;
            break;
        }
        if (s != AECV_OK) {
            w->failures++;
            fprintf(stderr, "    thread role %d: %s: %s\n", w->role, aecv_status_name(s),
                    aecv_last_error());
        } else if (w->role != 3 && aecv_last_error()[0] != '\0') {
            w->failures++;
        }
    }
    free(x);
    free(out);
    return NULL;
}

static void test_threads(void) {
    aecv_model *shared = create(conv_spec), *first = create(dense_spec), *second = create(dense_spec);
    struct worker workers[4];
    pthread_t threads[4];
    int i;
    if (!shared || !first || !second) goto done;

    /* four threads sharing one handle */
    CHECK_STATUS(aecv_set_num_threads(0), AECV_ERR_INVALID_ARGUMENT); /* main thread's error */
    for (i = 0; i < 4; i++) {
        workers[i].model = shared;
        workers[i].role = i;
        workers[i].failures = 0;
        workers[i].last_loss = NAN;
        CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        if (!CHECK(workers[i].failures == 0))
            fprintf(stderr, "    shared-handle worker %d: %d failures\n", i, workers[i].failures);
    }
    CHECK(isfinite(workers[0].last_loss));
    CHECK_ERROR_MENTIONS("n"); /* untouched by the other threads */
    CHECK(aecv_last_error()[0] != '\0');

    /* two handles in parallel; same spec and data give bit-identical results */
    CHECK_STATUS(aecv_set_num_threads(1), AECV_OK);
    workers[0].model = first;
    workers[1].model = second;
    for (i = 0; i < 2; i++) {
        workers[i].role = 0;
        workers[i].failures = 0;
        CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
    }
    for (i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].failures == 0);
    }
    CHECK(isfinite(workers[0].last_loss));
    CHECK(memcmp(&workers[0].last_loss, &workers[1].last_loss, sizeof(float)) == 0);
done:
    aecv_model_free(shared);
    aecv_model_free(first);
    aecv_model_free(second);
}

/* Stale and garbage handles are rejected, not dereferenced; freeing while in use is safe. */

struct free_race {
    aecv_model *model;
    pthread_mutex_t lock;
    int steps_done;
    int ok, rejected, other, out_of_order;
};

static void *free_race_worker(void *arg) {
    struct free_race *r = arg;
    const size_t batch = 2, size = 784;
    float *x = alloc_floats(batch * size, 0);
    int seen_rejection = 0;
    make_batch(x, batch, size, 8);
    for (int i = 0; i < 40; i++) {
        aecv_status s = aecv_model_train_step(r->model, x, NULL, batch, NULL);
        pthread_mutex_lock(&r->lock);
        if (s == AECV_OK) {
            r->ok++;
            if (seen_rejection) r->out_of_order++;
        } else if (s == AECV_ERR_INVALID_ARGUMENT) {
            r->rejected++;
            seen_rejection = 1;
        } else {
            r->other++;
        }
        r->steps_done++;
        pthread_mutex_unlock(&r->lock);
    }
    free(x);
    return NULL;
}

static void test_stale_handles(void) {
    static int not_a_model;
    aecv_model *garbage = (aecv_model *)&not_a_model, *m = create(dense_spec);
    uintptr_t stale;
    float x[784], out[784];
    char buffer[16] = "XXXXXXXXXXXXXXX";
    if (!m) return;
    make_batch(x, 1, 784, 9);

    CHECK(aecv_model_input_size(garbage) == 0);
    CHECK(aecv_model_parameter_count(garbage) == 0);
    CHECK(aecv_model_spec(garbage, buffer, sizeof buffer) == 0 && buffer[0] == '\0');
    CHECK_STATUS(aecv_model_reconstruct(garbage, x, 1, out, 784), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("model");
    aecv_model_free(garbage); /* ignored */

    stale = (uintptr_t)m;
    aecv_model_free(m);
    m = (aecv_model *)stale;
    CHECK(aecv_model_input_size(m) == 0);
    CHECK(aecv_model_latent_size(m) == 0);
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, 1, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_save(m, "unused"), AECV_ERR_INVALID_ARGUMENT);
    CHECK(!file_exists("unused"));
    aecv_model_free(m); /* double free: ignored */

    /* free while another thread trains on the model */
    {
        struct free_race r;
        pthread_t thread;
        int done = 0;
        memset(&r, 0, sizeof r);
        pthread_mutex_init(&r.lock, NULL);
        r.model = create(dense_spec);
        if (!r.model) return;
        CHECK(pthread_create(&thread, NULL, free_race_worker, &r) == 0);
        while (!done) {
            pthread_mutex_lock(&r.lock);
            done = r.steps_done >= 3;
            pthread_mutex_unlock(&r.lock);
            if (!done) {
                struct timespec pause = {0, 100000};
                nanosleep(&pause, NULL);
            }
        }
        aecv_model_free(r.model);
        pthread_join(thread, NULL);
        CHECK(r.ok >= 3);
        CHECK(r.ok + r.rejected == 40);
        CHECK(r.other == 0);
        CHECK(r.out_of_order == 0);
        pthread_mutex_destroy(&r.lock);
    }
}

/* ------------------------------------------------------------------------------------------ */

/* aecv_model_code_sparsity and aecv_model_interpolate (the family's analysis queries). */
static void test_analysis(void) {
    aecv_model *m = create("{\"preset\":\"dense\",\"input\":[1,4,4],\"hidden\":[8],\"latent\":3}");
    if (!m) return;
    const size_t size = 16, batch = 10;
    float x[160], codes[30], fraction = -1;
    make_batch(x, batch, size, 3);
    CHECK_STATUS(aecv_model_encode(m, x, batch, codes, 30), AECV_OK);
    size_t zeros = 0;
    for (size_t i = 0; i < 30; i++) zeros += codes[i] == 0.0f;
    CHECK_STATUS(aecv_model_code_sparsity(m, x, batch, 0.0f, &fraction), AECV_OK);
    CHECK(fraction == (float)zeros / 30.0f);
    CHECK_STATUS(aecv_model_code_sparsity(m, x, batch, 1e30f, &fraction), AECV_OK);
    CHECK(fraction == 1.0f);
    CHECK_STATUS(aecv_model_code_sparsity(m, x, batch, -1.0f, &fraction), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("threshold");
    CHECK_STATUS(aecv_model_code_sparsity(m, NULL, batch, 0.0f, &fraction), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_code_sparsity(m, x, 0, 0.0f, &fraction), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_code_sparsity(m, x, batch, 0.0f, NULL), AECV_ERR_INVALID_ARGUMENT);

    float path[5 * 16], ends[2 * 16];
    CHECK_STATUS(aecv_model_interpolate(m, x, x + size, 5, path, 5 * size), AECV_OK);
    CHECK_STATUS(aecv_model_reconstruct(m, x, 2, ends, 2 * size), AECV_OK);
    /* Up to float rounding: the ends are decoded in a batch of 5, the reconstructions in a batch
       of 2, and BLAS may sum in another order for another shape. */
    for (size_t i = 0; i < size; i++) {
        CHECK(fabsf(path[i] - ends[i]) < 1e-6f);
        CHECK(fabsf(path[4 * size + i] - ends[size + i]) < 1e-6f);
    }
    float *small = alloc_floats(5 * size, sentinel);
    CHECK_STATUS(aecv_model_interpolate(m, x, x + size, 5, small, 5 * size - 1), AECV_ERR_SHAPE);
    CHECK(all_equal(small, 5 * size, sentinel));
    free(small);
    CHECK_STATUS(aecv_model_interpolate(m, x, x + size, 1, path, 5 * size), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("steps");
    CHECK_STATUS(aecv_model_interpolate(m, NULL, x, 5, path, 5 * size), AECV_ERR_INVALID_ARGUMENT);
    x[3] = NAN;
    CHECK_STATUS(aecv_model_interpolate(m, x, x + size, 5, path, 5 * size), AECV_ERR_NONFINITE);
    aecv_model_free(m);
}

/* aecv_model_anomaly_scores and aecv_model_anomaly_maps (issue 8). */
static void test_anomaly(void) {
    aecv_model *m = create("{\"preset\":\"dense\",\"input\":[1,8,8],\"hidden\":[16],\"latent\":4}");
    if (!m) return;
    enum { SIZE = 64, BATCH = 300 };
    float *x = alloc_floats(BATCH * SIZE, 0), *maps = alloc_floats(BATCH * SIZE, 0);
    float *recon = alloc_floats(BATCH * SIZE, 0), *scores = alloc_floats(BATCH, 0);
    make_batch(x, BATCH, SIZE, 5);
    CHECK_STATUS(aecv_model_reconstruct(m, x, BATCH, recon, BATCH * SIZE), AECV_OK);

    /* MSE: map = squared error per pixel; score = mean of the map (BATCH > 256: two chunks). */
    CHECK_STATUS(aecv_model_anomaly_maps(m, x, BATCH, AECV_ANOMALY_MSE, maps, BATCH * SIZE), AECV_OK);
    CHECK_NO_ERROR();
    CHECK_STATUS(aecv_model_anomaly_scores(m, x, BATCH, AECV_ANOMALY_MSE, scores, BATCH), AECV_OK);
    double worst_map = 0, worst_score = 0;
    for (size_t b = 0; b < BATCH; b++) {
        double sum = 0;
        for (size_t i = 0; i < SIZE; i++) {
            double d = (double)x[b * SIZE + i] - recon[b * SIZE + i];
            worst_map = fmax(worst_map, fabs(maps[b * SIZE + i] - d * d));
            sum += d * d;
        }
        worst_score = fmax(worst_score, fabs(scores[b] - sum / SIZE) / (sum / SIZE + 1e-12));
    }
    CHECK(worst_map < 1e-6);
    CHECK(worst_score < 1e-5);

    /* SSIM: values in [0, 2], score = mean of the map, 0 for an image that is its own
       reconstruction is covered by the Swift tests (it needs a perfect model). */
    CHECK_STATUS(aecv_model_anomaly_maps(m, x, BATCH, AECV_ANOMALY_SSIM, maps, BATCH * SIZE), AECV_OK);
    CHECK_STATUS(aecv_model_anomaly_scores(m, x, BATCH, AECV_ANOMALY_SSIM, scores, BATCH), AECV_OK);
    int in_range = 1;
    worst_score = 0;
    for (size_t b = 0; b < BATCH; b++) {
        double sum = 0;
        for (size_t i = 0; i < SIZE; i++) {
            float v = maps[b * SIZE + i];
            in_range &= v >= 0.0f && v <= 2.0f;
            sum += v;
        }
        worst_score = fmax(worst_score, fabs(scores[b] - sum / SIZE));
    }
    CHECK(in_range);
    CHECK(worst_score < 1e-5);
    CHECK(all_finite(scores, BATCH));

    /* Maps in place (out_maps == inputs) give the same maps as a separate buffer. */
    float *inplace = alloc_floats(4 * SIZE, 0);
    memcpy(inplace, x, 4 * SIZE * sizeof(float));
    CHECK_STATUS(aecv_model_anomaly_maps(m, x, 4, AECV_ANOMALY_BLURRED_MSE, maps, 4 * SIZE), AECV_OK);
    CHECK_STATUS(aecv_model_anomaly_maps(m, inplace, 4, AECV_ANOMALY_BLURRED_MSE, inplace, 4 * SIZE),
                 AECV_OK);
    CHECK(memcmp(inplace, maps, 4 * SIZE * sizeof(float)) == 0);
    CHECK_STATUS(aecv_model_anomaly_scores(m, x, 4, AECV_ANOMALY_BLURRED_MSE, scores, 4), AECV_OK);
    double sum0 = 0;
    for (size_t i = 0; i < SIZE; i++) sum0 += maps[i];
    CHECK(fabs(scores[0] - sum0 / SIZE) <= 1e-6 * (sum0 / SIZE) + 1e-12);
    free(inplace);

    /* Errors: nothing is written. */
    float *out = alloc_floats(BATCH * SIZE, sentinel);
    CHECK_STATUS(aecv_model_anomaly_scores(m, x, 4, 7, out, 4), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("metric");
    CHECK_ERROR_MENTIONS("7");
    CHECK_STATUS(aecv_model_anomaly_maps(m, x, 4, -1, out, 4 * SIZE), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("-1");
    CHECK_STATUS(aecv_model_anomaly_scores(m, x, 4, AECV_ANOMALY_MSE, out, 3), AECV_ERR_SHAPE);
    CHECK_ERROR_MENTIONS("out_scores");
    CHECK_STATUS(aecv_model_anomaly_maps(m, x, 4, AECV_ANOMALY_MSE, out, 4 * SIZE - 1), AECV_ERR_SHAPE);
    CHECK_ERROR_MENTIONS("out_maps");
    CHECK_STATUS(aecv_model_anomaly_scores(NULL, x, 4, AECV_ANOMALY_MSE, out, 4), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_anomaly_scores(m, NULL, 4, AECV_ANOMALY_MSE, out, 4), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_anomaly_scores(m, x, 4, AECV_ANOMALY_MSE, NULL, 4), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_anomaly_maps(m, x, 0, AECV_ANOMALY_MSE, out, 4 * SIZE), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_anomaly_maps(m, x, SIZE_MAX, AECV_ANOMALY_MSE, out, SIZE_MAX), AECV_ERR_NO_MEMORY);
    x[(BATCH - 1) * SIZE + 3] = NAN; /* in the last chunk: still nothing written */
    CHECK_STATUS(aecv_model_anomaly_scores(m, x, BATCH, AECV_ANOMALY_MSE, out, BATCH), AECV_ERR_NONFINITE);
    CHECK_STATUS(aecv_model_anomaly_maps(m, x, BATCH, AECV_ANOMALY_SSIM, out, BATCH * SIZE), AECV_ERR_NONFINITE);
    CHECK(all_equal(out, BATCH * SIZE, sentinel));
    free(out);
    free(x);
    free(maps);
    free(recon);
    free(scores);
    aecv_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* safetensors import / export (issue 5)                                                      */

/* A tiny custom model: 1x2x2 -> dense 2 -> dense 4 (6 + ... = 22 parameters). Its tensors are
   encoder.1.weight (2,4), encoder.1.bias (2), decoder.0.weight (4,2), decoder.0.bias (4). */
static const char *tiny_spec =
    "{\"preset\":\"custom\",\"input\":[1,2,2],\"seed\":3,"
    "\"encoder\":[{\"type\":\"flatten\"},{\"type\":\"dense\",\"out\":2},{\"type\":\"relu\"}],"
    "\"decoder\":[{\"type\":\"dense\",\"out\":4},{\"type\":\"sigmoid\"},"
    "{\"type\":\"unflatten\",\"shape\":[1,2,2]}]}";

/* Writes a safetensors file by hand: `header` is the JSON text (padded here), `data` the buffer. */
static int write_safetensors(const char *path, const char *header, const void *data, size_t size) {
    size_t n = strlen(header), padded = (n + 7) / 8 * 8, i;
    unsigned char length[8];
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    for (i = 0; i < 8; i++) length[i] = (unsigned char)(((uint64_t)padded >> (8 * i)) & 0xFF);
    int ok = fwrite(length, 1, 8, f) == 8 && fwrite(header, 1, n, f) == n;
    for (i = n; i < padded && ok; i++) ok = fputc(' ', f) != EOF;
    if (ok && size) ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

/* Whether `text` occurs in the first n bytes of data (memmem is not C99/POSIX). */
static int contains_text(const unsigned char *data, size_t n, const char *text) {
    size_t k = strlen(text), i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(data + i, text, k) == 0) return 1;
    return 0;
}

/* The model's full state as model-file bytes (parameters, optimizer, generator): equal bytes
   mean an unchanged model. */
static int same_state(aecv_model *m, const unsigned char *before, size_t before_size) {
    size_t size = 0;
    unsigned char *now = saved_bytes(m, "state.aecv", &size);
    int same = now && size == before_size && memcmp(now, before, size) == 0;
    free(now);
    return same;
}

static void test_safetensors_round_trip(void) {
    aecv_model *a = create(dense_spec), *b = create(dense_spec), *c = create(dense_spec);
    const size_t batch = 4, size = 784;
    float *x = alloc_floats(batch * size, 0), *ra = alloc_floats(batch * size, 0);
    float *rb = alloc_floats(batch * size, 0);
    char path[512], path2[512];
    unsigned char *f1 = NULL, *f2 = NULL;
    size_t n1 = 0, n2 = 0, i;
    if (!a || !b || !c) goto done;
    temp_path(path, sizeof path, "a.safetensors");
    temp_path(path2, sizeof path2, "b.safetensors");
    make_batch(x, batch, size, 11);
    for (i = 0; i < 3; i++) CHECK_STATUS(aecv_model_train_step(a, x, NULL, batch, NULL), AECV_OK);
    make_batch(x, batch, size, 12);
    CHECK_STATUS(aecv_model_train_step(b, x, NULL, batch, NULL), AECV_OK);

    CHECK_STATUS(aecv_model_export_safetensors(a, path), AECV_OK);
    CHECK_NO_ERROR();
    f1 = read_file(path, &n1);
    /* 8-byte length, a JSON header padded to 8 bytes, then 4 bytes per parameter */
    CHECK(f1 && n1 > 8 + aecv_model_parameter_count(a) * 4);
    if (f1) {
        uint64_t header = 0;
        for (i = 0; i < 8; i++) header |= (uint64_t)f1[i] << (8 * i);
        CHECK(header % 8 == 0 && 8 + header + aecv_model_parameter_count(a) * 4 == n1);
        CHECK(contains_text(f1, n1, "\"format\":\"pt\""));
        CHECK(contains_text(f1, n1, "\"encoder.0.weight\""));
        CHECK(contains_text(f1, n1, "\"decoder.2.bias\""));
    }
    /* import into a model trained elsewhere: bit-identical outputs and re-export */
    CHECK_STATUS(aecv_model_import_safetensors(b, path), AECV_OK);
    CHECK_NO_ERROR();
    CHECK_STATUS(aecv_model_reconstruct(a, x, batch, ra, batch * size), AECV_OK);
    CHECK_STATUS(aecv_model_reconstruct(b, x, batch, rb, batch * size), AECV_OK);
    CHECK(memcmp(ra, rb, batch * size * sizeof(float)) == 0);
    CHECK_STATUS(aecv_model_export_safetensors(b, path2), AECV_OK);
    f2 = read_file(path2, &n2);
    CHECK(f1 && f2 && n1 == n2 && memcmp(f1, f2, n1) == 0);
    /* the import reset the optimizer: b now trains exactly like a fresh model that imported */
    CHECK_STATUS(aecv_model_import_safetensors(c, path), AECV_OK);
    {
        float lb = NAN, lc = NAN;
        CHECK_STATUS(aecv_model_train_step(b, x, NULL, batch, &lb), AECV_OK);
        CHECK_STATUS(aecv_model_train_step(c, x, NULL, batch, &lc), AECV_OK);
        CHECK(memcmp(&lb, &lc, sizeof lb) == 0);
        CHECK_STATUS(aecv_model_reconstruct(b, x, batch, rb, batch * size), AECV_OK);
        CHECK_STATUS(aecv_model_reconstruct(c, x, batch, ra, batch * size), AECV_OK);
        CHECK(memcmp(ra, rb, batch * size * sizeof(float)) == 0);
    }
    /* overwrite is atomic and leaves no temporary file: exporting again replaces it */
    CHECK_STATUS(aecv_model_export_safetensors(b, path), AECV_OK);
    remove(path);
    remove(path2);
done:
    free(f1);
    free(f2);
    free(x);
    free(ra);
    free(rb);
    aecv_model_free(a);
    aecv_model_free(b);
    aecv_model_free(c);
}

static void test_safetensors_refusals(void) {
    aecv_model *m = create(dense_spec), *other = NULL, *vae = NULL;
    const size_t batch = 2, size = 784;
    float *x = alloc_floats(batch * size, 0);
    char path[512], scratch[512];
    unsigned char *state = NULL, *file = NULL;
    size_t state_size = 0, file_size = 0, n;
    if (!m) goto done;
    temp_path(path, sizeof path, "other.safetensors");
    temp_path(scratch, sizeof scratch, "scratch.safetensors");
    make_batch(x, batch, size, 1);
    CHECK_STATUS(aecv_model_train_step(m, x, NULL, batch, NULL), AECV_OK);
    state = saved_bytes(m, "before.aecv", &state_size);
    CHECK(state != NULL);
    if (!state) goto done;

    /* argument errors */
    CHECK_STATUS(aecv_model_export_safetensors(NULL, path), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("model");
    CHECK_STATUS(aecv_model_export_safetensors(m, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("path");
    CHECK_STATUS(aecv_model_export_safetensors(m, ""), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_import_safetensors(NULL, path), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_import_safetensors(m, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("path");
    CHECK_STATUS(aecv_model_import_safetensors(m, ""), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_model_import_safetensors((aecv_model *)&temp_dir, path),
                 AECV_ERR_INVALID_ARGUMENT); /* not a live model */
    /* I/O errors */
    temp_path(scratch, sizeof scratch, "no/such/dir/x.safetensors");
    CHECK_STATUS(aecv_model_export_safetensors(m, scratch), AECV_ERR_IO);
    CHECK(!file_exists(scratch));
    CHECK_STATUS(aecv_model_import_safetensors(m, scratch), AECV_ERR_IO);
    CHECK_STATUS(aecv_model_import_safetensors(m, temp_dir), AECV_ERR_IO); /* a directory */
    temp_path(scratch, sizeof scratch, "scratch.safetensors");

    /* wrong shapes: a dense model with another latent size */
    other = create("{\"preset\":\"dense\",\"input\":[1,28,28],\"latent\":32}");
    if (other) {
        CHECK_STATUS(aecv_model_export_safetensors(other, path), AECV_OK);
        CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_ERR_SHAPE);
        CHECK_ERROR_MENTIONS("encoder.2.weight");
        CHECK_ERROR_MENTIONS("[32, 256]");
        CHECK(same_state(m, state, state_size));
        aecv_model_free(other);
    }
    /* another architecture: unknown names are refused and named */
    vae = create("{\"preset\":\"vae\",\"input\":[1,28,28]}");
    if (vae) {
        CHECK_STATUS(aecv_model_export_safetensors(vae, path), AECV_OK);
        CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_ERR_SHAPE);
        CHECK_ERROR_MENTIONS("fc1.weight");
        CHECK(same_state(m, state, state_size));
        /* and the other way round: the dense file lacks the VAE's tensors */
        CHECK_STATUS(aecv_model_export_safetensors(m, path), AECV_OK);
        CHECK_STATUS(aecv_model_import_safetensors(vae, path), AECV_ERR_SHAPE);
        aecv_model_free(vae);
    }

    /* malformed files: FORMAT, model unchanged */
    CHECK_STATUS(aecv_model_export_safetensors(m, path), AECV_OK);
    file = read_file(path, &file_size);
    CHECK(file != NULL);
    if (file) {
        int wrong = 0, reported = 0;
        /* every truncation of the header, then a spread over the data */
        for (n = 0; n < file_size; n = n < 2048 ? n + 1 : n + 4099) {
            aecv_status s;
            if (!write_file(scratch, file, n)) continue;
            s = aecv_model_import_safetensors(m, scratch);
            if (s != AECV_ERR_FORMAT) {
                wrong++;
                if (reported++ < 5)
                    fprintf(stderr, "    truncated to %zu of %zu bytes: %s: %s\n", n, file_size,
                            aecv_status_name(s), aecv_last_error());
            }
        }
        if (!CHECK(wrong == 0)) fprintf(stderr, "    %d truncations not refused as FORMAT\n", wrong);
        /* appended bytes: not covered by any tensor */
        if (write_file(scratch, file, file_size)) {
            FILE *f = fopen(scratch, "ab");
            if (f) {
                fputs("garbage", f);
                fclose(f);
            }
            CHECK_STATUS(aecv_model_import_safetensors(m, scratch), AECV_ERR_FORMAT);
        }
    }
    /* garbage and text */
    {
        unsigned char junk[4096];
        uint32_t st = 7;
        for (n = 0; n < sizeof junk; n++) {
            st = st * 1664525u + 1013904223u;
            junk[n] = (unsigned char)(st >> 24);
        }
        CHECK(write_file(scratch, junk, sizeof junk));
        CHECK_STATUS(aecv_model_import_safetensors(m, scratch), AECV_ERR_FORMAT);
        junk[0] = 16; /* a plausible header length, then binary junk as "JSON" */
        for (n = 1; n < 8; n++) junk[n] = 0;
        CHECK(write_file(scratch, junk, sizeof junk));
        CHECK_STATUS(aecv_model_import_safetensors(m, scratch), AECV_ERR_FORMAT);
        CHECK(write_file(scratch, (const unsigned char *)"{}", 2));
        CHECK_STATUS(aecv_model_import_safetensors(m, scratch), AECV_ERR_FORMAT);
        CHECK(write_file(scratch, (const unsigned char *)"", 0));
        CHECK_STATUS(aecv_model_import_safetensors(m, scratch), AECV_ERR_FORMAT);
        /* a huge header length */
        memset(junk, 0xFF, 8);
        CHECK(write_file(scratch, junk, 64));
        CHECK_STATUS(aecv_model_import_safetensors(m, scratch), AECV_ERR_FORMAT);
    }
    CHECK(same_state(m, state, state_size));
    if (file) {
        int wrong = 0, reported = 0;
        /* flipped bytes in the header: refused (FORMAT, or SHAPE when a name or shape still
           parses), never a crash; whatever is refused leaves the model unchanged */
        {
            uint64_t header = 0;
            int accepted = 0;
            for (n = 0; n < 8; n++) header |= (uint64_t)file[n] << (8 * n);
            for (n = 0; n < 8 + header && n < file_size; n++) {
                aecv_status s;
                unsigned char saved = file[n];
                file[n] ^= (unsigned char)(n % 3 == 0 ? 0x01 : n % 3 == 1 ? 0x20 : 0xFF);
                if (write_file(scratch, file, file_size)) {
                    s = aecv_model_import_safetensors(m, scratch);
                    if (s == AECV_OK) accepted++;
                    else if (s != AECV_ERR_FORMAT && s != AECV_ERR_SHAPE) {
                        wrong++;
                        if (reported++ < 5)
                            fprintf(stderr, "    header byte %zu flipped: %s: %s\n", n,
                                    aecv_status_name(s), aecv_last_error());
                    }
                }
                file[n] = saved;
            }
            CHECK(wrong == 0);
            printf("    safetensors: %d of %zu header byte flips still import\n", accepted, (size_t)(8 + header));
            /* a flip inside the JSON's whitespace padding or a key's letter case may still be a
               valid file with the same tensors; anything accepted re-imports the same values */
            if (accepted) CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_OK);
        }
    }
    remove(path);
    remove(scratch);
done:
    free(state);
    free(file);
    free(x);
    aecv_model_free(m);
}

/* Hand-written files for a tiny model: other dtypes, NaN, missing and extra tensors. */
static void test_safetensors_hand_written(void) {
    aecv_model *m = create(tiny_spec);
    char path[512], back[512];
    unsigned char *state = NULL, *exported = NULL;
    size_t state_size = 0, exported_size = 0, i;
    /* encoder.1.weight (2,4), encoder.1.bias (2), decoder.0.weight (4,2), decoder.0.bias (4) */
    double values[22];
    float as_float[22];
    if (!m) return;
    CHECK(aecv_model_parameter_count(m) == 22);
    for (i = 0; i < 22; i++) {
        values[i] = ((double)i - 10.5) / 8.0; /* exact in float32 and float16 */
        as_float[i] = (float)values[i];
    }
    temp_path(path, sizeof path, "tiny.safetensors");
    temp_path(back, sizeof back, "tiny-back.safetensors");
    state = saved_bytes(m, "tiny.aecv", &state_size);

    /* F64, tensors in another order than the model's: converted and placed by name */
    {
        const char *header =
            "{\"decoder.0.bias\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[0,32]},"
            "\"__metadata__\":{\"format\":\"pt\"},"
            "\"encoder.1.weight\":{\"dtype\":\"F64\",\"shape\":[2,4],\"data_offsets\":[32,96]},"
            "\"encoder.1.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[96,112]},"
            "\"decoder.0.weight\":{\"dtype\":\"F64\",\"shape\":[4,2],\"data_offsets\":[112,176]}}";
        double data[22];
        memcpy(data, values + 18, 4 * sizeof(double));      /* decoder.0.bias */
        memcpy(data + 4, values, 8 * sizeof(double));       /* encoder.1.weight */
        memcpy(data + 12, values + 8, 2 * sizeof(double));  /* encoder.1.bias */
        memcpy(data + 14, values + 10, 8 * sizeof(double)); /* decoder.0.weight */
        CHECK(write_safetensors(path, header, data, sizeof data));
        CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_OK);
        CHECK_STATUS(aecv_model_export_safetensors(m, back), AECV_OK);
        exported = read_file(back, &exported_size);
        /* the export is F32 in the model's order: its last 88 bytes are the values in order */
        CHECK(exported && exported_size > 88 &&
              memcmp(exported + exported_size - 88, as_float, 88) == 0);
        free(exported);
        exported = NULL;

        /* NaN in one tensor: NONFINITE, model unchanged */
        {
            unsigned char *before = NULL;
            size_t before_size = 0;
            before = saved_bytes(m, "tiny2.aecv", &before_size);
            data[13] = NAN;
            CHECK(write_safetensors(path, header, data, sizeof data));
            CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_ERR_NONFINITE);
            CHECK_ERROR_MENTIONS("encoder.1.bias");
            data[13] = INFINITY;
            CHECK(write_safetensors(path, header, data, sizeof data));
            CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_ERR_NONFINITE);
            CHECK(before && same_state(m, before, before_size));
            free(before);
        }
    }
    /* F16 and BF16: 1.0 is 0x3C00 in F16 and 0x3F80 in BF16 */
    {
        const char *header =
            "{\"encoder.1.weight\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[0,16]},"
            "\"encoder.1.bias\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]},"
            "\"decoder.0.weight\":{\"dtype\":\"F16\",\"shape\":[4,2],\"data_offsets\":[20,36]},"
            "\"decoder.0.bias\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[36,44]}}";
        unsigned char data[44];
        float expected[22];
        for (i = 0; i < 22; i++) {
            int bf = (i >= 8 && i < 10) || i >= 18;
            uint16_t bits = bf ? 0x3F80 : 0x3C00; /* 1.0 */
            if (i % 2) bits |= 0x8000;            /* -1.0 on odd indices */
            data[2 * i] = (unsigned char)(bits & 0xFF);
            data[2 * i + 1] = (unsigned char)(bits >> 8);
            expected[i] = i % 2 ? -1.0f : 1.0f;
        }
        CHECK(write_safetensors(path, header, data, sizeof data));
        CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_OK);
        CHECK_STATUS(aecv_model_export_safetensors(m, back), AECV_OK);
        exported = read_file(back, &exported_size);
        CHECK(exported && exported_size > 88 &&
              memcmp(exported + exported_size - 88, expected, 88) == 0);
        free(exported);
        exported = NULL;
    }
    /* missing tensor, extra tensor, wrong shape with the right size, unsupported dtype,
       overlapping offsets: nothing changes */
    {
        unsigned char *before = NULL;
        size_t before_size = 0;
        float data[26];
        memcpy(data, as_float, sizeof as_float);
        data[22] = data[23] = data[24] = data[25] = 0;
        before = saved_bytes(m, "tiny3.aecv", &before_size);
        CHECK(write_safetensors(path,
              "{\"encoder.1.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
              "\"encoder.1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]},"
              "\"decoder.0.weight\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[40,72]}}",
              data, 72));
        CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_ERR_SHAPE);
        CHECK_ERROR_MENTIONS("decoder.0.bias");
        CHECK(write_safetensors(path,
              "{\"encoder.1.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
              "\"encoder.1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]},"
              "\"decoder.0.weight\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[40,72]},"
              "\"decoder.0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[72,88]},"
              "\"decoder.9.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[88,104]}}",
              data, 104));
        CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_ERR_SHAPE);
        CHECK_ERROR_MENTIONS("decoder.9.bias");
        CHECK(write_safetensors(path,
              "{\"encoder.1.weight\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[0,32]},"
              "\"encoder.1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]},"
              "\"decoder.0.weight\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[40,72]},"
              "\"decoder.0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[72,88]}}",
              data, 88));
        CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_ERR_SHAPE);
        CHECK_ERROR_MENTIONS("encoder.1.weight");
        CHECK(write_safetensors(path,
              "{\"encoder.1.weight\":{\"dtype\":\"I32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
              "\"encoder.1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]},"
              "\"decoder.0.weight\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[40,72]},"
              "\"decoder.0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[72,88]}}",
              data, 88));
        CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_ERR_FORMAT);
        CHECK_ERROR_MENTIONS("I32");
        CHECK(write_safetensors(path,
              "{\"encoder.1.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
              "\"encoder.1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
              "\"decoder.0.weight\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[40,72]},"
              "\"decoder.0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[72,88]}}",
              data, 88));
        CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_ERR_FORMAT);
        CHECK(write_safetensors(path,
              "{\"encoder.1.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
              "\"encoder.1.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[32,64]}}",
              data, 64));
        CHECK_STATUS(aecv_model_import_safetensors(m, path), AECV_ERR_FORMAT); /* duplicate */
        CHECK(before && same_state(m, before, before_size));
        free(before);
    }
    (void)state_size;
    remove(path);
    remove(back);
    free(state);
    aecv_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* classification (issue 7)                                                                   */

/* The blob position of make_batch's example b: a learnable label in 0..2. */
static int32_t blob_label(size_t b, uint32_t seed) { return (int32_t)(((b * 3 + seed) % 7) % 3); }

static float *classifier_probabilities(aecv_classifier *c, const float *x, size_t batch) {
    float *p = alloc_floats(batch * 3, sentinel);
    CHECK_STATUS(aecv_classifier_predict(c, x, batch, p, batch * 3), AECV_OK);
    return p;
}

static void test_classifier(void) {
    enum { SIZE = 64, BATCH = 21, CLASSES = 3 };
    aecv_model *ae = create("{\"preset\":\"dense\",\"input\":[1,8,8],\"hidden\":[16],\"latent\":6}");
    aecv_classifier *c = (aecv_classifier *)&temp_dir, *loaded = (aecv_classifier *)&temp_dir;
    float x[BATCH * SIZE], before[BATCH * SIZE], after[BATCH * SIZE], loss = -1, first = 0, last = 0;
    int32_t labels[BATCH];
    char path[512], model_path[512], spec[512];
    size_t i, b;
    if (!ae) return;
    make_batch(x, BATCH, SIZE, 3);
    for (b = 0; b < BATCH; b++) labels[b] = blob_label(b, 3);
    CHECK_STATUS(aecv_model_reconstruct(ae, x, BATCH, before, BATCH * SIZE), AECV_OK);

    /* create: argument and spec errors; *out is NULL on failure */
    const char *spec_json = "{\"classes\":3,\"hidden\":[8],\"freeze_encoder\":false,"
                            "\"optimizer\":{\"name\":\"adam\",\"learning_rate\":0.01}}";
    CHECK_STATUS(aecv_classifier_create(NULL, spec_json, &c), AECV_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL);
    CHECK_ERROR_MENTIONS("autoencoder");
    CHECK_STATUS(aecv_classifier_create(ae, NULL, &c), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_classifier_create(ae, spec_json, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_classifier_create(ae, "{\"classes\":1}", &c), AECV_ERR_CONFIG);
    CHECK_ERROR_MENTIONS("classifier.classes");
    CHECK_STATUS(aecv_classifier_create(ae, "{\"classes\":3,\"clases\":3}", &c), AECV_ERR_CONFIG);
    CHECK_ERROR_MENTIONS("clases");
    CHECK_STATUS(aecv_classifier_create(ae, "{\"hidden\":[]}", &c), AECV_ERR_CONFIG);
    CHECK_STATUS(aecv_classifier_create(ae, "{\"classes\":3,\"encoder_learning_rate\":0.1}", &c),
                 AECV_ERR_CONFIG);
    CHECK_STATUS(aecv_classifier_create(ae, "{\"classes\":3,\"feature\":9}", &c), AECV_ERR_CONFIG);
    CHECK_STATUS(aecv_classifier_create(ae, "[", &c), AECV_ERR_CONFIG);
    CHECK(c == NULL);
    CHECK_STATUS(aecv_classifier_create(ae, spec_json, &c), AECV_OK);
    CHECK_NO_ERROR();
    if (!c) goto done;

    /* queries; a classifier is not a model and a model is not a classifier */
    CHECK(aecv_classifier_classes(c) == CLASSES);
    CHECK(aecv_classifier_input_size(c) == SIZE);
    CHECK(aecv_classifier_classes(NULL) == 0);
    CHECK(aecv_classifier_input_size(NULL) == 0);
    CHECK(aecv_classifier_classes((aecv_classifier *)ae) == 0);
    CHECK(aecv_model_input_size((aecv_model *)c) == 0);
    CHECK_STATUS(aecv_model_reconstruct((aecv_model *)c, x, 1, after, SIZE), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_classifier_predict((aecv_classifier *)ae, x, 1, after, CLASSES),
                 AECV_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("classifier");
    CHECK_STATUS(aecv_classifier_create((aecv_model *)c, spec_json, &loaded), AECV_ERR_INVALID_ARGUMENT);
    aecv_model_free((aecv_model *)c); /* not a model: ignored */
    aecv_classifier_free((aecv_classifier *)ae); /* not a classifier: ignored */
    CHECK(aecv_classifier_classes(c) == CLASSES && aecv_model_input_size(ae) == SIZE);
    {
        size_t n = aecv_classifier_spec(c, spec, sizeof spec);
        CHECK(n > 0 && n < sizeof spec && strlen(spec) == n);
        CHECK(strstr(spec, "\"classes\":3") != NULL);
        CHECK(strstr(spec, "\"freeze_encoder\":false") != NULL);
        CHECK(aecv_classifier_spec(c, NULL, 0) == n);
        CHECK(aecv_classifier_spec(NULL, spec, sizeof spec) == 0 && spec[0] == '\0');
    }

    /* training: the loss of a fixed batch goes down */
    for (i = 0; i < 60; i++) {
        if (!CHECK_STATUS(aecv_classifier_train_step(c, x, labels, BATCH, &loss), AECV_OK)) break;
        if (i == 0) first = loss;
        last = loss;
    }
    CHECK(isfinite(first) && first > 0.5f); /* about ln 3 = 1.1 at the start */
    CHECK(last < 0.5f * first);
    CHECK_STATUS(aecv_classifier_train_step(c, x, labels, BATCH, NULL), AECV_OK);

    /* predict: probabilities in [0, 1], rows sum to 1, most examples right */
    {
        float *p = classifier_probabilities(c, x, BATCH);
        int rows_ok = 1, in_range = 1, correct = 0;
        for (b = 0; b < BATCH; b++) {
            float sum = 0;
            int best = 0;
            for (i = 0; i < CLASSES; i++) {
                sum += p[b * CLASSES + i];
                in_range &= p[b * CLASSES + i] >= 0 && p[b * CLASSES + i] <= 1;
                if (p[b * CLASSES + i] > p[b * CLASSES + best]) best = (int)i;
            }
            rows_ok &= fabsf(sum - 1) < 1e-5f;
            correct += best == labels[b];
        }
        CHECK(rows_ok);
        CHECK(in_range);
        CHECK(correct >= BATCH * 2 / 3);

        /* out-of-range labels: INVALID_ARGUMENT naming the label, and nothing changes */
        labels[4] = CLASSES;
        CHECK_STATUS(aecv_classifier_train_step(c, x, labels, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("labels[4]");
        labels[4] = -1;
        CHECK_STATUS(aecv_classifier_train_step(c, x, labels, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
        labels[4] = INT32_MAX;
        CHECK_STATUS(aecv_classifier_train_step(c, x, labels, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
        labels[4] = blob_label(4, 3);
        /* other argument errors, and NaN inputs */
        CHECK_STATUS(aecv_classifier_train_step(NULL, x, labels, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(aecv_classifier_train_step(c, NULL, labels, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(aecv_classifier_train_step(c, x, NULL, BATCH, &loss), AECV_ERR_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("labels");
        CHECK_STATUS(aecv_classifier_train_step(c, x, labels, 0, &loss), AECV_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(aecv_classifier_train_step(c, x, (const int32_t *)((const char *)labels + 1), 2, &loss),
                     AECV_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(aecv_classifier_train_step(c, x, labels, SIZE_MAX / 2, &loss), AECV_ERR_NO_MEMORY);
        x[7] = NAN;
        CHECK_STATUS(aecv_classifier_train_step(c, x, labels, BATCH, &loss), AECV_ERR_NONFINITE);
        CHECK_STATUS(aecv_classifier_predict(c, x, BATCH, after, BATCH * CLASSES), AECV_ERR_NONFINITE);
        make_batch(x, BATCH, SIZE, 3);
        {
            float *q = classifier_probabilities(c, x, BATCH);
            CHECK(memcmp(p, q, BATCH * CLASSES * sizeof(float)) == 0); /* failed steps changed nothing */
            free(q);
        }

        /* predict: capacity too small writes nothing; NULL arguments */
        {
            float *small = alloc_floats(BATCH * CLASSES, sentinel);
            CHECK_STATUS(aecv_classifier_predict(c, x, BATCH, small, BATCH * CLASSES - 1), AECV_ERR_SHAPE);
            CHECK_ERROR_MENTIONS("out_probabilities");
            CHECK(all_equal(small, BATCH * CLASSES, sentinel));
            CHECK_STATUS(aecv_classifier_predict(c, x, BATCH, NULL, BATCH * CLASSES), AECV_ERR_INVALID_ARGUMENT);
            CHECK_STATUS(aecv_classifier_predict(c, NULL, BATCH, small, BATCH * CLASSES), AECV_ERR_INVALID_ARGUMENT);
            CHECK_STATUS(aecv_classifier_predict(NULL, x, BATCH, small, BATCH * CLASSES), AECV_ERR_INVALID_ARGUMENT);
            CHECK_STATUS(aecv_classifier_predict(c, x, 0, small, BATCH * CLASSES), AECV_ERR_INVALID_ARGUMENT);
            CHECK(all_equal(small, BATCH * CLASSES, sentinel));
            /* a larger capacity is fine; only the prefix is written */
            CHECK_STATUS(aecv_classifier_predict(c, x, 2, small, BATCH * CLASSES), AECV_OK);
            for (i = 0; i < 2 * CLASSES; i++) /* another batch size may round differently */
                if (!CHECK(fabsf(small[i] - p[i]) < 1e-5f)) break;
            CHECK(all_equal(small + 2 * CLASSES, (BATCH - 2) * CLASSES, sentinel));
            free(small);
        }

        /* fine-tuning left the autoencoder exactly as it was */
        CHECK_STATUS(aecv_model_reconstruct(ae, x, BATCH, after, BATCH * SIZE), AECV_OK);
        CHECK(memcmp(before, after, sizeof before) == 0);

        /* save / load: identical predictions, without the autoencoder */
        temp_path(path, sizeof path, "classifier.aecvc");
        temp_path(model_path, sizeof model_path, "classifier-ae.aecv");
        CHECK_STATUS(aecv_classifier_save(NULL, path), AECV_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(aecv_classifier_save(c, NULL), AECV_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(aecv_classifier_save(c, ""), AECV_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(aecv_classifier_save(c, "/nonexistent-dir/c.aecvc"), AECV_ERR_IO);
        CHECK_STATUS(aecv_classifier_save(c, path), AECV_OK);
        CHECK_STATUS(aecv_model_save(ae, model_path), AECV_OK);
        aecv_model_free(ae);
        ae = NULL;
        CHECK_STATUS(aecv_classifier_load(path, NULL), AECV_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(aecv_classifier_load(NULL, &loaded), AECV_ERR_INVALID_ARGUMENT);
        CHECK(loaded == NULL);
        CHECK_STATUS(aecv_classifier_load(path, &loaded), AECV_OK);
        if (loaded) {
            float *q = classifier_probabilities(loaded, x, BATCH);
            CHECK(memcmp(p, q, BATCH * CLASSES * sizeof(float)) == 0);
            CHECK(aecv_classifier_classes(loaded) == CLASSES && aecv_classifier_input_size(loaded) == SIZE);
            CHECK(aecv_classifier_spec(loaded, NULL, 0) == aecv_classifier_spec(c, NULL, 0));
            /* a loaded classifier trains on (fresh optimizer moments) */
            CHECK_STATUS(aecv_classifier_train_step(loaded, x, labels, BATCH, &loss), AECV_OK);
            free(q);
            aecv_classifier_free(loaded);
        }
        {
            float *q = classifier_probabilities(c, x, BATCH); /* the original still works */
            CHECK(memcmp(p, q, BATCH * CLASSES * sizeof(float)) == 0);
            free(q);
        }
        free(p);
    }

    /* files that are not classifiers: FORMAT (corrupted, truncated, a model file), IO (missing) */
    {
        size_t size = 0;
        unsigned char *bytes = read_file(path, &size);
        CHECK(bytes != NULL && size > 64);
        if (bytes) {
            bytes[size / 2] ^= 0x40;
            CHECK(write_file(path, bytes, size));
            CHECK_STATUS(aecv_classifier_load(path, &loaded), AECV_ERR_FORMAT);
            CHECK(loaded == NULL);
            bytes[size / 2] ^= 0x40;
            CHECK(write_file(path, bytes, size / 3));
            CHECK_STATUS(aecv_classifier_load(path, &loaded), AECV_ERR_FORMAT);
            CHECK(write_file(path, bytes, 0));
            CHECK_STATUS(aecv_classifier_load(path, &loaded), AECV_ERR_FORMAT);
            free(bytes);
        }
        CHECK_STATUS(aecv_classifier_load(model_path, &loaded), AECV_ERR_FORMAT);
        CHECK(loaded == NULL);
        {
            aecv_model *not_a_model = NULL;
            CHECK_STATUS(aecv_model_load(path, &not_a_model), AECV_ERR_FORMAT);
            CHECK(not_a_model == NULL);
        }
        remove(path);
        CHECK_STATUS(aecv_classifier_load(path, &loaded), AECV_ERR_IO);
        remove(model_path);
    }

    /* free: NULL and a double free are no-ops; a freed classifier is INVALID_ARGUMENT */
    aecv_classifier_free(NULL);
    aecv_classifier_free(c);
    CHECK(aecv_classifier_classes(c) == 0);
    CHECK_STATUS(aecv_classifier_predict(c, x, 1, after, CLASSES), AECV_ERR_INVALID_ARGUMENT);
    aecv_classifier_free(c);
done:
    aecv_model_free(ae);
}

/* A linear probe on the frozen code of the conv preset (the default spec) learns too. */
static void test_classifier_probe_conv(void) {
    enum { BATCH = 12 };
    aecv_model *ae = create("{\"preset\":\"conv\",\"input\":[1,12,12]}");
    aecv_classifier *c = NULL;
    float x[BATCH * 144], p[BATCH * 4], loss = 0, first = 0;
    int32_t labels[BATCH];
    size_t b, i;
    if (!ae) return;
    make_batch(x, BATCH, 144, 1);
    for (b = 0; b < BATCH; b++) labels[b] = (int32_t)(b % 4);
    CHECK_STATUS(aecv_classifier_create(ae, "{\"classes\":4}", &c), AECV_OK);
    if (!c) goto done;
    CHECK(aecv_classifier_input_size(c) == 144);
    for (i = 0; i < 40; i++) {
        CHECK_STATUS(aecv_classifier_train_step(c, x, labels, BATCH, &loss), AECV_OK);
        if (i == 0) first = loss;
    }
    CHECK(loss < first);
    CHECK_STATUS(aecv_classifier_predict(c, x, BATCH, p, BATCH * 4), AECV_OK);
    for (b = 0; b < BATCH; b++) CHECK(fabsf(p[b * 4] + p[b * 4 + 1] + p[b * 4 + 2] + p[b * 4 + 3] - 1) < 1e-5f);
    aecv_classifier_free(c);
done:
    aecv_model_free(ae);
}

/* Object detection: create (random and from a conv model), training steps, detection with the
 * capacity contract, box validation, transactional refusals, files and stale handles. */
static void test_detector(void) {
    const char *spec = "{\"classes\": 3, \"input\": [1, 32, 32], \"head_channels\": 8, \"anchor\": 10, "
                       "\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 3e-3}}";
    aecv_detector *d = NULL;
    CHECK_STATUS(aecv_detector_create(NULL, NULL, &d), AECV_ERR_INVALID_ARGUMENT);
    CHECK(d == NULL);
    CHECK_STATUS(aecv_detector_create(NULL, "{\"classes\": 3, \"input\": [1, 30, 32]}", &d), AECV_ERR_CONFIG);
    CHECK_ERROR_MENTIONS("divisible");
    CHECK_STATUS(aecv_detector_create(NULL, spec, &d), AECV_OK);
    if (!CHECK(d != NULL)) return;
    CHECK(aecv_detector_input_size(d) == 1024);
    CHECK(aecv_detector_classes(d) == 3);
    CHECK(aecv_detector_input_size(NULL) == 0);
    char text[1024];
    CHECK(aecv_detector_spec(d, text, sizeof text) > 0 && strstr(text, "\"freeze_backbone\":false") != NULL);

    /* Two images: a filled square (class 1) in the first, nothing in the second. */
    static float images[2 * 1024];
    memset(images, 0, sizeof images);
    for (int y = 4; y < 16; y++)
        for (int x = 6; x < 18; x++) images[y * 32 + x] = 1.0f;
    float boxes[2 * 2 * 5] = {1, 6, 4, 18, 16, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0};
    float first = 0, loss = 0;
    CHECK_STATUS(aecv_detector_train_step(d, images, 2, boxes, 2, &first), AECV_OK);
    for (int i = 0; i < 100; i++) CHECK_STATUS(aecv_detector_train_step(d, images, 2, boxes, 2, &loss), AECV_OK);
    CHECK(loss < 0.8f * first);
    CHECK_STATUS(aecv_detector_train_step(d, images, 2, NULL, 0, &loss), AECV_OK); /* no boxes */
    CHECK_STATUS(aecv_detector_set_learning_rate(d, -1.0f), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_detector_set_learning_rate(d, NAN), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_detector_set_learning_rate(NULL, 1e-3f), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_detector_set_learning_rate(d, 3e-3f), AECV_OK);

    /* Invalid boxes: INVALID_ARGUMENT naming the row; the detector is unchanged. */
    char before[512], after[512];
    temp_path(before, sizeof before, "det-before.aecvd");
    temp_path(after, sizeof after, "det-after.aecvd");
    CHECK_STATUS(aecv_detector_save(d, before), AECV_OK);
    float bad[][5] = {{3, 1, 1, 5, 5}, {0.5f, 1, 1, 5, 5}, {0, -1, 1, 5, 5}, {0, 1, 1, 33, 5},
                      {0, 5, 1, 5, 6}, {0, NAN, 1, 5, 5}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(aecv_detector_train_step(d, images, 1, bad[i], 1, &loss), AECV_ERR_INVALID_ARGUMENT);
        CHECK_ERROR_MENTIONS("boxes[image 0, row 0]");
    }
    CHECK_STATUS(aecv_detector_train_step(d, images, 1, NULL, 1, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_detector_train_step(d, NULL, 1, boxes, 1, &loss), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_detector_train_step(d, images, 0, boxes, 1, &loss), AECV_ERR_INVALID_ARGUMENT);
    images[5] = NAN;
    CHECK_STATUS(aecv_detector_train_step(d, images, 1, boxes, 1, &loss), AECV_ERR_NONFINITE);
    images[5] = 0;
    CHECK_STATUS(aecv_detector_save(d, after), AECV_OK);
    size_t a = 0, b = 0;
    unsigned char *x = read_file(before, &a), *y = read_file(after, &b);
    CHECK(x && y && a == b && memcmp(x, y, a) == 0);
    free(x); free(y);

    /* Detect: counts are written even when the capacity is too small. */
    size_t counts[2] = {99, 99};
    CHECK_STATUS(aecv_detector_detect(d, images, 2, 0.0f, 0.5f, NULL, 0, counts), AECV_ERR_SHAPE);
    CHECK(counts[0] > 0 && counts[0] <= 16 && counts[1] <= 16);
    size_t total = counts[0] + counts[1];
    float *out = malloc(6 * sizeof(float) * (total + 1));
    CHECK_STATUS(aecv_detector_detect(d, images, 2, 0.0f, 0.5f, out, total, counts), AECV_OK);
    CHECK(counts[0] + counts[1] == total);
    for (size_t i = 0; i + 1 < counts[0]; i++) CHECK(out[6 * i + 1] >= out[6 * (i + 1) + 1]);
    /* The best detection of the first image is the square, with its class. */
    CHECK(out[0] == 1.0f && out[1] > 0.0f);
    CHECK(fabsf(out[2] - 6) < 3 && fabsf(out[3] - 4) < 3 && fabsf(out[4] - 18) < 3 && fabsf(out[5] - 16) < 3);
    CHECK_STATUS(aecv_detector_detect(d, images, 2, 1.5f, 0.5f, out, total, counts), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_detector_detect(d, images, 2, 0.0f, 0.5f, out, total, NULL), AECV_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(aecv_detector_detect(d, images, 2, 0.0f, 0.5f, NULL, 5, counts), AECV_ERR_INVALID_ARGUMENT);

    /* Files: the loaded detector detects the same; a model file is not a detector file. */
    aecv_detector *e = NULL;
    CHECK_STATUS(aecv_detector_load(after, &e), AECV_OK);
    if (CHECK(e != NULL)) {
        float *out2 = malloc(6 * sizeof(float) * (total + 1));
        size_t counts2[2];
        CHECK_STATUS(aecv_detector_detect(e, images, 2, 0.0f, 0.5f, out2, total, counts2), AECV_OK);
        CHECK(counts2[0] == counts[0] && counts2[1] == counts[1] && memcmp(out, out2, 6 * sizeof(float) * total) == 0);
        free(out2);
        aecv_detector_free(e);
    }
    free(out);
    aecv_model *m = NULL;
    CHECK_STATUS(aecv_model_create("{\"preset\": \"conv\", \"input\": [1, 28, 28], \"hidden\": [4, 8]}", &m), AECV_OK);
    char model_path[512];
    temp_path(model_path, sizeof model_path, "det-model.aecv");
    CHECK_STATUS(aecv_model_save(m, model_path), AECV_OK);
    CHECK_STATUS(aecv_detector_load(model_path, &e), AECV_ERR_FORMAT);
    CHECK(e == NULL);

    /* From a conv model (28x28) for a 32x32 detector; a dense model is refused. */
    CHECK_STATUS(aecv_detector_create(m, spec, &e), AECV_OK);
    if (CHECK(e != NULL)) {
        CHECK(aecv_detector_spec(e, text, sizeof text) > 0 && strstr(text, "\"backbone\":[4,8]") != NULL);
        CHECK_STATUS(aecv_detector_train_step(e, images, 2, boxes, 2, &loss), AECV_OK);
        aecv_detector_free(e);
    }
    aecv_model *dense = NULL;
    CHECK_STATUS(aecv_model_create("{\"preset\": \"dense\", \"input\": [1, 28, 28]}", &dense), AECV_OK);
    CHECK_STATUS(aecv_detector_create(dense, spec, &e), AECV_ERR_UNSUPPORTED);
    /* A model handle is not a detector, and a freed detector is refused, not a crash. */
    CHECK_STATUS(aecv_detector_train_step((aecv_detector *)m, images, 1, boxes, 1, &loss), AECV_ERR_INVALID_ARGUMENT);
    aecv_model_free(dense);
    aecv_model_free(m);
    aecv_detector_free(d);
    CHECK_STATUS(aecv_detector_train_step(d, images, 1, boxes, 1, &loss), AECV_ERR_INVALID_ARGUMENT);
    aecv_detector_free(d); /* double free: ignored */
    remove(before); remove(after); remove(model_path);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/aecv-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(temp_dir)) {
        perror("mkdtemp");
        return 2;
    }
    printf("libaecv %s (header %s)\n", aecv_version_string(), AECV_VERSION_STRING);

    test_version();
    test_status_names();
    test_last_error_and_threads();
    test_create_errors();
    test_shapes_and_spec();
    test_presets();
    test_train_errors();
    test_training_converges(conv_spec);
    test_training_converges(dense_spec);
    test_inference(conv_spec);
    test_inference(dense_spec);
    test_files();
    test_threads();
    test_stale_handles();
    test_analysis();
    test_anomaly();
    test_safetensors_round_trip();
    test_safetensors_refusals();
    test_safetensors_hand_written();
    test_classifier();
    test_classifier_probe_conv();
    test_detector();

    rmdir(temp_dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
