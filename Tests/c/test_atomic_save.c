/*
 * test_atomic_save.c -- aecv_model_save is atomic even when the saving process is killed.
 *
 * A child process (this program re-executed with --child) saves a large model (dense, hidden
 * 2048: 3.5M parameters, a ~42 MB file with the Adam state) over an existing model file again
 * and again; the parent SIGKILLs it after a random delay, many times. After every kill the file
 * must load (aecv_model_load == AECV_OK) and be byte-for-byte either the old model or the new
 * one. Leftover temporary files (".model.aecv.tmp.XXXXXX", which a killed writer cannot remove)
 * are allowed and cleaned up. The kills land anywhere from the start of the first save into the
 * second, so both outcomes (old and new file) occur.
 *
 * Built and run by `make test-c` like every C file in Tests/c. Takes 10-30 s.
 */
#define _POSIX_C_SOURCE 200809L

#include <aecv.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ITERATIONS 50
#define SPEC_FORMAT "{\"preset\":\"dense\",\"input\":[1,28,28],\"hidden\":[2048],\"seed\":%d}"

static int failures;

#define FAIL(...)                                                   \
    do {                                                            \
        fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__);     \
        fprintf(stderr, __VA_ARGS__);                               \
        fprintf(stderr, " (last_error: \"%s\")\n", aecv_last_error()); \
        failures++;                                                 \
    } while (0)

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static aecv_model *create_seeded(int seed) {
    char spec[128];
    aecv_model *m = NULL;
    snprintf(spec, sizeof spec, SPEC_FORMAT, seed);
    if (aecv_model_create(spec, &m) != AECV_OK) return NULL;
    return m;
}

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    data = malloc((size_t)n + 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return data;
}

/* Puts `bytes` at `path` by writing a sibling and renaming it (no fsync: test setup only). */
static int put_file(const char *path, const unsigned char *bytes, size_t size) {
    char temporary[600];
    FILE *f;
    int ok;
    snprintf(temporary, sizeof temporary, "%s.setup", path);
    f = fopen(temporary, "wb");
    if (!f) return 0;
    ok = fwrite(bytes, 1, size, f) == size;
    ok = fclose(f) == 0 && ok;
    return ok && rename(temporary, path) == 0;
}

/* Removes the temporary files a killed writer left in `dir`; returns how many. */
static int remove_leftovers(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int count = 0;
    char path[600];
    if (!d) return 0;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".tmp.") != NULL) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) == 0) count++;
        }
    }
    closedir(d);
    return count;
}

/* The child: build the new model, say "ready" on the pipe, then save it over `path` forever. */
static int child_main(const char *path, int ready_fd) {
    aecv_model *m = create_seeded(2);
    if (!m) return 3;
    if (write(ready_fd, "r", 1) != 1) return 4;
    close(ready_fd);
    for (;;) {
        if (aecv_model_save(m, path) != AECV_OK) return 5;
    }
}

