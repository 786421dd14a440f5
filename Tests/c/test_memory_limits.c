/*
 * test_memory_limits.c -- under an address-space limit (setrlimit RLIMIT_AS, what `ulimit -v`
 * sets) the library returns AECV_ERR_NO_MEMORY instead of aborting (SIGABRT) or hanging in
 * OpenBLAS's buffer allocation. Each case runs in a forked child; the parent requires that the
 * child EXITS with status 0 (it checked the status codes itself) -- a signal or a child still
 * running after 120 s is a failure (the hang of issue 19 was forever, so the bound is generous
 * and asserts nothing about speed).
 *
 * Built and run by `make test-c` like every C file in Tests/c.
 */
#define _POSIX_C_SOURCE 200809L

#include <aecv.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

/* The child's own address-space size in bytes (VmSize). */
static long long vm_size(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kib = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0) kib = atoll(line + 7);
    fclose(f);
    return kib * 1024;
}

static void limit_to(long long bytes) {
    struct rlimit r;
    r.rlim_cur = r.rlim_max = (rlim_t)bytes;
    if (setrlimit(RLIMIT_AS, &r) != 0) { perror("setrlimit"); _exit(90); }
}

#define CHILD_CHECK(cond, ...)                                                        \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  child: FAILED: " __VA_ARGS__);                         \
            fprintf(stderr, " (last_error: \"%s\")\n", aecv_last_error());            \
            _exit(1);                                                                 \
        }                                                                             \
    } while (0)

/* A 3 GiB dense model (16384 -> 8000 -> 16384: 262M parameters, 1 GiB, plus 2 GiB of Adam state)
 * under a 1.5 GiB limit. */
static void child_create_too_large(void) {
    aecv_model *m = (aecv_model *)1;
    aecv_status s;
    limit_to(vm_size() + (1536LL << 20));
    s = aecv_model_create("{\"preset\":\"dense\",\"input\":[1,128,128],\"hidden\":[8000]}", &m);
    CHILD_CHECK(s == AECV_ERR_NO_MEMORY, "create of a 3 GiB model returned %d, want NO_MEMORY", s);
    CHILD_CHECK(m == NULL, "out_model not NULL after a failed create");
    CHILD_CHECK(strstr(aecv_last_error(), "bytes") != NULL, "the message names no size");
    /* The library still works. */
    s = aecv_model_create("{\"preset\":\"dense\",\"input\":[1,8,8]}", &m);
    CHILD_CHECK(s == AECV_OK, "a small model after the failure: %d", s);
    aecv_model_free(m);
    _exit(0);
}

/* Saving needs about 3 copies of parameters + state; with room for less the save fails, the old
 * file stays and the model still encodes. */
static void child_save_too_large(const char *dir) {
    aecv_model *m = NULL;
    aecv_status s;
    char path[512];
    struct stat st;
    float x[64 * 64] = {0}, code[64];
    /* 4096 -> 2048 -> 4096: 16.8M parameters, 200 MB with Adam's state; saving needs ~600 MB. */
    s = aecv_model_create("{\"preset\":\"dense\",\"input\":[1,64,64],\"hidden\":[2048],\"latent\":64}", &m);
    CHILD_CHECK(s == AECV_OK, "create: %d", s);
    snprintf(path, sizeof path, "%s/big.aecv", dir);
    limit_to(vm_size() + (300LL << 20));
    s = aecv_model_save(m, path);
    CHILD_CHECK(s == AECV_ERR_NO_MEMORY, "save under the limit returned %d, want NO_MEMORY", s);
    CHILD_CHECK(stat(path, &st) != 0, "a failed save created the file");
    s = aecv_model_encode(m, x, 1, code, 64);
    CHILD_CHECK(s == AECV_OK, "encode after the failed save: %d", s);
    aecv_model_free(m);
    _exit(0);
}

/* Two compute threads need two 128 MiB OpenBLAS buffers; with room for one, creating a model
 * must fail with NO_MEMORY (OpenBLAS itself would retry its mmap forever). */
static void child_openblas_buffers(void) {
    aecv_model *m = NULL;
    aecv_status s;
    /* One malloc arena: glibc reserves 64 MiB of address space for each thread's arena when the
       thread first allocates, which made the room left under the limit depend on whether the
       worker threads of the failed 2-thread create had allocated yet (a flaky failure of the
       1-thread create below). */
    mallopt(M_ARENA_MAX, 1);
    CHILD_CHECK(aecv_set_num_threads(2) == AECV_OK, "set_num_threads");
    limit_to(vm_size() + (200LL << 20));
    s = aecv_model_create("{\"preset\":\"conv\",\"input\":[3,32,32]}", &m);
    CHILD_CHECK(s == AECV_ERR_NO_MEMORY, "create with no room for OpenBLAS's buffers returned %d", s);
    CHILD_CHECK(strstr(aecv_last_error(), "OpenBLAS") != NULL, "the message does not name OpenBLAS");
    /* One thread's buffer fits. */
    CHILD_CHECK(aecv_set_num_threads(1) == AECV_OK, "set_num_threads(1)");
    s = aecv_model_create("{\"preset\":\"dense\",\"input\":[1,8,8]}", &m);
    CHILD_CHECK(s == AECV_OK, "create with 1 thread: %d", s);
    aecv_model_free(m);
    _exit(0);
}

