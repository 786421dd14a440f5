/* sgemm_ceiling.c -- the BLAS ceiling that `make bench` compares libaecv's achieved GFLOP/s with:
 * OpenBLAS cblas_sgemm on an n x n x n product (default 1024), at a given thread count.
 *
 *   cc -O2 tools/bench/sgemm_ceiling.c -o build/bench/sgemm_ceiling -lopenblas
 *   build/bench/sgemm_ceiling [--n 1024] [--threads 1] [--seconds 2] [--repeats 3] [--json]
 *
 * Prints the median over --repeats windows of --seconds of 2*n^3 / time-per-product, in GFLOP/s.
 * It links the same libopenblas.so.0 that libaecv uses. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Declared by OpenBLAS's cblas.h; repeated in case another cblas.h is found first. */
void openblas_set_num_threads(int num_threads);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int n = 1024, threads = 1, repeats = 3, json = 0;
    double seconds = 2.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--n")) n = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--seconds")) seconds = atof(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--repeats")) repeats = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: sgemm_ceiling [--n N] [--threads T] [--seconds S] [--repeats R] [--json]\n");
            return 2;
        }
    }
    if (n < 1 || threads < 1 || repeats < 1 || repeats > 64 || seconds <= 0) return 2;
    openblas_set_num_threads(threads);
    size_t nn = (size_t)n * (size_t)n;
    float *a = aligned_alloc(64, nn * sizeof(float));
    float *b = aligned_alloc(64, nn * sizeof(float));
    float *c = aligned_alloc(64, nn * sizeof(float));
    if (!a || !b || !c) { fprintf(stderr, "sgemm_ceiling: out of memory\n"); return 1; }
    unsigned s = 1;
    for (size_t i = 0; i < nn; i++) {
        s = s * 1103515245u + 12345u;
        a[i] = (float)((s >> 16) & 0x7fff) / 32768.0f - 0.5f;
        b[i] = (float)((s >> 8) & 0x7fff) / 32768.0f - 0.5f;
        c[i] = 0;
    }
    /* Warm-up: thread pool start, page faults, caches. */
    for (int i = 0; i < 3; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double rates[64];
    double flops = 2.0 * (double)n * (double)n * (double)n;
    for (int r = 0; r < repeats; r++) {
        long calls = 0;
        double start = now(), elapsed;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            calls++;
            elapsed = now() - start;
        } while (elapsed < seconds);
        rates[r] = flops * (double)calls / elapsed / 1e9;
    }
    double sorted[64];
    memcpy(sorted, rates, (size_t)repeats * sizeof(double));
    qsort(sorted, (size_t)repeats, sizeof(double), cmp);
    double med = repeats % 2 ? sorted[repeats / 2] : 0.5 * (sorted[repeats / 2 - 1] + sorted[repeats / 2]);
    if (json) {
        printf("{\"side\": \"openblas\", \"mode\": \"sgemm\", \"n\": %d, \"threads\": %d, \"gflops\": %.2f, \"windows\": [", n, threads, med);
        for (int r = 0; r < repeats; r++) printf("%s%.2f", r ? ", " : "", rates[r]);
        printf("]}\n");
    } else {
        printf("OpenBLAS sgemm %d^3, %d thread(s): %.1f GFLOP/s (median of %d:", n, threads, med, repeats);
        for (int r = 0; r < repeats; r++) printf(" %.1f", rates[r]);
        printf(")\n");
    }
    free(a); free(b); free(c);
    return 0;
}
