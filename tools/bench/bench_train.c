/* bench_train.c -- libaecv's side of `make bench`: training throughput, latency, peak RSS and heap
 * allocations, measured through the public C API (include/aecv.h) on Fashion-MNIST.
 *
 * Build (what `make bench` does):
 *   cc -O2 -Wall -Iinclude -Iexamples tools/bench/bench_train.c -o build/bench/bench_train \
 *      -Lbuild/lib -laecv -lz -lm -ldl
 *   LD_LIBRARY_PATH=build/lib build/bench/bench_train [mode] [options]
 *
 * Modes (one per run):
 *   (default)          training throughput: --warmup steps, then --repeats windows of --seconds
 *                      each, training on shuffled batches of the in-memory training set; prints
 *                      images/s of each window and their median. The time includes gathering the
 *                      batch (a memcpy per image), as the PyTorch side's does (index_select).
 *   --latency          mean time of ONE aecv_model_encode and ONE aecv_model_reconstruct of a
 *                      single image (batch 1), in microseconds, over --repeats windows of
 *                      --seconds each after --warmup calls; the median window is reported.
 *   --full-epoch-rss   trains the model once over all the training images (--epochs, default 1)
 *                      and reports the peak RSS (getrusage ru_maxrss) with the RSS after loading
 *                      the data, for the memory target.
 *   --malloc-count N   runs N train steps (and N encode / reconstruct calls) under the
 *                      LD_PRELOAD shim build/bench/malloc_count.so and reports the allocation
 *                      calls made by the FIRST step and by steps 2..N, with the callers of the
 *                      latter (by shared object). Without the shim it says so and exits 3.
 *
 * Options:
 *   --preset NAME      conv | dense | vae | conv_vae | sparse | denoising (default conv); the
 *                      model is {"preset": NAME, "input": [1, 28, 28], "seed": 0}, all defaults
 *   --spec JSON        a full spec instead of --preset
 *   --batch B          default 64
 *   --threads T        aecv_set_num_threads(T) before the model is created (default 1)
 *   --warmup W         warm-up steps/calls (default 20 steps; 200 calls for --latency), stopped
 *                      early after --warmup-seconds (default 2) so a pathologically slow
 *                      configuration does not stall a whole benchmark run
 *   --seconds S        length of one measured window (default 3)
 *   --repeats R        measured windows (default 1)
 *   --limit N          load only the first N training images (default all 60000)
 *   --data DIR         Fashion-MNIST directory (default /usr/share/datasets/fashion-mnist)
 *   --json             print one JSON object on stdout instead of text
 *
 * The data is kept in memory as float32 in [0, 1] (60000 x 784 floats = 188 MB), read from the
 * gzipped IDX file in chunks, so the raw file is never held in memory next to it: the same as
 * tools/bench_torch.py does for --full-epoch-rss.
 */
#define _GNU_SOURCE
#include <aecv.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "fashion_mnist.h" /* FASHION_MNIST_DIR */
#include "malloc_count.h"