/* A batch of 100k images (313 MB in, 313 MB out) with room for little more than the two
 * buffers: inference runs in chunks, so no batch-sized workspace is needed, and reconstruct and
 * encode succeed. (Before chunking this needed ~550 MB of activations and failed.) */
static void child_large_batch(void) {
    enum { N = 100000, SIZE = 784 };
    aecv_model *m = NULL;
    aecv_status s;
    float *x, *out;
    mallopt(M_ARENA_MAX, 1);
    CHILD_CHECK(aecv_set_num_threads(1) == AECV_OK, "set_num_threads");
    s = aecv_model_create("{\"preset\":\"dense\",\"input\":[1,28,28]}", &m);
    CHILD_CHECK(s == AECV_OK, "create: %d", s);
    x = malloc((size_t)N * SIZE * sizeof(float));
    out = malloc((size_t)N * SIZE * sizeof(float));
    CHILD_CHECK(x != NULL && out != NULL, "the test's own buffers");
    for (size_t i = 0; i < (size_t)N * SIZE; i++) x[i] = (float)(i % 251) / 251.0f;
    limit_to(vm_size() + (160LL << 20));
    s = aecv_model_reconstruct(m, x, N, out, (size_t)N * SIZE);
    CHILD_CHECK(s == AECV_OK, "reconstruct of 100k images: %d", s);
    CHILD_CHECK(out[0] >= 0 && out[0] <= 1 && out[(size_t)N * SIZE - 1] >= 0, "outputs are sigmoids");
    s = aecv_model_encode(m, x, N, out, (size_t)N * 64);
    CHILD_CHECK(s == AECV_OK, "encode of 100k images: %d", s);
    aecv_model_free(m);
    _exit(0);
}

/* A TRAINING batch of 100k conv images under the same kind of limit: a step takes its batch whole
 * (its workspaces -- activations, im2col columns -- grow with it; about 255 KB per example here,
 * 24 GB in all), so the step is refused with AECV_ERR_NO_MEMORY naming the workspaces before
 * anything runs, the parameters are bit-identical, and a normal batch then trains. (Before the
 * workspace probe the step died of SIGABRT "failed to allocate".) */
static void child_large_training_batch(void) {
    enum { N = 100000, SIZE = 784, SMALL = 64 };
    aecv_model *m = NULL;
    aecv_status s;
    float *x, *before, *after, loss = -1;
    size_t count, i;
    mallopt(M_ARENA_MAX, 1);
    CHILD_CHECK(aecv_set_num_threads(1) == AECV_OK, "set_num_threads");
    s = aecv_model_create("{\"preset\":\"conv\",\"input\":[1,28,28]}", &m);
    CHILD_CHECK(s == AECV_OK, "create: %d", s);
    count = aecv_model_parameter_count(m);
    x = malloc((size_t)N * SIZE * sizeof(float));
    before = malloc(count * sizeof(float));
    after = malloc(count * sizeof(float));
    CHILD_CHECK(x != NULL && before != NULL && after != NULL, "the test's own buffers");
    for (i = 0; i < (size_t)N * SIZE; i++) x[i] = (float)(i % 251) / 251.0f;
    CHILD_CHECK(aecv_model_get_parameters(m, before, count) == AECV_OK, "get_parameters");
    limit_to(vm_size() + (400LL << 20));
    s = aecv_model_train_step(m, x, NULL, N, &loss);
    CHILD_CHECK(s == AECV_ERR_NO_MEMORY, "train_step of 100k images returned %d, expected AECV_ERR_NO_MEMORY", s);
    CHILD_CHECK(strstr(aecv_last_error(), "workspaces") != NULL && strstr(aecv_last_error(), "100000") != NULL,
                "the message names neither the workspaces nor the batch");
    s = aecv_model_evaluate(m, x, NULL, N, &loss);
    CHILD_CHECK(s == AECV_ERR_NO_MEMORY, "evaluate of 100k images returned %d", s);
    CHILD_CHECK(aecv_model_get_parameters(m, after, count) == AECV_OK, "get_parameters after");
    CHILD_CHECK(memcmp(before, after, count * sizeof(float)) == 0, "the refused step changed the parameters");
    s = aecv_model_train_step(m, x, NULL, SMALL, &loss);
    CHILD_CHECK(s == AECV_OK && loss > 0, "a batch of %d after the refusal: %d", SMALL, s);
    aecv_model_free(m);
    _exit(0);
}

/* The thread count raised AFTER the model was made: the call, not only aecv_model_create, must
 * check OpenBLAS's buffers for the count in force. With room for one more 128 MiB buffer but not
 * two, a train step, a reconstruct and a classifier at 3 threads are refused as NO_MEMORY naming
 * OpenBLAS (before, the step hung in OpenBLAS's mmap retry loop), the parameters are unchanged,
 * and at 1 thread again the model trains. */
