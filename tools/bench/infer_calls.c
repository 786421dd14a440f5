// One model, N inference calls of a batch on one thread: the workload for profiling where a
// small-batch call's time goes (callgrind instruction counts, which do not depend on load).
// usage: infer_calls SPEC_JSON INPUT_SIZE CALLS BATCH encode|reconstruct
// (inputs uniform random; the model is freshly initialized, which does not change the work)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aecv.h"
int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: infer_calls SPEC_JSON INPUT_SIZE CALLS BATCH encode|reconstruct\n"); return 2; }
    const char *spec = argv[1]; size_t dim = (size_t)atol(argv[2]); int calls = atoi(argv[3]);
    size_t batch = (size_t)atol(argv[4]); int encode = strcmp(argv[5], "encode") == 0;
    aecv_set_num_threads(1);
    aecv_model *m = NULL;
    if (aecv_model_create(spec, &m) != AECV_OK) { fprintf(stderr, "create failed: %s\n", aecv_last_error()); return 1; }
    size_t latent = aecv_model_latent_size(m);
    // Codes may be longer than images (the conv preset's code is 64x4x4 = 1024 floats for 784).
    size_t out = latent > dim ? latent : dim;
    float *x = malloc(sizeof(float) * batch * dim), *y = malloc(sizeof(float) * batch * out);
    srand(1); for (size_t i = 0; i < batch * dim; i++) x[i] = (float)rand() / RAND_MAX;
    for (int c = 0; c < calls; c++) {
        aecv_status s = encode ? aecv_model_encode(m, x, batch, y, batch * latent)
                               : aecv_model_reconstruct(m, x, batch, y, batch * dim);
        if (s != AECV_OK) { fprintf(stderr, "call failed: %s\n", aecv_last_error()); return 2; }
    }
    printf("y[0] %.6f\n", y[0]);
    aecv_model_free(m); free(x); free(y); return 0;
}