#define CHECK(call)                                                                         \
    do {                                                                                    \
        aecv_status s_ = (call);                                                            \
        if (s_ != AECV_OK) {                                                                \
            fprintf(stderr, "bench_train: %s failed: %s: %s\n", #call, aecv_status_name(s_), \
                    aecv_last_error());                                                     \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long max_rss_kb(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* Current RSS from /proc/self/statm (pages), in KB. */
static long current_rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void *xmalloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) { fprintf(stderr, "bench_train: out of memory (%zu bytes)\n", n); exit(1); }
    return p;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    double tmp[64];
    if (n > 64) n = 64;
    memcpy(tmp, v, (size_t)n * sizeof *v);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

/* IDX3 images (gzipped or not) -> float32 / 255, streamed in chunks: one allocation of exactly
 * n*h*w floats. Returns the count (<= limit when limit > 0), 0 on error. */
static size_t load_images(const char *path, size_t limit, float **out, size_t *out_pixels) {
    gzFile f = gzopen(path, "rb");
    if (!f) return 0;
    gzbuffer(f, 1 << 16);
    unsigned char h[16];
    if (gzread(f, h, 16) != 16 || h[2] != 8 || h[3] != 3) { gzclose(f); return 0; }
    size_t n = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
    size_t rows = (size_t)h[8] << 24 | (size_t)h[9] << 16 | (size_t)h[10] << 8 | h[11];
    size_t cols = (size_t)h[12] << 24 | (size_t)h[13] << 16 | (size_t)h[14] << 8 | h[15];
    if (limit && n > limit) n = limit;
    size_t total = n * rows * cols, done = 0;
    float *x = xmalloc(total * sizeof(float));
    static unsigned char chunk[1 << 16];
    while (done < total) {
        size_t want = total - done < sizeof chunk ? total - done : sizeof chunk;
        int got = gzread(f, chunk, (unsigned)want);
        if (got <= 0) { free(x); gzclose(f); return 0; }
        for (int i = 0; i < got; i++) x[done + (size_t)i] = chunk[i] / 255.0f;
        done += (size_t)got;
    }
    gzclose(f);
    *out = x;
    *out_pixels = rows * cols;
    return n;
}

/* Shuffled batches over the training set: a Fisher–Yates permutation per pass (64-bit LCG),
 * each batch gathered into one contiguous buffer. Partial batches are dropped. */
struct stream {
    const float *images;
    size_t n, pixels, batch, pos;
    size_t *order;
    uint64_t lcg;
    float *x;
};

static void shuffle(struct stream *s) {
    for (size_t i = s->n - 1; i > 0; i--) {
        s->lcg = s->lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t j = (size_t)(s->lcg >> 33) % (i + 1), t = s->order[i];
        s->order[i] = s->order[j];
        s->order[j] = t;
    }
    s->pos = 0;
}

static void stream_init(struct stream *s, const float *images, size_t n, size_t pixels, size_t batch) {
    s->images = images; s->n = n; s->pixels = pixels; s->batch = batch; s->lcg = 12345;
    s->order = xmalloc(n * sizeof *s->order);
    for (size_t i = 0; i < n; i++) s->order[i] = i;
    s->x = xmalloc(batch * pixels * sizeof(float));
    shuffle(s);
}

static const float *next_batch(struct stream *s) {
    if (s->pos + s->batch > s->n) shuffle(s);
    for (size_t b = 0; b < s->batch; b++)
        memcpy(s->x + b * s->pixels, s->images + s->order[s->pos + b] * s->pixels,
               s->pixels * sizeof(float));
    s->pos += s->batch;
    return s->x;
}

struct options {
    const char *preset, *spec, *data, *mode;
    size_t batch, limit;
    int threads, warmup, repeats, json, epochs, malloc_steps;
    double seconds, warmup_seconds;
};

static void usage(void) {
    fprintf(stderr,
            "usage: bench_train [--latency | --full-epoch-rss | --malloc-count N] [--preset P]\n"
            "                   [--spec JSON] [--batch B] [--threads T] [--warmup W] [--warmup-seconds S]\n"
            "                   [--seconds S] [--repeats R] [--epochs E] [--limit N] [--data DIR]\n"
            "                   [--json]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct options *o) {
    *o = (struct options){.preset = "conv", .data = FASHION_MNIST_DIR, .mode = "train",
                          .batch = 64, .threads = 1, .warmup = -1, .repeats = 1, .epochs = 1,
                          .seconds = 3.0, .warmup_seconds = 2.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE() (v ? (i++, v) : (usage(), ""))
        if (!strcmp(a, "--json")) o->json = 1;
        else if (!strcmp(a, "--latency")) o->mode = "latency";
        else if (!strcmp(a, "--full-epoch-rss")) o->mode = "rss";
        else if (!strcmp(a, "--malloc-count")) { o->mode = "malloc"; o->malloc_steps = atoi(TAKE()); }
        else if (!strcmp(a, "--preset")) o->preset = TAKE();
        else if (!strcmp(a, "--spec")) o->spec = TAKE();
        else if (!strcmp(a, "--batch")) o->batch = (size_t)atol(TAKE());
        else if (!strcmp(a, "--threads")) o->threads = atoi(TAKE());
        else if (!strcmp(a, "--warmup")) o->warmup = atoi(TAKE());
        else if (!strcmp(a, "--seconds")) o->seconds = atof(TAKE());
        else if (!strcmp(a, "--warmup-seconds")) o->warmup_seconds = atof(TAKE());
        else if (!strcmp(a, "--repeats")) o->repeats = atoi(TAKE());
        else if (!strcmp(a, "--epochs")) o->epochs = atoi(TAKE());
        else if (!strcmp(a, "--limit")) o->limit = (size_t)atol(TAKE());
        else if (!strcmp(a, "--data")) o->data = TAKE();
        else { fprintf(stderr, "bench_train: unknown option %s\n", a); usage(); }
#undef TAKE
    }
    if (o->batch < 1 || o->threads < 1 || o->repeats < 1 || o->repeats > 64 || o->seconds <= 0 ||
        o->epochs < 1 || (!strcmp(o->mode, "malloc") && o->malloc_steps < 2))
        usage();
    if (o->warmup < 0) o->warmup = !strcmp(o->mode, "latency") ? 200 : 20;
}

static aecv_model *make_model(const struct options *o) {
    char spec[512];
    if (o->spec) snprintf(spec, sizeof spec, "%s", o->spec);
    else snprintf(spec, sizeof spec, "{\"preset\": \"%s\", \"input\": [1, 28, 28], \"seed\": 0}", o->preset);
    aecv_model *m = NULL;
    CHECK(aecv_model_create(spec, &m));
    return m;
}

/* The common JSON head: {"side": "libaecv", "mode": ..., ... (no closing brace). */
static void json_head(const struct options *o, aecv_model *m) {
    printf("{\"side\": \"libaecv\", \"version\": \"%s\", \"mode\": \"%s\", \"preset\": \"%s\", "
           "\"batch\": %zu, \"threads\": %d, \"parameters\": %zu",
           aecv_version_string(), o->mode, o->spec ? "custom" : o->preset, o->batch, o->threads,
           aecv_model_parameter_count(m));
}

static int run_train(const struct options *o, aecv_model *m, const float *images, size_t n, size_t pixels) {
    struct stream s;
    stream_init(&s, images, n, pixels, o->batch);
    float loss = 0;
    double warm = now();
    for (int i = 0; i < o->warmup && now() - warm < o->warmup_seconds; i++)
        CHECK(aecv_model_train_step(m, next_batch(&s), NULL, o->batch, &loss));
    double rates[64];
    long total_steps = 0;
    double total_seconds = 0;
    for (int r = 0; r < o->repeats; r++) {
        long steps = 0;
        double start = now(), elapsed;
        do {
            CHECK(aecv_model_train_step(m, next_batch(&s), NULL, o->batch, &loss));
            steps++;
            elapsed = now() - start;
        } while (elapsed < o->seconds);
        rates[r] = (double)steps * (double)o->batch / elapsed;
        total_steps += steps;
        total_seconds += elapsed;
    }
    double med = median(rates, o->repeats);
    if (o->json) {
        json_head(o, m);
        printf(", \"images_per_second\": %.1f, \"windows\": [", med);
        for (int r = 0; r < o->repeats; r++) printf("%s%.1f", r ? ", " : "", rates[r]);
        printf("], \"steps\": %ld, \"seconds\": %.3f, \"final_loss\": %.6g}\n", total_steps,
               total_seconds, loss);
    } else {
        printf("libaecv %s: %.0f images/s (batch %zu, %d thread(s), median of %d window(s) of %.1f s:",
               o->spec ? "custom" : o->preset, med, o->batch, o->threads, o->repeats, o->seconds);
        for (int r = 0; r < o->repeats; r++) printf(" %.0f", rates[r]);
        printf("; %ld steps, loss %.4f)\n", total_steps, loss);
    }
    return 0;
}

/* Mean time of one call, over windows of o->seconds: fn 0 = encode, 1 = reconstruct. */
static double time_calls(const struct options *o, aecv_model *m, int fn, const float *image,
                         float *out, size_t cap, double *windows, long *calls_out) {
    double warm = now();
    for (int i = 0; i < o->warmup && now() - warm < o->warmup_seconds; i++) {
        if (fn == 0) CHECK(aecv_model_encode(m, image, 1, out, cap));
        else CHECK(aecv_model_reconstruct(m, image, 1, out, cap));
    }
    long calls_total = 0;
    for (int r = 0; r < o->repeats; r++) {
        long calls = 0;
        double start = now(), elapsed;
        do {
            for (int k = 0; k < 100; k++) {
                if (fn == 0) CHECK(aecv_model_encode(m, image, 1, out, cap));
                else CHECK(aecv_model_reconstruct(m, image, 1, out, cap));
            }
            calls += 100;
            elapsed = now() - start;
        } while (elapsed < o->seconds);
        windows[r] = elapsed / (double)calls * 1e6;
        calls_total += calls;
    }
    *calls_out = calls_total;
    return median(windows, o->repeats);
}

static int run_latency(const struct options *o, aecv_model *m, const float *images, size_t pixels) {
    size_t latent = aecv_model_latent_size(m);
    size_t cap = latent > pixels ? latent : pixels;
    float *image = xmalloc(pixels * sizeof(float)), *out = xmalloc(cap * sizeof(float));
    memcpy(image, images, pixels * sizeof(float));
    double enc_w[64], rec_w[64];
    long enc_calls, rec_calls;
    double enc = time_calls(o, m, 0, image, out, cap, enc_w, &enc_calls);
    double rec = time_calls(o, m, 1, image, out, cap, rec_w, &rec_calls);
    if (o->json) {
        struct options one = *o;
        one.batch = 1;
        json_head(&one, m);
        printf(", \"encode_latency_us\": %.3f, \"reconstruct_latency_us\": %.3f, "
               "\"encode_calls\": %ld, \"reconstruct_calls\": %ld}\n",
               enc, rec, enc_calls, rec_calls);
    } else {
        printf("libaecv %s: encode 1 image %.1f us, reconstruct 1 image %.1f us (%d thread(s), "
               "%ld + %ld calls)\n", o->spec ? "custom" : o->preset, enc, rec, o->threads,
               enc_calls, rec_calls);
    }
    free(image);
    free(out);
    return 0;
}

static int run_rss(const struct options *o, aecv_model *m, const float *images, size_t n,
                   size_t pixels, long rss_before_kb, long rss_data_kb) {
    struct stream s;
    stream_init(&s, images, n, pixels, o->batch);
    size_t steps = n / o->batch;
    float loss = 0;
    double start = now();
    for (int e = 0; e < o->epochs; e++) {
        if (e) shuffle(&s);
        for (size_t i = 0; i < steps; i++) CHECK(aecv_model_train_step(m, next_batch(&s), NULL, o->batch, &loss));
    }
    double elapsed = now() - start;
    long peak = max_rss_kb();
    double ips = (double)(steps * o->batch * (size_t)o->epochs) / elapsed;
    if (o->json) {
        json_head(o, m);
        printf(", \"images\": %zu, \"epochs\": %d, \"peak_rss_kb\": %ld, \"rss_before_data_kb\": %ld, "
               "\"rss_after_data_kb\": %ld, \"data_bytes\": %zu, \"images_per_second\": %.1f, "
               "\"seconds\": %.3f, \"final_loss\": %.6g}\n",
               steps * o->batch, o->epochs, peak, rss_before_kb, rss_data_kb,
               n * pixels * sizeof(float), ips, elapsed, loss);
    } else {
        printf("libaecv %s: full epoch over %zu images: peak RSS %.1f MB (before data %.1f MB, with "
               "data %.1f MB; data %.1f MB float32), %.0f images/s, loss %.4f\n",
               o->spec ? "custom" : o->preset, steps * o->batch, peak / 1024.0,
               rss_before_kb / 1024.0, rss_data_kb / 1024.0,
               n * pixels * sizeof(float) / 1048576.0, ips, loss);
    }
    return 0;
}

static void print_counts_json(const char *name, const struct malloc_counts *c) {
    printf(", \"%s\": {\"total\": %llu, \"malloc\": %llu, \"calloc\": %llu, \"realloc\": %llu, "
           "\"aligned\": %llu, \"free\": %llu, \"bytes\": %llu, \"other_threads\": %llu}",
           name, (unsigned long long)malloc_counts_total(c), (unsigned long long)c->malloc_calls,
           (unsigned long long)c->calloc_calls, (unsigned long long)c->realloc_calls,
           (unsigned long long)c->aligned_calls, (unsigned long long)c->free_calls,
           (unsigned long long)c->bytes, (unsigned long long)c->other_threads);
}

static void print_counts_text(const char *name, const struct malloc_counts *c) {
    printf("  %-34s %6llu allocation call(s) (malloc %llu, calloc %llu, realloc %llu, aligned %llu; "
           "%llu bytes; %llu on other threads), %llu free\n",
           name, (unsigned long long)malloc_counts_total(c), (unsigned long long)c->malloc_calls,
           (unsigned long long)c->calloc_calls, (unsigned long long)c->realloc_calls,
           (unsigned long long)c->aligned_calls, (unsigned long long)c->bytes,
           (unsigned long long)c->other_threads, (unsigned long long)c->free_calls);
}

static int run_malloc(const struct options *o, aecv_model *m, const float *images, size_t n, size_t pixels) {
    malloc_count_begin_fn begin = (malloc_count_begin_fn)dlsym(RTLD_DEFAULT, "malloc_count_begin");
    malloc_count_end_fn end = (malloc_count_end_fn)dlsym(RTLD_DEFAULT, "malloc_count_end");
    malloc_count_report_fn report = (malloc_count_report_fn)dlsym(RTLD_DEFAULT, "malloc_count_report");
    if (!begin || !end || !report) {
        fprintf(stderr, "bench_train: --malloc-count needs the shim: "
                        "LD_PRELOAD=build/bench/malloc_count.so\n");
        return 3;
    }
    struct stream s;
    stream_init(&s, images, n, pixels, o->batch);
    /* Gather every batch beforehand, so the windows contain nothing but library calls. */
    int steps = o->malloc_steps;
    float *batches = xmalloc((size_t)steps * o->batch * pixels * sizeof(float));
    for (int i = 0; i < steps; i++)
        memcpy(batches + (size_t)i * o->batch * pixels, next_batch(&s), o->batch * pixels * sizeof(float));
    size_t latent = aecv_model_latent_size(m);
    float *codes = xmalloc(o->batch * latent * sizeof(float));
    float *recon = xmalloc(o->batch * pixels * sizeof(float));
    float loss = 0;
    struct malloc_counts first, rest, enc_first, enc_rest, rec_first, rec_rest;

    begin();
    CHECK(aecv_model_train_step(m, batches, NULL, o->batch, &loss));
    end(&first);
    begin();
    for (int i = 1; i < steps; i++)
        CHECK(aecv_model_train_step(m, batches + (size_t)i * o->batch * pixels, NULL, o->batch, &loss));
    end(&rest);
    fflush(stdout);
    if (malloc_counts_total(&rest)) {
        fprintf(stderr, "---- callers of the allocations in train steps 2..%d (%s, batch %zu, %d thread(s)):\n",
                steps, o->spec ? "custom" : o->preset, o->batch, o->threads);
        report(2);
    }
    begin();
    CHECK(aecv_model_encode(m, batches, o->batch, codes, o->batch * latent));
    end(&enc_first);
    begin();
    for (int i = 1; i < steps; i++)
        CHECK(aecv_model_encode(m, batches + (size_t)i * o->batch * pixels, o->batch, codes, o->batch * latent));
    end(&enc_rest);
    if (malloc_counts_total(&enc_rest)) {
        fprintf(stderr, "---- callers of the allocations in encode calls 2..%d:\n", steps);
        report(2);
    }
    begin();
    CHECK(aecv_model_reconstruct(m, batches, o->batch, recon, o->batch * pixels));
    end(&rec_first);
    begin();
    for (int i = 1; i < steps; i++)
        CHECK(aecv_model_reconstruct(m, batches + (size_t)i * o->batch * pixels, o->batch, recon, o->batch * pixels));
    end(&rec_rest);
    if (malloc_counts_total(&rec_rest)) {
        fprintf(stderr, "---- callers of the allocations in reconstruct calls 2..%d:\n", steps);
        report(2);
    }
    if (o->json) {
        json_head(o, m);
        printf(", \"steps\": %d", steps);
        print_counts_json("train_step_first", &first);
        print_counts_json("train_step_rest", &rest);
        print_counts_json("encode_first", &enc_first);
        print_counts_json("encode_rest", &enc_rest);
        print_counts_json("reconstruct_first", &rec_first);
        print_counts_json("reconstruct_rest", &rec_rest);
        printf("}\n");
    } else {
        printf("libaecv %s: heap allocation calls (batch %zu, %d thread(s)):\n",
               o->spec ? "custom" : o->preset, o->batch, o->threads);
        char name[64];
        print_counts_text("train_step, first call", &first);
        snprintf(name, sizeof name, "train_step, calls 2..%d", steps);
        print_counts_text(name, &rest);
        print_counts_text("encode, first call", &enc_first);
        snprintf(name, sizeof name, "encode, calls 2..%d", steps);
        print_counts_text(name, &enc_rest);
        print_counts_text("reconstruct, first call", &rec_first);
        snprintf(name, sizeof name, "reconstruct, calls 2..%d", steps);
        print_counts_text(name, &rec_rest);
    }
    free(batches); free(codes); free(recon);
    return 0;
}

int main(int argc, char **argv) {
    struct options o;
    parse(argc, argv, &o);
    if (!strcmp(o.mode, "rss") && o.limit) {
        fprintf(stderr, "bench_train: --full-epoch-rss uses the whole training set; drop --limit\n");
        return 2;
    }
    long rss_before = current_rss_kb();
    char path[4096];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", o.data);
    float *images = NULL;
    size_t pixels = 0;
    size_t n = load_images(path, o.limit, &images, &pixels);
    if (!n) {
        fprintf(stderr, "bench_train: cannot read %s (install dataset-fashion-mnist)\n", path);
        return 1;
    }
    if (n < o.batch) {
        fprintf(stderr, "bench_train: batch %zu > %zu images\n", o.batch, n);
        return 2;
    }
    long rss_data = current_rss_kb();
    CHECK(aecv_set_num_threads(o.threads));
    aecv_model *m = make_model(&o);
    if (aecv_model_input_size(m) != pixels) {
        fprintf(stderr, "bench_train: the model's input size %zu is not the images' %zu\n",
                aecv_model_input_size(m), pixels);
        return 1;
    }
    int rc;
    if (!strcmp(o.mode, "latency")) rc = run_latency(&o, m, images, pixels);
    else if (!strcmp(o.mode, "rss")) rc = run_rss(&o, m, images, n, pixels, rss_before, rss_data);
    else if (!strcmp(o.mode, "malloc")) rc = run_malloc(&o, m, images, n, pixels);
    else rc = run_train(&o, m, images, n, pixels);
    aecv_model_free(m);
    free(images);
    return rc;
}