static void child_threads_raised_after_create(void) {
    enum { SIZE = 784, N = 8 };
    aecv_model *m = NULL;
    aecv_classifier *c = (aecv_classifier *)1;
    aecv_status s;
    float x[N * SIZE], y[N * SIZE], loss = -1, *before, *after;
    size_t count, i;
    mallopt(M_ARENA_MAX, 1);
    CHILD_CHECK(aecv_set_num_threads(1) == AECV_OK, "set_num_threads(1)");
    s = aecv_model_create("{\"preset\":\"conv\",\"input\":[1,28,28]}", &m);
    CHILD_CHECK(s == AECV_OK, "create: %d", s);
    for (i = 0; i < N * SIZE; i++) x[i] = (float)(i % 97) / 97.0f;
    count = aecv_model_parameter_count(m);
    before = malloc(count * sizeof(float));
    after = malloc(count * sizeof(float));
    CHILD_CHECK(before != NULL && after != NULL, "the test's own buffers");
    CHILD_CHECK(aecv_model_get_parameters(m, before, count) == AECV_OK, "get_parameters");
    limit_to(vm_size() + (200LL << 20));
    CHILD_CHECK(aecv_set_num_threads(3) == AECV_OK, "set_num_threads(3)");
    s = aecv_model_train_step(m, x, NULL, N, &loss);
    CHILD_CHECK(s == AECV_ERR_NO_MEMORY, "train_step at 3 threads returned %d, want NO_MEMORY", s);
    CHILD_CHECK(strstr(aecv_last_error(), "OpenBLAS") != NULL, "the message does not name OpenBLAS");
    s = aecv_model_reconstruct(m, x, N, y, N * SIZE);
    CHILD_CHECK(s == AECV_ERR_NO_MEMORY, "reconstruct at 3 threads returned %d, want NO_MEMORY", s);
    s = aecv_classifier_create(m, "{\"classes\":10}", &c);
    CHILD_CHECK(s == AECV_ERR_NO_MEMORY && c == NULL, "classifier_create at 3 threads returned %d", s);
    CHILD_CHECK(aecv_model_get_parameters(m, after, count) == AECV_OK, "get_parameters after");
    CHILD_CHECK(memcmp(before, after, count * sizeof(float)) == 0, "a refused call changed the parameters");
    CHILD_CHECK(aecv_set_num_threads(1) == AECV_OK, "set_num_threads(1) again");
    s = aecv_model_train_step(m, x, NULL, N, &loss);
    CHILD_CHECK(s == AECV_OK && loss > 0, "train_step at 1 thread after the refusals: %d", s);
    aecv_model_free(m);
    _exit(0);
}

static void run_case(const char *name, void (*body)(const char *), const char *dir) {
    pid_t pid = fork();
    int status = 0, waited;
    if (pid < 0) { perror("fork"); failures++; return; }
    if (pid == 0) body(dir);
    for (waited = 0; waited < 1200; waited++) {   /* 120 s */
        struct timespec t = {0, 100000000};
        if (waitpid(pid, &status, WNOHANG) == pid) break;
        nanosleep(&t, NULL);
    }
    if (waited == 1200) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fprintf(stderr, "FAILED: %s: the child hung (killed after 120 s)\n", name);
        failures++;
    } else if (WIFSIGNALED(status)) {
        fprintf(stderr, "FAILED: %s: the child died of signal %d instead of returning an error\n",
                name, WTERMSIG(status));
        failures++;
    } else if (WEXITSTATUS(status) != 0) {
        fprintf(stderr, "FAILED: %s: the child exited %d\n", name, WEXITSTATUS(status));
        failures++;
    } else {
        printf("ok: %s\n", name);
    }
}

static void create_case(const char *dir) { (void)dir; child_create_too_large(); }
static void openblas_case(const char *dir) { (void)dir; child_openblas_buffers(); }
static void large_batch_case(const char *dir) { (void)dir; child_large_batch(); }
static void large_training_batch_case(const char *dir) { (void)dir; child_large_training_batch(); }
static void threads_raised_case(const char *dir) { (void)dir; child_threads_raised_after_create(); }

int main(void) {
    char dir[] = "/tmp/aecv-memlimit-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    run_case("create of a 3 GiB model under a 1.5 GiB limit", create_case, dir);
    run_case("save with no room for the file's bytes", child_save_too_large, dir);
    run_case("OpenBLAS buffers checked at create (bounded time)", openblas_case, dir);
    run_case("reconstruct and encode a batch of 100k images in 160 MB more than its buffers", large_batch_case, dir);
    run_case("a training batch of 100k images refused (its workspaces), the model unchanged", large_training_batch_case, dir);
    run_case("threads raised after create: OpenBLAS's buffers checked per call", threads_raised_case, dir);
    rmdir(dir);
    if (failures) { fprintf(stderr, "test_memory_limits: %d FAILED\n", failures); return 1; }
    printf("test_memory_limits: all passed\n");
    return 0;
}
