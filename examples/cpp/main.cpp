// libaecv from C++ via CMake: find_package(aecv) + target_link_libraries(... aecv::aecv).
// Trains a small dense autoencoder on synthetic 8x8 images (a bright bar at a random row) and
// exits non-zero unless the evaluation loss after training is below half of the loss before it,
// so `make test-cmake` checks that the installed library really works, not only that it links.
#include <aecv.h>

#include <cstdio>
#include <memory>
#include <random>
#include <vector>

namespace {

struct ModelDeleter {
    void operator()(aecv_model *m) const { aecv_model_free(m); }
};
using Model = std::unique_ptr<aecv_model, ModelDeleter>;

bool ok(aecv_status s, const char *what) {
    if (s == AECV_OK) return true;
    std::fprintf(stderr, "%s: %s: %s\n", what, aecv_status_name(s), aecv_last_error());
    return false;
}

}  // namespace

int main() {
    std::printf("libaecv %s\n", aecv_version_string());
    aecv_model *raw = nullptr;
    if (!ok(aecv_model_create(R"({"preset": "dense", "input": [1, 8, 8], "hidden": [32],
                                  "latent": 8, "seed": 1})", &raw), "create"))
        return 1;
    Model model(raw);

    const size_t batch = 32, pixels = aecv_model_input_size(model.get());
    std::vector<float> images(batch * pixels);
    std::mt19937 rng(0);
    for (size_t i = 0; i < batch; i++) {
        size_t row = rng() % 8;
        for (size_t x = 0; x < 8; x++) images[i * pixels + row * 8 + x] = 1.0f;
    }

    float before = 0, after = 0, loss = 0;
    if (!ok(aecv_model_evaluate(model.get(), images.data(), nullptr, batch, &before), "evaluate"))
        return 1;
    for (int step = 0; step < 300; step++)
        if (!ok(aecv_model_train_step(model.get(), images.data(), nullptr, batch, &loss), "train"))
            return 1;
    if (!ok(aecv_model_evaluate(model.get(), images.data(), nullptr, batch, &after), "evaluate"))
        return 1;
    std::printf("loss before %.5f, after 300 steps %.5f\n", before, after);
    if (!(after < 0.5f * before)) {
        std::fprintf(stderr, "training did not halve the loss\n");
        return 1;
    }
    return 0;
}
