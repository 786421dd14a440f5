// One model, N training steps of batch 64 on one thread: the workload of compare_builds.sh.
// usage: train_steps SPEC_JSON INPUT_SIZE STEPS (inputs are the targets, uniform random)
#include <stdio.h>
#include <stdlib.h>
#include "aecv.h"
int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: train_steps SPEC_JSON INPUT_SIZE STEPS\n"); return 2; }
    const char *spec = argv[1]; size_t dim = (size_t)atol(argv[2]); int steps = atoi(argv[3]);
    size_t batch = 64;
    aecv_set_num_threads(1);
    aecv_model *m = NULL;
    if (aecv_model_create(spec, &m) != AECV_OK) { fprintf(stderr, "create failed: %s\n", aecv_last_error()); return 1; }
    float *x = malloc(sizeof(float) * batch * dim);
    srand(1); for (size_t i = 0; i < batch * dim; i++) x[i] = (float)rand() / RAND_MAX;
    float loss = 0;
    for (int s = 0; s < steps; s++) if (aecv_model_train_step(m, x, x, batch, &loss) != AECV_OK) return 2;
    printf("loss %.6f\n", loss);
    aecv_model_free(m); return 0;
}
