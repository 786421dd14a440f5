/* Trains an autoencoder on Fashion-MNIST through the C API and reports the test reconstruction
 * error: the `make demo` program, and a complete example of using libaecv from C.
 *
 *   train_fashion_mnist [--preset conv] [--epochs 1] [--batch 64] [--threads 0] [--limit 0]
 *                       [--out model.aecv] [--data DIR]
 *
 * Build: cc train_fashion_mnist.c $(pkg-config --cflags --libs aecv) -lz -o train_fashion_mnist
 */
#include <aecv.h>
#include <time.h>
#include "fashion_mnist.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CHECK(call)                                                                   \
    do {                                                                              \
        aecv_status s_ = (call);                                                      \
        if (s_ != AECV_OK) {                                                          \
            fprintf(stderr, "%s failed: %s: %s\n", #call, aecv_status_name(s_),       \
                    aecv_last_error());                                               \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

int main(int argc, char **argv) {
    const char *preset = "conv", *out = NULL, *dir = FASHION_MNIST_DIR;
    int epochs = 1, threads = 0;
    size_t batch = 64, limit = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--preset")) preset = argv[i + 1];
        else if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = (size_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--limit")) limit = (size_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--data")) dir = argv[i + 1];
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    char path[4096];
    float *train = NULL, *test = NULL;
    size_t pixels = 0;
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    size_t n_train = idx_load_images(path, limit, &train, &pixels);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    size_t n_test = idx_load_images(path, 0, &test, &pixels);
    if (!n_train || !n_test) {
        fprintf(stderr, "cannot read Fashion-MNIST from %s (install dataset-fashion-mnist)\n", dir);
        return 1;
    }
    if (threads > 0) CHECK(aecv_set_num_threads(threads));

    char spec[256];
    snprintf(spec, sizeof spec, "{\"preset\": \"%s\", \"input\": [1, 28, 28], \"seed\": 0}", preset);
    aecv_model *model = NULL;
    CHECK(aecv_model_create(spec, &model));
    printf("libaecv %s: %s autoencoder, %zu parameters, %zu training images, batch %zu\n",
           aecv_version_string(), preset, aecv_model_parameter_count(model), n_train, batch);

    /* A fixed shuffled order per epoch (Fisher–Yates with a simple LCG), gathered into a batch. */
    size_t *order = malloc(n_train * sizeof *order);
    for (size_t i = 0; i < n_train; i++) order[i] = i;
    float *x = malloc(batch * pixels * sizeof(float));
    uint64_t lcg = 12345;
    for (int epoch = 1; epoch <= epochs; epoch++) {
        for (size_t i = n_train - 1; i > 0; i--) {
            lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t j = (size_t)(lcg >> 33) % (i + 1), t = order[i];
            order[i] = order[j]; order[j] = t;
        }
        size_t steps = n_train / batch;
        double start = now(), loss_sum = 0;
        for (size_t s = 0; s < steps; s++) {
            for (size_t b = 0; b < batch; b++)
                memcpy(x + b * pixels, train + order[s * batch + b] * pixels, pixels * sizeof(float));
            float loss = 0;
            CHECK(aecv_model_train_step(model, x, NULL, batch, &loss));
            loss_sum += loss;
            if ((s + 1) % 50 == 0 || s + 1 == steps) {
                double dt = now() - start;
                printf("\repoch %d  [%3.0f%%]  loss %.5f  %6.0f img/s  ETA %4.0fs", epoch,
                       100.0 * (s + 1) / steps, loss_sum / (s + 1), (s + 1) * batch / dt,
                       dt / (s + 1) * (steps - s - 1));
                fflush(stdout);
            }
        }
        double dt = now() - start;
        printf("\n");

        /* Test reconstruction MSE per pixel, in batches of 500. */
        size_t chunk = 500;
        float *recon = malloc(chunk * pixels * sizeof(float));
        double se = 0;
        for (size_t i = 0; i < n_test; i += chunk) {
            size_t nb = n_test - i < chunk ? n_test - i : chunk;
            CHECK(aecv_model_reconstruct(model, test + i * pixels, nb, recon, chunk * pixels));
            for (size_t k = 0; k < nb * pixels; k++) {
                double d = recon[k] - test[i * pixels + k];
                se += d * d;
            }
        }
        free(recon);
        printf("epoch %d: train loss %.5f, test MSE/pixel %.5f, %.0f img/s (%.1f s)\n", epoch,
               loss_sum / steps, se / (double)(n_test * pixels), steps * batch / dt, dt);
    }
    if (out) {
        CHECK(aecv_model_save(model, out));
        printf("saved %s\n", out);
    }
    aecv_model_free(model);
    free(order); free(x); free(train); free(test);
    return 0;
}