int main(int argc, char **argv) {
    char dir[256], path[512], new_path[512], self[4096];
    const char *tmp = getenv("TMPDIR");
    unsigned char *old_bytes = NULL, *new_bytes = NULL;
    size_t old_size = 0, new_size = 0;
    aecv_model *old_model = NULL, *new_model = NULL;
    int outcome_old = 0, outcome_new = 0, leftovers = 0, i;
    double started = now_seconds(), save_seconds, max_delay;
    ssize_t n;
    unsigned int rng = 12345;

    if (argc == 4 && strcmp(argv[1], "--child") == 0) return child_main(argv[2], atoi(argv[3]));

    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        perror("readlink /proc/self/exe");
        return 2;
    }
    self[n] = '\0';
    /* tmpfs when there is one: a SIGKILL tests what other processes see (the rename), not
       durability across a power loss (the fsyncs), and without a disk each save takes ~0.1 s
       instead of ~1 s, so the 50 kills fit in seconds. */
    if (access("/dev/shm", W_OK | X_OK) == 0) tmp = "/dev/shm";
    snprintf(dir, sizeof dir, "%s/aecv-atomic-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(path, sizeof path, "%s/model.aecv", dir);
    snprintf(new_path, sizeof new_path, "%s/new.aecv", dir);

    old_model = create_seeded(1);
    new_model = create_seeded(2);
    if (!old_model || !new_model) {
        FAIL("cannot create the models");
        return 1;
    }
    if (aecv_model_save(old_model, path) != AECV_OK) FAIL("save old");
    save_seconds = now_seconds();
    if (aecv_model_save(new_model, new_path) != AECV_OK) FAIL("save new");
    save_seconds = now_seconds() - save_seconds;
    old_bytes = read_all(path, &old_size);
    new_bytes = read_all(new_path, &new_size);
    remove(new_path);
    if (!old_bytes || !new_bytes || (old_size == new_size && !memcmp(old_bytes, new_bytes, old_size))) {
        FAIL("the old and new model files must exist and differ");
        return 1;
    }
    /* Kill anywhere from the start of the first save into the second (at least 0-50 ms). */
    max_delay = 1.6 * save_seconds > 0.05 ? 1.6 * save_seconds : 0.05;
    printf("atomic save: %zu-byte model file, one save %.0f ms, kills after 0-%.0f ms\n",
           new_size, save_seconds * 1e3, max_delay * 1e3);

    for (i = 0; i < ITERATIONS; i++) {
        int fds[2], status = 0;
        char fd_text[16], ready;
        pid_t pid;
        struct timespec delay;
        double d;
        unsigned char *bytes;
        size_t size = 0;
        aecv_model *loaded = NULL;

        if (!put_file(path, old_bytes, old_size)) {
            FAIL("cannot restore the old file");
            break;
        }
        if (pipe(fds) != 0) {
            perror("pipe");
            return 2;
        }
        snprintf(fd_text, sizeof fd_text, "%d", fds[1]);
        pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            char *child_argv[5];
            close(fds[0]);
            child_argv[0] = self;
            child_argv[1] = (char *)"--child";
            child_argv[2] = path;
            child_argv[3] = fd_text;
            child_argv[4] = NULL;
            execv(self, child_argv);
            _exit(127);
        }
        close(fds[1]);
        if (read(fds[0], &ready, 1) != 1) {
            FAIL("iteration %d: the child did not start", i);
            close(fds[0]);
            waitpid(pid, &status, 0);
            break;
        }
        close(fds[0]);
        rng = rng * 1103515245u + 12345u;
        d = max_delay * (double)((rng >> 8) % 10001) / 10000.0;
        delay.tv_sec = (time_t)d;
        delay.tv_nsec = (long)((d - (double)delay.tv_sec) * 1e9);
        nanosleep(&delay, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            FAIL("iteration %d: the child ended on its own (status %d)", i, status);

        bytes = read_all(path, &size);
        if (!bytes) {
            FAIL("iteration %d (killed after %.1f ms): the model file is gone", i, d * 1e3);
        } else if (size == old_size && memcmp(bytes, old_bytes, size) == 0) {
            outcome_old++;
        } else if (size == new_size && memcmp(bytes, new_bytes, size) == 0) {
            outcome_new++;
        } else {
            FAIL("iteration %d (killed after %.1f ms): the file (%zu bytes) is neither the old nor "
                 "the new model", i, d * 1e3, size);
        }
        free(bytes);
        if (aecv_model_load(path, &loaded) != AECV_OK)
            FAIL("iteration %d (killed after %.1f ms): the file does not load", i, d * 1e3);
        aecv_model_free(loaded);
        leftovers += remove_leftovers(dir);
    }

    printf("atomic save: %d kills: file was the old model %d times, the new model %d times; "
           "%d temporary files left by killed writers; %.1f s\n", ITERATIONS, outcome_old,
           outcome_new, leftovers, now_seconds() - started);
    remove(path);
    remove_leftovers(dir);
    rmdir(dir);
    free(old_bytes);
    free(new_bytes);
    aecv_model_free(old_model);
    aecv_model_free(new_model);
    printf("%d passed, %d failed\n", ITERATIONS - failures > 0 ? ITERATIONS - failures : 0, failures);
    return failures == 0 ? 0 : 1;
}
