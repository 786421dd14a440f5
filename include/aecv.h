/** @file
 * aecv.h -- libaecv: autoencoders for computer vision, C API (contract v0)
 *
 * libaecv trains and runs autoencoders (dense, sparse, denoising, variational, convolutional and
 * custom architectures) on float32 images. The library is written in Swift; this header is its
 * stable C ABI. Link with `pkg-config --cflags --libs aecv` (shared: -laecv; the library's only
 * non-system dependency is OpenBLAS).
 *
 * ---------------------------------------------------------------------------------------------
 * Conventions
 * ---------------------------------------------------------------------------------------------
 *  - Images are float32, NCHW, row-major, one example after another. For a model with input
 *    shape [C, H, W], `input_size` = C*H*W floats per example, and a batch of `batch` examples is
 *    `batch * input_size` contiguous floats. Codes are `latent_size` floats per example.
 *
 *  - Ownership: the caller owns every buffer it passes in and every buffer it receives data in.
 *    The library never keeps a pointer to a caller's buffer after a call returns, and never
 *    frees one. The only objects the library allocates for the caller are models
 *    (`aecv_model`), released with `aecv_model_free()`, and classifiers (`aecv_classifier`),
 *    released with `aecv_classifier_free()`. Strings returned by
 *    `aecv_version_string()` and `aecv_status_name()` are static; the one returned by
 *    `aecv_last_error()` is owned by the library (see there).
 *
 *  - Capacities: every output buffer comes with its capacity, in floats (in bytes for
 *    `aecv_model_spec()`). A capacity that is too small returns AECV_ERR_SHAPE and writes
 *    nothing; a larger capacity is fine (only the needed prefix is written).
 *    Input buffers have no capacity argument: they must hold exactly `batch * input_size`
 *    (or `batch * latent_size`) floats; the library cannot check what it is not told.
 *    Output buffers may overlap input buffers (e.g. reconstruct in place).
 *
 *  - Validation: every function validates its arguments (NULL pointers, zero or absurd batch
 *    sizes, capacities, non-finite numbers, malformed spec text, corrupt files) before any work
 *    is done. No input, however malformed, crashes the host process; the answer is a status.
 *
 *  - Errors: functions that can fail return an `aecv_status` (AECV_OK == 0 on success). On
 *    failure, `aecv_last_error()` gives a human-readable message on the calling thread, naming
 *    the argument or spec field and the expected vs. actual value, e.g.
 *    "out_codes: batch 64 needs 65536 floats, capacity 784". A failed call has no effect:
 *    outputs are not written, `*out_model` is set to NULL, and a model is left bit-identical
 *    (parameters, optimizer state and random state).
 *
 *  - Thread safety: every function may be called from any thread. Calls on the same model are
 *    serialized inside the library (a per-model lock); calls on different models run in
 *    parallel. Compute threads (OpenBLAS) are a process-wide setting, see
 *    `aecv_set_num_threads()`.
 *
 *  - Handles: the library keeps a registry of live models. A pointer that is not a live model
 *    (already freed, never created) is rejected with AECV_ERR_INVALID_ARGUMENT (the queries
 *    return 0, aecv_model_free ignores it) instead of crashing, as long as its address has not
 *    been reused by a newer model. Freeing a model while other threads are using it is safe:
 *    the calls already running finish, and the model is destroyed after the last one.
 *
 *  - Determinism: a model is reproducible from its spec's `seed`: the same spec and the same
 *    sequence of calls give bit-identical results with the same number of compute threads.
 */
#ifndef AECV_H
#define AECV_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* int32_t, uint32_t, uint64_t */

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================================
 * Version
 * ============================================================================================ */

/** Major version of this header: the C ABI changes only when it changes. */
#define AECV_VERSION_MAJOR 0
/** Minor version: additions that keep the ABI. */
#define AECV_VERSION_MINOR 1
/** Patch version: fixes only. */
#define AECV_VERSION_PATCH 0
/** MAJOR*10000 + MINOR*100 + PATCH, e.g. 100 for 0.1.0. */
#define AECV_VERSION_NUMBER \
    (AECV_VERSION_MAJOR * 10000 + AECV_VERSION_MINOR * 100 + AECV_VERSION_PATCH)
/** The version as text, "MAJOR.MINOR.PATCH". */
#define AECV_VERSION_STRING "0.1.0"

/** aecv_version_number():
 *  The version of the library actually linked (AECV_VERSION_NUMBER of the build), so a program
 *  can compare it with the AECV_VERSION_NUMBER of the header it was compiled with.
 *  Never fails; does not touch aecv_last_error(). Thread-safe. */
uint32_t aecv_version_number(void);

/** aecv_version_string():
 *  The version of the linked library as a string, e.g. "0.1.0". The string is static: never
 *  NULL, never free()d, valid for the life of the process.
 *  Never fails; does not touch aecv_last_error(). Thread-safe. */
const char *aecv_version_string(void);

/* ============================================================================================
 * Status codes and errors
 * ============================================================================================ */

/** The result of every function that can fail. 0 is success; any other value is an error whose
 *  details are in aecv_last_error(). New codes may be added in later versions: treat any
 *  unknown nonzero value as an error. */
typedef int32_t aecv_status;

/** Success. */
#define AECV_OK                   0
/** A NULL pointer, a zero batch/count, a thread count < 1, a learning rate that is not a
 *  positive finite number, an empty path, a misaligned float pointer. */
#define AECV_ERR_INVALID_ARGUMENT 1
/** A buffer's capacity or a shape does not match the model. Nothing was written. */
#define AECV_ERR_SHAPE            2
/** A model spec is malformed or inconsistent: invalid JSON or UTF-8, unknown keys, wrong types,
 *  inconsistent or absurd shapes. The message names the field. */
#define AECV_ERR_CONFIG           3
/** NaN or Inf in the inputs, or produced by a step (loss, gradient). The model is left exactly
 *  as it was before the call. */
#define AECV_ERR_NONFINITE        4
/** A file could not be opened, read or written. */
#define AECV_ERR_IO               5
/** A file is not a valid model file: bad magic, unsupported version, bad checksum, truncated,
 *  inconsistent sizes. */
#define AECV_ERR_FORMAT           6
/** An allocation failed or a requested size is absurd (e.g. batch * input_size > 2^31 floats). */
#define AECV_ERR_NO_MEMORY        7
/** The operation is not valid for this model kind (e.g. aecv_model_sample on a plain AE). */
#define AECV_ERR_UNSUPPORTED      8
/** A bug in the library: please report it with the message of aecv_last_error(). */
#define AECV_ERR_INTERNAL         100

/** aecv_status_name():
 *  The name of a status code as a static string, e.g. "AECV_ERR_SHAPE" for 2, "AECV_OK" for 0,
 *  and "AECV_ERR_UNKNOWN" for a value that is not a known code. Never NULL, never free()d.
 *  Never fails; does not touch aecv_last_error(), so
 *      fprintf(stderr, "%s: %s\n", aecv_status_name(s), aecv_last_error());
 *  is safe in any argument evaluation order. Thread-safe. */
const char *aecv_status_name(aecv_status status);

/** aecv_last_error():
 *  A human-readable message about the last failed call made on the CALLING THREAD, naming the
 *  argument or spec field and the expected vs. actual value; "" (empty, not NULL) when the last
 *  status-returning call on this thread succeeded, or before any call.
 *
 *  Every function that returns an aecv_status clears the message when it starts and sets it
 *  when it fails. The functions that cannot fail (version, status names, shape queries,
 *  aecv_model_spec, aecv_model_free, aecv_last_error itself) leave it as it is.
 *
 *  The string is owned by the library, NUL-terminated, never NULL; do not free it. It stays
 *  valid until the next status-returning aecv call on the same thread, or until the thread
 *  exits; copy it to keep it longer. Thread-safe (each thread has its own message). */
const char *aecv_last_error(void);

/* ============================================================================================
 * Compute threads
 * ============================================================================================ */

/** aecv_set_num_threads():
 *  Sets the number of compute threads used by the whole library (OpenBLAS's threads and any of
 *  libaecv's own), process-wide, so they never compete for the cores. `n` >= 1. The default is
 *  one thread per online core (OpenBLAS itself always runs single-threaded inside libaecv's
 *  threads, so OPENBLAS_NUM_THREADS does not change it). On small machines or
 *  when the host runs several models in parallel threads, 1 is often fastest.
 *  It may be called at any time; calls already running finish with the previous setting (each
 *  call reads the setting once, when it starts).
 *  The count in force is capped at min(n, 4 x online cores, 64): more threads than that only
 *  add memory and contention. Lowering the count retires the surplus worker threads (they
 *  exit); raising it starts workers when next needed (a thread that cannot be created means
 *  fewer parts, not an error).
 *  Returns AECV_OK, or AECV_ERR_INVALID_ARGUMENT when n < 1 or n > 1024.
 *  Thread-safe. */
aecv_status aecv_set_num_threads(int32_t n);

/* ============================================================================================
 * Models: create / free / query
 * ============================================================================================ */

/** An opaque model: architecture, parameters, optimizer state and random generator. Created by
 *  aecv_model_create() or aecv_model_load(), released by aecv_model_free(). */
typedef struct aecv_model aecv_model;

/** aecv_model_create():
 *  Builds and initializes a model from a JSON spec (see "Model spec" below), and stores it in
 *  *out_model. Initialization is reproducible from the spec's "seed".
 *
 *  spec_json:  NUL-terminated UTF-8 JSON text, at most 1 MiB (1048576 bytes). Not retained.
 *  out_model:  receives the new model, owned by the caller: release it with aecv_model_free().
 *              Set to NULL on failure (when out_model itself is not NULL).
 *
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  spec_json or out_model is NULL;
 *          AECV_ERR_CONFIG            the spec is not valid UTF-8/JSON, is too long or too deeply
 *                                     nested, has unknown keys, wrong types, missing "input",
 *                                     inconsistent or absurd shapes (the message names the field);
 *          AECV_ERR_NO_MEMORY         the parameters could not be allocated.
 *  Thread-safe. */
aecv_status aecv_model_create(const char *spec_json, aecv_model **out_model);

/** aecv_model_free():
 *  Releases a model and everything it owns. NULL is a no-op, and so is a pointer that is not a
 *  live model (e.g. freed twice). Calls running on the model in other threads finish first (the
 *  memory is released after the last of them); later calls with the pointer return
 *  AECV_ERR_INVALID_ARGUMENT. Does not touch aecv_last_error(). Thread-safe. */
void aecv_model_free(aecv_model *model);

/** aecv_model_input_size():
 *  Floats per example, C*H*W of the spec's "input". 0 when model is NULL. Never fails;
 *  thread-safe (does not wait for calls running on the model). */
size_t aecv_model_input_size(const aecv_model *model);

/** aecv_model_latent_size():
 *  Floats per code (the output of aecv_model_encode per example; for a VAE the size of the
 *  mean). 0 when model is NULL. Never fails; thread-safe. */
size_t aecv_model_latent_size(const aecv_model *model);

/** aecv_model_parameter_count():
 *  Number of trainable parameters, counted as PyTorch counts them (weights and biases).
 *  0 when model is NULL. Never fails; thread-safe. */
size_t aecv_model_parameter_count(const aecv_model *model);

/** aecv_model_spec():
 *  The model's full spec, with every default filled in, as compact JSON; creating a model from
 *  it builds the same architecture. snprintf semantics:
 *   - returns the length of the JSON text in bytes, EXCLUDING the terminating NUL, whatever
 *     `capacity` is (0 when model is NULL);
 *   - writes at most `capacity` bytes INCLUDING the NUL: when capacity > 0 the buffer always
 *     holds a NUL-terminated (possibly truncated) string; when capacity is 0 nothing is written
 *     and buffer may be NULL. The text is complete iff the return value < capacity.
 *  A NULL buffer is never written to, whatever the capacity.
 *  Typical use:  size_t n = aecv_model_spec(m, NULL, 0); char *s = malloc(n + 1);
 *                aecv_model_spec(m, s, n + 1);
 *  Never fails; does not touch aecv_last_error(); thread-safe. */
size_t aecv_model_spec(const aecv_model *model, char *buffer, size_t capacity);

/* ============================================================================================
 * Training
 * ============================================================================================ */

/** aecv_model_train_step():
 *  One optimizer step on one batch: forward, loss, backward, update.
 *
 *  inputs:   batch * input_size floats, read only.
 *  targets:  batch * input_size floats, or NULL to mean targets = inputs (plain reconstruction).
 *            Denoising models corrupt `inputs` themselves (from the model's seeded generator)
 *            and learn to reproduce `targets` (or the clean inputs).
 *  batch:    number of examples, >= 1.
 *  out_loss: receives the loss of the batch BEFORE the update (the model's objective: mean
 *            reconstruction loss, plus penalties; for a VAE the negative ELBO per example).
 *            May be NULL.
 *
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model or inputs is NULL, batch is 0, a misaligned pointer;
 *          AECV_ERR_NO_MEMORY         batch * input_size is absurd (> 2^31 floats) or the
 *                                     workspace could not be allocated;
 *          AECV_ERR_NONFINITE         NaN/Inf in inputs or targets, or a non-finite loss or
 *                                     gradient: nothing was updated, the model (parameters,
 *                                     optimizer state, random state) is bit-identical to before.
 *  Serialized with other calls on the same model. */
aecv_status aecv_model_train_step(aecv_model *model, const float *inputs, const float *targets,
                                  size_t batch, float *out_loss);

/** aecv_model_set_learning_rate():
 *  Sets the optimizer's learning rate for the following steps (e.g. for a schedule). The
 *  optimizer state (Adam moments, momentum) is kept.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT when model is NULL or learning_rate is not in
 *  (0, 1e6] (zero, negative, NaN or infinite). */
aecv_status aecv_model_set_learning_rate(aecv_model *model, float learning_rate);

/* --------------------------------------------------------------------------------------------
 * Data parallelism: a training step in two calls, with the flat gradient buffer in between, and
 * the flat parameter and buffer vectors. A host averages gradients across processes itself (for
 * example MPI_Allreduce in place on the buffer, then divides by the number of ranks):
 *
 *     aecv_model_compute_gradients(m, x, NULL, batch, &loss);
 *     aecv_model_gradients(m, &g, &n);
 *     MPI_Allreduce(MPI_IN_PLACE, g, n, MPI_FLOAT, MPI_SUM, comm);  then g[i] /= ranks
 *     aecv_model_apply_gradients(m);
 *
 * Scale: the gradient is that of the objective aecv_model_train_step minimizes on this batch,
 * which is normalized by the batch (a mean over examples). With equal per-rank batches, the mean
 * of the ranks' gradients equals the gradient of one process on the union of the batches, so
 * N ranks at batch B follow one process at batch N·B up to float rounding. Random corruption and
 * reparameterization noise are drawn per rank from the model's own generator. For uneven
 * shards (a last batch of 50 on 4 ranks) or to reproduce one process's noise exactly, use
 * aecv_model_compute_gradients_shard: its gradients are weighted for the whole batch, so the
 * ranks' gradients are SUMMED, not averaged. Float sums depend on their order: N ranks equal,
 * bit for bit or nearly, one process that splits its batch the same way (aecv_set_num_threads
 * N, parts of at least 16 examples); against an unsplit batch the rounding difference (1e-7)
 * can grow over many Adam steps, as it does between one process's 1- and 2-thread runs.
 *
 * Buffers (BatchNorm running statistics): each rank updates its own from its local batch, as
 * PyTorch DDP does by default; broadcast rank 0's (aecv_model_get_buffers/set_buffers) when ranks
 * must agree, e.g. before saving or evaluating.
 * -------------------------------------------------------------------------------------------- */

/** aecv_model_compute_gradients():
 *  Forward, loss and backward on one batch, as aecv_model_train_step, but nothing is applied:
 *  the gradient is left in the model's flat gradient buffer (aecv_model_gradients) and new
 *  buffer values are held until aecv_model_apply_gradients commits them. Arguments as
 *  aecv_model_train_step. On AECV_ERR_NONFINITE (NaN/Inf in the inputs or the loss) nothing
 *  changed: parameters, buffers, optimizer and random state are bit-identical to before, and
 *  no gradients are pending. Serialized with other calls on the same model. */
aecv_status aecv_model_compute_gradients(aecv_model *model, const float *inputs, const float *targets,
                                         size_t batch, float *out_loss);

/** aecv_model_compute_gradients_shard():
 *  aecv_model_compute_gradients on one process's shard of a batch split among processes: the
 *  `batch` examples at inputs are examples first_example .. first_example + batch - 1 of a
 *  batch of total_batch. The objective is normalized by total_batch (not batch), and each
 *  example draws the random noise (denoising corruption, VAE reparameterization) that it draws
 *  at that position in the whole batch. So when every process holds the same model state (the
 *  same parameters, optimizer and random state: rank 0's broadcast of a model made from the same
 *  spec, or the same model file) and the shards partition the batch, the SUM over processes of
 *  the gradients (MPI_SUM, no division) and of *out_loss equals aecv_model_compute_gradients on
 *  the whole batch up to float rounding, for uneven shards too (e.g. a last batch of 50 on 4
 *  ranks: 13, 13, 12, 12). Objectives that do not split over examples (BatchNorm in training
 *  mode, KL sparsity) use the shard's own statistics, as PyTorch DDP does. The `aecv` tool's
 *  `train --distributed` and Python's aecv.distributed.fit work this way.
 *  Returns as aecv_model_compute_gradients, and AECV_ERR_INVALID_ARGUMENT when
 *  first_example + batch > total_batch. */
aecv_status aecv_model_compute_gradients_shard(aecv_model *model, const float *inputs, const float *targets,
                                               size_t batch, size_t first_example, size_t total_batch,
                                               float *out_loss);

/** aecv_model_gradients():
 *  A view of the model's flat gradient buffer: *out_gradients points to *out_count floats
 *  (aecv_model_parameter_count), laid out as aecv_model_get_parameters. The memory belongs to
 *  the model; it is valid until the model is freed, and its contents until the next call on the
 *  handle that computes gradients. The caller may overwrite it (an allreduce in place) before
 *  aecv_model_apply_gradients, but must not call into the model while another thread writes it.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT when an argument is NULL or model is not live
 *  (then *out_gradients is NULL and *out_count 0). */
aecv_status aecv_model_gradients(aecv_model *model, float **out_gradients, size_t *out_count);

/** aecv_model_apply_gradients():
 *  One optimizer step with the current gradient buffer, committing parameters, optimizer state
 *  and pending buffer values together, as aecv_model_train_step does.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT when no gradients were computed since the last
 *  step; AECV_ERR_NONFINITE when the buffer holds NaN/Inf or the update is not finite (the
 *  model is left unchanged and the gradients stay pending). */
aecv_status aecv_model_apply_gradients(aecv_model *model);

/** aecv_model_buffer_count():
 *  Number of non-trainable buffer floats (BatchNorm running statistics); 0 for models without
 *  them and when model is NULL. Never fails; thread-safe. */
size_t aecv_model_buffer_count(const aecv_model *model);

/** aecv_model_get_parameters():
 *  Copies the flat parameter vector (aecv_model_parameter_count floats: the tensors of
 *  aecv_model_export_safetensors in order, each row-major) into out.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT for NULL or misaligned arguments;
 *  AECV_ERR_SHAPE when capacity is too small (nothing written). */
aecv_status aecv_model_get_parameters(aecv_model *model, float *out, size_t capacity);

/** aecv_model_set_parameters():
 *  Replaces the flat parameter vector; count must equal aecv_model_parameter_count. The
 *  optimizer state is kept. All or nothing: AECV_ERR_SHAPE for a wrong count, AECV_ERR_NONFINITE
 *  for NaN/Inf (nothing written). */
aecv_status aecv_model_set_parameters(aecv_model *model, const float *values, size_t count);

/** aecv_model_get_buffers(), aecv_model_set_buffers():
 *  The same for the flat buffer vector (aecv_model_buffer_count floats). With no buffers,
 *  count/capacity 0 and NULL pointers are accepted. */
aecv_status aecv_model_get_buffers(aecv_model *model, float *out, size_t capacity);
/** aecv_model_set_buffers():
 *  Replaces the flat buffer vector; count must equal aecv_model_buffer_count. All or nothing
 *  as for aecv_model_set_parameters(): AECV_ERR_SHAPE for a wrong count, AECV_ERR_NONFINITE for
 *  NaN/Inf (nothing written). */
aecv_status aecv_model_set_buffers(aecv_model *model, const float *values, size_t count);

/** aecv_model_evaluate():
 *  The model's objective on a batch, without any update and without training-time input
 *  corruption (for a VAE: the negative ELBO per example, with the reparameterization noise
 *  drawn from a generator seeded by the spec's seed, so the same batch always gets the same
 *  value). Arguments and status codes as for aecv_model_train_step(); the model, including its
 *  random state, is not modified. */
aecv_status aecv_model_evaluate(aecv_model *model, const float *inputs, const float *targets,
                                size_t batch, float *out_loss);

/* ============================================================================================
 * Inference (capacities in floats)
 * ============================================================================================ */

/** aecv_model_encode():
 *  Codes of a batch: out_codes receives batch * latent_size floats (for a VAE the mean of the
 *  posterior). inputs: batch * input_size floats.
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model, inputs or out_codes is NULL, batch is 0;
 *          AECV_ERR_SHAPE             capacity < batch * latent_size (nothing written);
 *          AECV_ERR_NO_MEMORY         absurd batch;
 *          AECV_ERR_NONFINITE         NaN/Inf in inputs (nothing written). */
aecv_status aecv_model_encode(aecv_model *model, const float *inputs, size_t batch,
                              float *out_codes, size_t capacity);

/** aecv_model_decode():
 *  Images from codes: codes holds batch * latent_size floats; out_images receives
 *  batch * input_size floats. Status codes as for aecv_model_encode() (capacity is checked
 *  against batch * input_size). */
aecv_status aecv_model_decode(aecv_model *model, const float *codes, size_t batch,
                              float *out_images, size_t capacity);

/** aecv_model_reconstruct():
 *  decode(encode(inputs)) (VAE: through the mean code; no training-time noise). out_images
 *  receives batch * input_size floats and may be the same buffer as inputs. Status codes as for
 *  aecv_model_encode() (capacity is checked against batch * input_size). */
aecv_status aecv_model_reconstruct(aecv_model *model, const float *inputs, size_t batch,
                                   float *out_images, size_t capacity);

/** aecv_model_sample():
 *  Generative kinds only ("vae", "conv_vae", "cvae"): decodes `count` codes drawn from N(0, I) with a
 *  generator seeded by `seed` (the model's own random state is not used or changed).
 *  out_images receives count * input_size floats.
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model or out_images is NULL, count is 0;
 *          AECV_ERR_SHAPE             capacity < count * input_size;
 *          AECV_ERR_NO_MEMORY         absurd count;
 *          AECV_ERR_UNSUPPORTED       the model is not generative. */
aecv_status aecv_model_sample(aecv_model *model, size_t count, uint64_t seed,
                              float *out_images, size_t capacity);

/** aecv_model_train_step_labeled():
 *  One optimizer step on a labeled batch, for the conditional kinds (spec "classes": K on "cvae",
 *  or on "conv_vae"): the encoder sees [x; one_hot(y)] (conv_vae: the one-hot as K constant
 *  input channels) and the decoder [z; one_hot(y)]; the loss is the negative
 *  ELBO per example, -E[log p(x|z,y)] + beta * KL(q(z|x,y) || N(0, I)).
 *
 *  inputs:   batch * input_size floats, read only.
 *  labels:   batch int32 class indices, each in [0, K).
 *  batch:    number of examples, >= 1.
 *  out_loss: receives the loss BEFORE the update; may be NULL.
 *
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model, inputs or labels is NULL, batch is 0, a misaligned
 *                                     pointer, a label out of range (the message names its index);
 *          AECV_ERR_UNSUPPORTED       the model is not conditional;
 *          AECV_ERR_NO_MEMORY         absurd batch;
 *          AECV_ERR_NONFINITE         NaN/Inf in inputs or a non-finite loss: the model is
 *                                     bit-identical to before.
 *  aecv_model_train_step() on a conditional model fails with AECV_ERR_UNSUPPORTED (no labels).
 *  Serialized with other calls on the same model. */
aecv_status aecv_model_train_step_labeled(aecv_model *model, const float *inputs, const int32_t *labels,
                                          size_t batch, float *out_loss);

/** aecv_model_sample_class():
 *  Conditional kinds (cvae, conv_vae with "classes") only: decodes `count` codes z ~ N(0, I), drawn with a generator
 *  seeded by `seed`, each with the one-hot of class_index: images of that class.
 *  out_images receives count * input_size floats in [0, 1]. (aecv_model_sample() on a
 *  conditional model gives draw i the class i mod K.)
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model or out_images is NULL, count is 0, class_index is
 *                                     not in [0, K);
 *          AECV_ERR_SHAPE             capacity < count * input_size;
 *          AECV_ERR_NO_MEMORY         absurd count;
 *          AECV_ERR_UNSUPPORTED       the model is not conditional. */
aecv_status aecv_model_sample_class(aecv_model *model, int32_t class_index, size_t count, uint64_t seed,
                                    float *out_images, size_t capacity);

/* ============================================================================================
 * Analysis
 * ============================================================================================ */

/** aecv_model_code_sparsity():
 *  Encodes `batch` examples and stores in *out_fraction the fraction of code entries with
 *  |z| <= threshold: how sparse the learned representation is. ReLU codes (dense, sparse L1)
 *  have exact zeros, so threshold 0 counts them; KL-sparse codes are sigmoid activations, for
 *  which a threshold such as 0.05 is meaningful. The model is not changed.
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model, inputs or out_fraction is NULL, batch is 0,
 *                                     threshold is negative or not finite;
 *          AECV_ERR_NONFINITE         the inputs hold NaN or Inf;
 *          AECV_ERR_NO_MEMORY         absurd batch. */
aecv_status aecv_model_code_sparsity(aecv_model *model, const float *inputs, size_t batch,
                                     float threshold, float *out_fraction);

/** aecv_model_interpolate():
 *  Encodes two examples a and b (input_size floats each) and decodes `steps` codes evenly
 *  spaced from code(a) to code(b), both ends included: z_i = (1 - t) z_a + t z_b,
 *  t = i / (steps - 1). VAE kinds use the means. out_images receives steps * input_size floats,
 *  the first being the reconstruction of a and the last that of b.
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model, input_a, input_b or out_images is NULL, steps is
 *                                     outside 2..65536;
 *          AECV_ERR_SHAPE             capacity < steps * input_size;
 *          AECV_ERR_NONFINITE         an input holds NaN or Inf. */
aecv_status aecv_model_interpolate(aecv_model *model, const float *input_a, const float *input_b,
                                   size_t steps, float *out_images, size_t capacity);

/* ============================================================================================
 * Anomaly detection
 * ============================================================================================
 *
 * An autoencoder trained on normal images only reconstructs them well and other images worse,
 * so the error between an image x and its reconstruction x^ = decode(encode(x)) (VAE: through
 * the mean code; no training-time noise) is an anomaly score per image and an anomaly map per
 * pixel. Higher means more anomalous. For every metric, an image's score is the MEAN of its
 * map over all C*H*W values. Pixels are expected in [0, 1] (the SSIM constants assume a data
 * range of 1). Reconstruction runs in chunks of 256 examples, so memory stays bounded for any
 * batch. The model is not changed (parameters, optimizer and random state). */

/** The measure an anomaly map uses, passed as an int32_t. Values never change; new metrics get
 *  new values. */
typedef enum {
    /** map = (x - x^)^2 per pixel; score = the mean squared error of the image. */
    AECV_ANOMALY_MSE = 0,
    /** map = 1 - SSIM(x, x^) per pixel and channel; score = 1 - mean SSIM, in [0, 2], 0 when
     *  x^ = x. SSIM as in Wang et al. 2004: an 11x11 Gaussian window with sigma 1.5, population
     *  (co)variances, C1 = 0.01^2, C2 = 0.03^2. The map covers every pixel: near the border the
     *  window is truncated to the image and renormalized (farther than 5 pixels from the border
     *  the values equal scikit-image's structural_similarity(gaussian_weights=True,
     *  use_sample_covariance=False, data_range=1)). Structural: it weighs a changed shape or
     *  texture more than a uniform change of brightness. */
    AECV_ANOMALY_SSIM = 1,
    /** map = (G * (x - x^))^2 per pixel and channel: the squared error after blurring the
     *  difference with a Gaussian of sigma 1 pixel (9 taps, truncated and renormalized at the
     *  border); score = its mean. Pixel noise and one-pixel misalignments average out while
     *  coherent regions of error add up: the recommended score (one-class Fashion-MNIST, mean
     *  AUROC 0.93 with the "dense" preset against 0.91 for MSE; see README). */
    AECV_ANOMALY_BLURRED_MSE = 2
} aecv_anomaly_metric;

/** aecv_model_anomaly_scores():
 *  One anomaly score per example: out_scores[i] = mean of the anomaly map of example i.
 *  inputs:     batch * input_size floats, read only.
 *  metric:     an aecv_anomaly_metric value.
 *  out_scores: receives batch floats; capacity counts floats (>= batch).
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model, inputs or out_scores is NULL, batch is 0, metric is
 *                                     none of the aecv_anomaly_metric values (the message
 *                                     names it);
 *          AECV_ERR_SHAPE             capacity < batch (nothing written);
 *          AECV_ERR_NO_MEMORY         absurd batch;
 *          AECV_ERR_NONFINITE         NaN/Inf in inputs (nothing written).
 *  Serialized with other calls on the same model. */
aecv_status aecv_model_anomaly_scores(aecv_model *model, const float *inputs, size_t batch,
                                      int32_t metric, float *out_scores, size_t capacity);

/** aecv_model_anomaly_maps():
 *  One anomaly map per example, in the layout of the inputs: out_maps receives
 *  batch * input_size floats, (N, C, H, W), and may be the same buffer as inputs.
 *  Status codes as for aecv_model_anomaly_scores() (capacity is checked against
 *  batch * input_size). */
aecv_status aecv_model_anomaly_maps(aecv_model *model, const float *inputs, size_t batch,
                                    int32_t metric, float *out_maps, size_t capacity);

/* ============================================================================================
 * Inspection: metrics, tiled maps, thresholds stored with the model
 * ============================================================================================
 *
 * Labels, masks and flags are bytes (uint8_t): 0 = normal, anything else = anomalous. Masks and
 * pixel maps are (count, H, W), one plane per image. The metrics need no model; the other calls
 * read images (batch, C, height, width) of the model's C channels and any height, width at
 * least the model's input: a larger image is cut into tiles of the input's size every
 * tile_stride pixels (0 = half a tile), the last one flush with the border, and the tiles' maps
 * averaged where they overlap. The pixel map of a tile is the mean over channels of the
 * metric's map. An image's score is a reduction of its pixel map (aecv_score_reduction). */

/** How an image's score is read off its pixel map. Values never change. */
typedef enum {
    /** The mean of the pixel map (untiled: aecv_model_anomaly_scores' score, up to rounding). */
    AECV_REDUCTION_MEAN = 0,
    /** The largest pixel. */
    AECV_REDUCTION_MAX = 1,
    /** The mean of the ceil(top_fraction * H * W) largest pixels (at least one); 0 < top_fraction <= 1. */
    AECV_REDUCTION_TOP_MEAN = 2
} aecv_score_reduction;

/** aecv_roc_auc():
 *  Area under the ROC curve of `scores` (higher = anomalous) against `labels`: the probability
 *  that a random anomalous example scores above a random normal one, ties counting one half
 *  (scikit-learn's roc_auc_score). For pixel AUROC pass every pixel of the maps and masks.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT (NULL, count 0, only one class present);
 *  AECV_ERR_NONFINITE (NaN/Inf score); AECV_ERR_NO_MEMORY. O(count log count). */
aecv_status aecv_roc_auc(const float *scores, const uint8_t *labels, size_t count, double *out_auc);

/** aecv_best_f1():
 *  The best F1 = 2TP / (2TP + FP + FN) over all thresholds of the decision "anomalous when
 *  score > threshold", and (if out_threshold is not NULL) a threshold reaching it: halfway
 *  between the lowest score flagged and the next lower score. Errors as aecv_roc_auc(). */
aecv_status aecv_best_f1(const float *scores, const uint8_t *labels, size_t count, double *out_f1,
                         float *out_threshold);

/** aecv_per_region_overlap():
 *  PRO as in the MVTec AD evaluation: over thresholds t, PRO(t) = the mean over the
 *  8-connected regions of the masks (all images pooled) of the fraction of the region with
 *  map > t, and FPR(t) = the fraction of normal pixels with map > t; out_pro = the area under
 *  PRO(FPR) from 0 to fpr_limit (trapezoids, interpolated at the limit) / fpr_limit, in [0, 1].
 *  maps: count*height*width floats; masks: as many bytes. fpr_limit: in (0, 1], usually 0.3.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT (NULL, zero sizes, fpr_limit out of range, masks
 *  without any anomalous or without any normal pixel); AECV_ERR_NONFINITE; AECV_ERR_NO_MEMORY. */
aecv_status aecv_per_region_overlap(const float *maps, const uint8_t *masks, size_t count, size_t height,
                                    size_t width, double fpr_limit, double *out_pro);

/** aecv_model_anomaly_pixel_maps():
 *  One pixel map (height, width) per image, tiled as described above. out_maps: capacity >=
 *  batch*height*width floats; may be the inputs' buffer.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT (NULL, zero batch/size, image smaller than the
 *  model's input, bad metric); AECV_ERR_SHAPE (capacity); AECV_ERR_NONFINITE; AECV_ERR_NO_MEMORY. */
aecv_status aecv_model_anomaly_pixel_maps(aecv_model *model, const float *inputs, size_t batch, size_t height,
                                          size_t width, int32_t metric, uint32_t tile_stride,
                                          float *out_maps, size_t capacity);

/** aecv_model_anomaly_image_scores():
 *  One score per image: reduction (an aecv_score_reduction; top_fraction read for
 *  AECV_REDUCTION_TOP_MEAN only) of its pixel map. capacity >= batch floats. Errors as
 *  aecv_model_anomaly_pixel_maps(), plus INVALID_ARGUMENT for a bad reduction or fraction. */
aecv_status aecv_model_anomaly_image_scores(aecv_model *model, const float *inputs, size_t batch, size_t height,
                                            size_t width, int32_t metric, int32_t reduction, double top_fraction,
                                            uint32_t tile_stride, float *out_scores, size_t capacity);

/** aecv_model_anomaly_calibrate():
 *  Fits the decision thresholds on validation images and stores them, with the scoring
 *  (metric, reduction, top_fraction, tile_stride), in the model: aecv_model_save() writes them
 *  and aecv_model_load() reads them back, so every host decides the same way from one file.
 *  labels NULL (all images good): image threshold = the `quantile` (in [0, 1], numpy's linear
 *  interpolation) of the image scores, pixel threshold = that quantile of all their pixels.
 *  labels given (batch bytes, both classes present): image threshold = aecv_best_f1() of the
 *  scores; pixel threshold = aecv_best_f1() of the pixels when masks (batch*height*width
 *  bytes) are given, else the quantile of the good images' pixels. masks need labels.
 *  On failure the model's previous calibration is kept. Errors as
 *  aecv_model_anomaly_image_scores() and aecv_best_f1(). */
aecv_status aecv_model_anomaly_calibrate(aecv_model *model, const float *inputs, size_t batch, size_t height,
                                         size_t width, int32_t metric, int32_t reduction, double top_fraction,
                                         uint32_t tile_stride, double quantile, const uint8_t *labels,
                                         const uint8_t *masks);

/** aecv_model_anomaly_calibration():
 *  The model's calibration as JSON ({"metric", "reduction", "tile_stride", "image":
 *  {"threshold", "method", ...}, "pixel": {...}, "count"}) with snprintf semantics as
 *  aecv_model_spec(): returns its length in bytes without the NUL, writes at most capacity
 *  bytes including the NUL. Returns 0 (and writes "") when the model has no calibration or
 *  is not a live model. Never fails. */
size_t aecv_model_anomaly_calibration(aecv_model *model, char *buffer, size_t capacity);

/** aecv_model_anomaly_predict():
 *  The stored calibration's decision: out_scores[i] = the image score with the stored scoring,
 *  out_flags[i] = 1 when it is above the image threshold, else 0. capacity >= batch (floats
 *  for out_scores; out_flags needs batch bytes). Returns AECV_ERR_UNSUPPORTED when the model
 *  has no calibration; other errors as aecv_model_anomaly_image_scores(). */
aecv_status aecv_model_anomaly_predict(aecv_model *model, const float *inputs, size_t batch, size_t height,
                                       size_t width, float *out_scores, uint8_t *out_flags, size_t capacity);

/** aecv_model_anomaly_segment():
 *  The stored calibration's segmentation: out_maps = the pixel maps with the stored metric and
 *  tile stride, out_masks[p] = 1 where out_maps[p] is above the pixel threshold, else 0.
 *  capacity >= batch*height*width (floats for out_maps; out_masks needs as many bytes).
 *  AECV_ERR_UNSUPPORTED without a calibration; other errors as aecv_model_anomaly_pixel_maps(). */
aecv_status aecv_model_anomaly_segment(aecv_model *model, const float *inputs, size_t batch, size_t height,
                                       size_t width, float *out_maps, uint8_t *out_masks, size_t capacity);

/* ============================================================================================
 * Model files
 * ============================================================================================ */

/** aecv_model_save():
 *  Writes the model (spec, parameters, optimizer state, random state) to `path`, a
 *  NUL-terminated UTF-8 file name. Atomic: the file is written beside the target and renamed
 *  over it, so a failed save leaves an existing file intact and creates no file.
 *  The target is examined first (lstat), and these rules hold for every file libaecv writes
 *  (model files, safetensors, checkpoints, the CLI's --out):
 *   - a symbolic link is followed and the file it names is replaced, in that file's directory;
 *     the link itself stays;
 *   - a directory, character or block device (e.g. /dev/null), FIFO or socket is refused with
 *     AECV_ERR_IO naming it, and left untouched: an atomic save can only replace a regular file,
 *     and writing into a device or pipe could block or lose the old contents;
 *   - any legal file name saves: the temporary name is cut to fit NAME_MAX (255 bytes).
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model or path is NULL, path is empty, not UTF-8 or longer
 *                                     than 4095 bytes;
 *          AECV_ERR_IO                the file could not be written (e.g. missing directory), or
 *                                     the target is not a regular file (see above);
 *          AECV_ERR_NO_MEMORY         the file's bytes could not be allocated (the message says
 *                                     how many); the model is unchanged. */
aecv_status aecv_model_save(aecv_model *model, const char *path);

/** aecv_model_load():
 *  Reads a model written by aecv_model_save() and stores it in *out_model; training can resume
 *  exactly where it stopped. The file is validated completely (magic, version, checksum, sizes)
 *  before anything is built from it.
 *  out_model: receives the new model, owned by the caller (aecv_model_free()); set to NULL on
 *             failure (when out_model itself is not NULL).
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  path or out_model is NULL, bad path (as for save);
 *          AECV_ERR_IO                the file could not be opened or read;
 *          AECV_ERR_FORMAT            not a valid model file (empty, bad magic, unsupported
 *                                     version, bad checksum, truncated, inconsistent);
 *          AECV_ERR_CONFIG            the stored spec is invalid;
 *          AECV_ERR_NO_MEMORY         the model could not be allocated.
 *  Thread-safe. */
aecv_status aecv_model_load(const char *path, aecv_model **out_model);

/* ============================================================================================
 * Weights to and from PyTorch (safetensors)
 * ============================================================================================
 *
 * Parameters only, in the safetensors format (Hugging Face's safetensors library and its
 * torch helpers read and write it),
 * named as the state_dict of the equivalent PyTorch module, so that
 *     model.load_state_dict(safetensors.torch.load_file(path))
 * loads an exported file, and a state_dict written with safetensors.torch.save_file() imports
 * with no renaming. docs/model-format.md lists the names and the PyTorch modules of every
 * preset, e.g. conv: "encoder.0.weight" ... "decoder.4.bias"; dense: "encoder.0.weight" ...
 * "decoder.2.bias"; vae: "fc1", "fc_mu", "fc_logvar", "fc3", "fc4" (".weight" / ".bias").
 * Layouts are PyTorch's: Linear weight (out, in), Conv2d weight (out, in, kH, kW),
 * ConvTranspose2d weight (in, out, kH, kW). */

/** aecv_model_export_safetensors():
 *  Writes the model's parameters to `path` as a safetensors file: every tensor F32, with the
 *  metadata {"format": "pt", "aecv.spec": (the filled spec JSON)}. Atomic like aecv_model_save():
 *  a failed export leaves an existing file intact and creates no file. The optimizer and random
 *  state are not exported (use aecv_model_save() for a checkpoint).
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model or path is NULL, path is empty, not UTF-8 or longer
 *                                     than 4095 bytes;
 *          AECV_ERR_IO                the file could not be written. */
aecv_status aecv_model_export_safetensors(aecv_model *model, const char *path);

/** aecv_model_import_safetensors():
 *  Replaces the model's parameters with the tensors of the safetensors file at `path`.
 *  The file must hold exactly the model's tensors: every name the model has, each with the
 *  model's shape, and no other name (an extra tensor is refused rather than ignored: it almost
 *  always means the file is from another architecture). F32, F64, F16 and BF16 tensors are
 *  accepted and converted to float32 (F64 rounds to nearest); metadata is ignored.
 *  All-or-nothing: a refused import leaves the model bit-identical (parameters, optimizer state,
 *  random state). A successful import resets the optimizer state (Adam moments or SGD momentum
 *  to zero, step count to 0), which belonged to the old weights; the spec, the learning rate
 *  and the random generator are kept.
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  model or path is NULL, bad path (as for save);
 *          AECV_ERR_IO                the file could not be opened or read;
 *          AECV_ERR_FORMAT            not a valid safetensors file (truncated, bad header JSON,
 *                                     overlapping or out-of-range offsets, unsupported dtype,
 *                                     duplicate names), or larger than any valid import for this
 *                                     model;
 *          AECV_ERR_SHAPE             a tensor is missing, has another shape, or is not a
 *                                     tensor of this model (the message names them);
 *          AECV_ERR_NONFINITE         a value is NaN or Inf (the message names the tensor).
 *  Thread-safe; the file is read before the model's lock is taken. */
aecv_status aecv_model_import_safetensors(aecv_model *model, const char *path);

/* ============================================================================================
 * Classification
 * ============================================================================================
 *
 * An image classifier on top of an autoencoder's encoder (feature extraction and transfer
 * learning):
 *
 *     x -> encoder (a COPY of the autoencoder's) -> features -> standardize -> head -> logits
 *     loss = softmax cross-entropy, the mean over the batch
 *
 * The features are the code (a VAE's: the mean mu), or the output of the first `feature`
 * encoder layers. With "freeze_encoder": true (the default) only the head learns: a linear
 * probe (hidden []) or an MLP on frozen codes; with false the encoder is fine-tuned too, with
 * its own learning rate. The classifier copies the encoder's weights when it is created and
 * never touches the autoencoder again: the model stays usable and unchanged, and may be freed.
 *
 * Labels are int32_t class indices in 0 .. classes-1. Probabilities are `classes` floats per
 * example, (batch, classes) row-major, each row summing to 1. The classifier's input_size is its
 * autoencoder's. Conventions (validation, capacities, thread safety, handles, failed calls
 * leaving the classifier bit-identical) are those of models; a pointer that is not a live
 * classifier (or is an aecv_model) is AECV_ERR_INVALID_ARGUMENT.
 *
 * Classifier spec (JSON), unknown keys and wrong types are AECV_ERR_CONFIG naming the field:
 *   "classes":               integer 2..65536             required; the number of classes.
 *   "hidden":                integer or [ints]            widths of the head's hidden layers
 *                                                         (Dense + ReLU each); default [] (a
 *                                                         linear head: Dense features -> classes).
 *   "freeze_encoder":        true | false                 default true (see above).
 *   "encoder_learning_rate": number > 0                   fine-tuning only (an error with
 *                                                         "freeze_encoder": true); default the
 *                                                         optimizer's learning_rate / 10.
 *   "standardize":           true | false                 default true: z-score each feature,
 *                                                         (f - mean) / sqrt(var + 1e-5), with
 *                                                         statistics averaged over the training
 *                                                         batches (cumulative for the first 100
 *                                                         steps, then exponential, momentum 0.01).
 *   "feature":               "code" | integer >= 1        default "code"; an integer keeps that
 *                                                         many leading encoder layers (e.g. 4 on
 *                                                         "conv": the output of the 2nd ReLU);
 *                                                         VAE kinds: "code" (mu) only.
 *   "optimizer":             as in the model spec         the head's (and, scaled by
 *                                                         encoder_learning_rate, the encoder's);
 *                                                         default Adam, learning rate 1e-3.
 *   "seed":                  integer >= 0                 default 0; the head's initialization
 *                                                         (PyTorch's Linear default).
 * Example: {"classes": 10}   {"classes": 10, "hidden": [256], "freeze_encoder": false,
 *                             "optimizer": {"name": "adam", "learning_rate": 1e-3}} */

/** An opaque classifier: a copy of an encoder, a head, their optimizers and the feature
 *  statistics. Created by aecv_classifier_create() or aecv_classifier_load(), released by
 *  aecv_classifier_free(). */
typedef struct aecv_classifier aecv_classifier;

/** aecv_classifier_create():
 *  Builds a classifier on the encoder of `autoencoder` (any kind) from a JSON classifier spec
 *  (above), copying the encoder's current weights (under the model's lock: a training step
 *  running on another thread is never seen half-way). The head is initialized from the spec's
 *  seed. The autoencoder is not changed and is not referenced afterwards.
 *  spec_json: NUL-terminated UTF-8 JSON, at most 1 MiB. Not retained.
 *  out:       receives the new classifier, owned by the caller (aecv_classifier_free()); set to
 *             NULL on failure (when out itself is not NULL).
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  autoencoder, spec_json or out is NULL, or autoencoder is not
 *                                     a live model;
 *          AECV_ERR_CONFIG            the spec is invalid (the message names the field), or
 *                                     "feature" asks for more layers than the encoder has;
 *          AECV_ERR_NO_MEMORY         allocation failed.
 *  Thread-safe. */
aecv_status aecv_classifier_create(const aecv_model *autoencoder, const char *spec_json,
                                   aecv_classifier **out);

/** aecv_classifier_free():
 *  Releases a classifier. NULL is a no-op, and so is a pointer that is not a live classifier
 *  (e.g. freed twice). Calls running on it in other threads finish first. Does not touch
 *  aecv_last_error(). Thread-safe. */
void aecv_classifier_free(aecv_classifier *classifier);

/** aecv_classifier_classes():
 *  The number of classes (floats per example of aecv_classifier_predict()). 0 when classifier
 *  is NULL or not live. Never fails; thread-safe (does not wait for running calls). */
size_t aecv_classifier_classes(const aecv_classifier *classifier);

/** aecv_classifier_input_size():
 *  Floats per input example, C*H*W of the autoencoder's input. 0 when classifier is NULL or
 *  not live. Never fails; thread-safe. */
size_t aecv_classifier_input_size(const aecv_classifier *classifier);

/** aecv_classifier_spec():
 *  The classifier's spec with every default filled in, as compact JSON, with the snprintf
 *  semantics of aecv_model_spec() (returns the length excluding the NUL; 0 when classifier is
 *  NULL). Never fails; does not touch aecv_last_error(); thread-safe. */
size_t aecv_classifier_spec(const aecv_classifier *classifier, char *buffer, size_t capacity);

/** aecv_classifier_train_step():
 *  One optimizer step on a labelled batch: forward, cross-entropy, backward, update of the head
 *  (and of the encoder when fine-tuning) and of the feature statistics.
 *  inputs:   batch * input_size floats, read only.
 *  labels:   batch int32_t class indices, each in 0 .. classes-1.
 *  out_loss: receives the mean cross-entropy of the batch BEFORE the update (nats); may be NULL.
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  classifier, inputs or labels is NULL, batch is 0, a label is
 *                                     outside 0 .. classes-1 (the message names its index and
 *                                     value), a misaligned pointer;
 *          AECV_ERR_NO_MEMORY         absurd batch;
 *          AECV_ERR_NONFINITE         NaN/Inf in inputs, or a non-finite loss or update.
 *  On any failure the classifier is bit-identical to before. Serialized with other calls on the
 *  same classifier. */
aecv_status aecv_classifier_train_step(aecv_classifier *classifier, const float *inputs,
                                       const int32_t *labels, size_t batch, float *out_loss);

/** aecv_classifier_predict():
 *  Class probabilities (softmax of the logits) of a batch: out_probabilities receives
 *  batch * classes floats, (batch, classes), each row summing to 1. The most probable class is
 *  the index of a row's maximum. The classifier is not changed (features are standardized with
 *  the statistics of the training seen so far).
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  classifier, inputs or out_probabilities is NULL, batch is 0;
 *          AECV_ERR_SHAPE             capacity < batch * classes (nothing written);
 *          AECV_ERR_NO_MEMORY         absurd batch;
 *          AECV_ERR_NONFINITE         NaN/Inf in inputs (nothing written). */
aecv_status aecv_classifier_predict(aecv_classifier *classifier, const float *inputs, size_t batch,
                                    float *out_probabilities, size_t capacity);

/** aecv_classifier_save():
 *  Writes the classifier (its spec, the autoencoder's spec, the encoder and head weights and the
 *  feature statistics) to `path`; atomic like aecv_model_save(). The optimizer state is not
 *  saved: a loaded classifier predicts exactly as the saved one, and further training starts
 *  with fresh optimizer moments. Suggested extension: ".aecvc".
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT (NULL or bad path, as for aecv_model_save());
 *          AECV_ERR_IO (could not be written). */
aecv_status aecv_classifier_save(aecv_classifier *classifier, const char *path);

/** aecv_classifier_load():
 *  Reads a classifier written by aecv_classifier_save(); the file is validated completely
 *  (magic, version, checksum, every tensor's name and shape) before anything is built from it.
 *  It needs no autoencoder.
 *  out: receives the new classifier (aecv_classifier_free()); NULL on failure.
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  path or out is NULL, bad path;
 *          AECV_ERR_IO                the file could not be opened or read;
 *          AECV_ERR_FORMAT            not a valid classifier file (e.g. a model file, corrupted,
 *                                     truncated, or its tensors do not fit its specs);
 *          AECV_ERR_NO_MEMORY         allocation failed.
 *  Thread-safe. */
aecv_status aecv_classifier_load(const char *path, aecv_classifier **out);

/* ============================================================================================
 * Object detection
 * ============================================================================================
 *
 * A single-stage grid detector whose backbone is the conv autoencoder's encoder: S stride-2
 * stages (Conv 3x3, stride 2, padding 1, + ReLU) make an image of H x W a grid of
 * (H/2^S) x (W/2^S) cells (96x96 -> 12x12 for the conv preset's 3 stages). A head
 * Conv3x3(head_channels, padding 1) -> ReLU -> Conv1x1(5 + classes) gives per cell an objectness
 * logit, a box (center offset in the cell through a sigmoid, log width and height relative to
 * "anchor" pixels) and class logits. Each ground-truth box is assigned to the cell holding its
 * center (of two in one cell, the larger is kept); the loss per image is BCE-with-logits
 * objectness over all cells (empty cells weighted by "negative_weight") + "box_weight" x
 * smooth-L1 (beta 1/9) on the box of assigned cells + "class_weight" x softmax cross-entropy
 * on their class, averaged over the images of the batch. A detection's score is
 * sigmoid(objectness) x the class probability, for the "classes_per_cell" most likely classes of
 * each cell (default 1, the best class), from the outputs averaged over the image and its mirror
 * ("test_time_flip"); per-class NMS follows.
 *
 * Spec (JSON; unknown keys and bad values are AECV_ERR_CONFIG):
 *   "classes":         integer 1..65536, required.
 *   "input":           [C, H, W], required; H and W must be divisible by 2^stages (8).
 *   "backbone":        channels of the stages, default [16, 32, 64]; with a backbone model it is
 *                      replaced by the model's "hidden".
 *   "batch_norm":      false; "downsample": "stride" (or "max_pool"): the backbone's stages, as the
 *                      conv preset's; with a backbone model, the model's (running statistics
 *                      included).
 *   "freeze_backbone": false (default): everything is trained; true: only the head.
 *   "head_channels":   128.  "anchor": 32 (pixels).   "box_weight": 5.   "negative_weight": 1.
 *   "class_weight":    3.
 *   "classes_per_cell": 1..classes, default 1. More than 1 raises mAP (an item whose best class
 *                      is wrong still counts for its true class, at a lower score) but adds
 *                      same-box detections of other classes, which a class-agnostic AP counts
 *                      as false positives.
 *   "test_time_flip":  true (default): detection averages the outputs of each image and of its
 *                      left-right mirror (mirrored back), which makes detection mirror-
 *                      equivariant and more accurate for detectors trained with mirrored
 *                      images (the Python fit() mirrors by default) at twice the inference
 *                      cost; false: one pass. Files saved without the key load as false.
 *   "optimizer":       as in the model spec (default Adam, lr 1e-3), for all trained parameters.
 *   "seed":            0; initialization of the head (and of a random backbone).
 *
 * Images are (batch, C*H*W) floats as for models. Boxes are in pixels, x to the right and y
 * down, (x_min, y_min) to (x_max, y_max) with 0 <= x_min < x_max <= W and 0 <= y_min < y_max <= H.
 */

/** An opaque detector: backbone and head weights and their optimizer. */
typedef struct aecv_detector aecv_detector;

/** aecv_detector_create():
 *  Builds a detector from a JSON spec. backbone: a "conv" (or "denoising" with a conv base)
 *  model whose encoder weights are copied (its input size may differ from the detector's, e.g.
 *  28x28 for a 96x96 detector; the channel count must match); NULL: a random backbone
 *  (PyTorch's default initialization). The model is not changed or referenced afterwards.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT (spec_json or out NULL, backbone not a live model);
 *          AECV_ERR_CONFIG (bad spec, channels differ); AECV_ERR_UNSUPPORTED (backbone is not a
 *          conv autoencoder); AECV_ERR_NO_MEMORY. */
aecv_status aecv_detector_create(const aecv_model *backbone, const char *spec_json,
                                 aecv_detector **out);

/** aecv_detector_free(): NULL and pointers that are not live detectors are ignored. */
void aecv_detector_free(aecv_detector *d);

/** Floats per image (C*H*W) of the detector; 0 when d is not a live detector. */
size_t aecv_detector_input_size(const aecv_detector *d);
/** Number of classes of the detector; 0 when d is not a live detector. */
size_t aecv_detector_classes(const aecv_detector *d);

/** aecv_detector_spec(): the filled spec as JSON, snprintf semantics as aecv_model_spec(). */
size_t aecv_detector_spec(const aecv_detector *d, char *buffer, size_t capacity);

/** aecv_detector_train_step():
 *  One optimizer step. boxes: max_boxes rows of 5 floats per image, (class, x_min, y_min, x_max,
 *  y_max) in pixels; rows with class -1 are padding (their coordinates are ignored); boxes may be
 *  NULL when max_boxes is 0. out_loss (may be NULL) receives the loss before the step.
 *  Returns AECV_OK;
 *          AECV_ERR_INVALID_ARGUMENT  NULL d/images, batch 0, a class that is not an integer in
 *                                     0..classes-1 (or -1), a NaN/Inf coordinate, a box outside
 *                                     the image or without area (the message names the image and
 *                                     row);
 *          AECV_ERR_NONFINITE         images contain NaN/Inf, or the step diverged;
 *          AECV_ERR_NO_MEMORY.
 *  On any failure the detector is bit-identical to before. */
aecv_status aecv_detector_train_step(aecv_detector *d, const float *images, size_t batch,
                                     const float *boxes, size_t max_boxes, float *out_loss);

/** aecv_detector_detect():
 *  Detections after per-class NMS (a box is suppressed by a higher-scored box of the same class
 *  with IoU > iou_threshold) with score >= score_threshold, both thresholds in [0, 1].
 *  out_detections receives 6 floats per detection, (class, score, x_min, y_min, x_max, y_max),
 *  image after image, each image's by descending score; boxes are clipped to the image.
 *  capacity counts detections; out_counts[i] (batch entries) is the number for image i.
 *  out_detections may be NULL when capacity is 0.
 *  Returns AECV_OK; AECV_ERR_SHAPE when the detections do not fit: out_counts is still written
 *          with the full counts (so a call with capacity 0 sizes the buffer) and out_detections
 *          is left unspecified; AECV_ERR_INVALID_ARGUMENT (NULLs, batch 0, thresholds out of
 *          range); AECV_ERR_NONFINITE (NaN/Inf in images). */
aecv_status aecv_detector_detect(aecv_detector *d, const float *images, size_t batch,
                                 float score_threshold, float iou_threshold,
                                 float *out_detections, size_t capacity, size_t *out_counts);

/** aecv_detector_set_learning_rate(): the learning rate of the next steps (optimizer state kept),
 *  e.g. for a decay at the end of training. Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT (d not a
 *  live detector, learning_rate not positive and finite). */
aecv_status aecv_detector_set_learning_rate(aecv_detector *d, float learning_rate);

/** aecv_detector_save(): writes the spec and weights (not the optimizer state), atomically.
 *  Suggested extension ".aecvd". Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT; AECV_ERR_IO. */
aecv_status aecv_detector_save(aecv_detector *d, const char *path);

/** aecv_detector_load(): reads a file written by aecv_detector_save(), validated completely.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT; AECV_ERR_IO; AECV_ERR_FORMAT (not a detector
 *  file, corrupted or truncated); AECV_ERR_NO_MEMORY. */
aecv_status aecv_detector_load(const char *path, aecv_detector **out);

/* Data parallelism for the classifier and the detector: the same functions as the aecv_model_*
 * ones above ("Data parallelism"), on the same shared trainable core, with the same contracts:
 * compute_gradients is train_step without the update (the gradient of the loss, a mean over
 * this batch, so equal per-rank batches are averaged: sum / ranks), gradients is a view of the
 * flat gradient buffer valid until the next call that computes gradients, apply_gradients
 * commits as train_step does (AECV_ERR_INVALID_ARGUMENT when nothing is pending). The flat
 * vectors include frozen parameters (e.g. a frozen encoder; their gradients are zero).
 * Buffers: the classifier's feature standardization statistics ("standardize", each rank's
 * own, as BatchNorm under DDP; broadcast rank 0's to agree). *_count return 0 for NULL. */
/** aecv_classifier_parameter_count(): Floats in the classifier's flat parameter vector (frozen ones included); 0 for NULL. */
size_t      aecv_classifier_parameter_count(const aecv_classifier *classifier);
/** aecv_classifier_buffer_count(): Floats in its flat buffer vector (the feature standardization statistics); 0 for NULL. */
size_t      aecv_classifier_buffer_count(const aecv_classifier *classifier);
/** aecv_classifier_compute_gradients(): Forward and backward on a labeled batch, leaving the batch-mean gradient in the flat
 *  gradient buffer; nothing is applied. Arguments and statuses as aecv_classifier_train_step(). */
aecv_status aecv_classifier_compute_gradients(aecv_classifier *classifier, const float *inputs,
                                              const int32_t *labels, size_t batch, float *out_loss);
/** aecv_classifier_gradients(): A view of the flat gradient buffer (*out_count floats), writable in place (an allreduce),
 *  valid until the next call that computes gradients on this classifier. */
aecv_status aecv_classifier_gradients(aecv_classifier *classifier, float **out_gradients, size_t *out_count);
/** aecv_classifier_apply_gradients(): The optimizer step on the (possibly rewritten) gradient buffer, committed as train_step
 *  does; AECV_ERR_INVALID_ARGUMENT when no gradient is pending, AECV_ERR_NONFINITE leaves it unchanged. */
aecv_status aecv_classifier_apply_gradients(aecv_classifier *classifier);
/** aecv_classifier_get_parameters(): Copies the flat parameter vector into out (capacity >= parameter_count floats). */
aecv_status aecv_classifier_get_parameters(aecv_classifier *classifier, float *out, size_t capacity);
/** aecv_classifier_set_parameters(): Replaces the flat parameter vector (exactly parameter_count finite floats); all or nothing. */
aecv_status aecv_classifier_set_parameters(aecv_classifier *classifier, const float *values, size_t count);
/** aecv_classifier_get_buffers(): Copies the flat buffer vector into out (capacity >= buffer_count floats). */
aecv_status aecv_classifier_get_buffers(aecv_classifier *classifier, float *out, size_t capacity);
/** aecv_classifier_set_buffers(): Replaces the flat buffer vector (exactly buffer_count finite floats); all or nothing. */
aecv_status aecv_classifier_set_buffers(aecv_classifier *classifier, const float *values, size_t count);

/** aecv_detector_parameter_count(): Floats in the detector's flat parameter vector (the frozen backbone included); 0 for NULL. */
size_t      aecv_detector_parameter_count(const aecv_detector *d);
/** aecv_detector_buffer_count(): Floats in its flat buffer vector (BatchNorm statistics, if any); 0 for NULL. */
size_t      aecv_detector_buffer_count(const aecv_detector *d);
/** aecv_detector_compute_gradients(): Forward and backward on a batch with its boxes, leaving the batch-mean gradient in the
 *  flat gradient buffer; nothing is applied. Arguments and statuses as aecv_detector_train_step(). */
aecv_status aecv_detector_compute_gradients(aecv_detector *d, const float *images, size_t batch,
                                            const float *boxes, size_t max_boxes, float *out_loss);
/** aecv_detector_gradients(): A view of the flat gradient buffer (*out_count floats), writable in place, valid until
 *  the next call that computes gradients on this detector. */
aecv_status aecv_detector_gradients(aecv_detector *d, float **out_gradients, size_t *out_count);
/** aecv_detector_apply_gradients(): The optimizer step on the (possibly rewritten) gradient buffer, committed as train_step
 *  does; AECV_ERR_INVALID_ARGUMENT when no gradient is pending. */
aecv_status aecv_detector_apply_gradients(aecv_detector *d);
/** aecv_detector_get_parameters(): Copies the flat parameter vector into out (capacity >= parameter_count floats). */
aecv_status aecv_detector_get_parameters(aecv_detector *d, float *out, size_t capacity);
/** aecv_detector_set_parameters(): Replaces the flat parameter vector (exactly parameter_count finite floats); all or nothing. */
aecv_status aecv_detector_set_parameters(aecv_detector *d, const float *values, size_t count);
/** aecv_detector_get_buffers(): Copies the flat buffer vector into out (capacity >= buffer_count floats). */
aecv_status aecv_detector_get_buffers(aecv_detector *d, float *out, size_t capacity);
/** aecv_detector_set_buffers(): Replaces the flat buffer vector (exactly buffer_count finite floats); all or nothing. */
aecv_status aecv_detector_set_buffers(aecv_detector *d, const float *values, size_t count);

/* ============================================================================================
 * ONNX: export (opset 17, dynamic batch axis) and import of PyTorch-exported autoencoders
 * ============================================================================================ */

/** What an exported autoencoder graph computes (aecv_model_export_onnx()'s part). */
typedef enum { AECV_PART_AUTOENCODER = 0, AECV_PART_ENCODER = 1, AECV_PART_DECODER = 2 } aecv_part;

/** aecv_model_export_onnx():
 *  Writes `part` of the model as an ONNX file (opset 17, IR 8, float32, NCHW), atomically like
 *  aecv_model_save(). Every input and output has a symbolic first axis "batch".
 *    AECV_PART_AUTOENCODER  "input" (N, C, H, W) -> "reconstruction" (N, C, H, W)
 *    AECV_PART_ENCODER      "input" -> "code" (N, code shape); the VAE kinds: "mu", "logvar" (N, latent)
 *    AECV_PART_DECODER      "code" -> "reconstruction"
 *  The graph computes what aecv_model_encode/decode/reconstruct compute (evaluation mode);
 *  weights are initializers named as the PyTorch state_dict; metadata_props hold
 *  "aecv.version", "aecv.kind", "aecv.part" and "aecv.spec" (the filled spec JSON).
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT (NULLs, part out of range); AECV_ERR_UNSUPPORTED
 *  (a layer type without an ONNX form, named; nothing written); AECV_ERR_IO. */
aecv_status aecv_model_export_onnx(aecv_model *model, const char *path, int32_t part);

/** aecv_model_import_onnx():
 *  Reads an ONNX autoencoder (e.g. from torch.onnx.export) into a new custom model that runs
 *  and trains here: a chain of Conv, ConvTranspose, Gemm, MatMul (+ Add of a bias), Relu,
 *  Sigmoid, Tanh, LeakyRelu, Elu, SiLU (x * Sigmoid(x)), GELU (its Erf form), MaxPool,
 *  AveragePool (also as zero Pad + AveragePool), GlobalAveragePool, Resize (nearest or
 *  align_corners=False linear, integer scale), BatchNormalization (inference form; imported
 *  affine, momentum = 1 - ONNX's), Flatten, Reshape (constant shape) nodes and residual blocks
 *  (f(x) + x or f(x) + a 1x1 projection, joined by Add, nested), Identity/Dropout skipped;
 *  one input (batch first; a (batch, F) input becomes a [1, 1, F] spec input).
 *  The code is the narrowest point of the chain unless overrides_json names it:
 *  {"code": "<node output name>"}; overrides_json (may be NULL) may also set spec fields such
 *  as "loss", "optimizer", "seed". The optimizer starts fresh.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT; AECV_ERR_IO; AECV_ERR_FORMAT (malformed file);
 *          AECV_ERR_UNSUPPORTED (an operator or attribute libaecv lacks, naming op and node);
 *          AECV_ERR_CONFIG (bad overrides, or a graph whose decoder does not reproduce the
 *          input shape); AECV_ERR_NO_MEMORY. */
aecv_status aecv_model_import_onnx(const char *path, const char *overrides_json, aecv_model **out_model);

/** aecv_classifier_export_onnx(): "input" (N, C, H, W) -> "logits" (N, classes), the feature
 *  statistics folded in as constants; softmax(logits) is aecv_classifier_predict(). Atomic.
 *  Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT; AECV_ERR_UNSUPPORTED; AECV_ERR_IO. */
aecv_status aecv_classifier_export_onnx(aecv_classifier *classifier, const char *path);

/** aecv_detector_export_onnx(): "input" (N, C, H, W) -> "grid" (N, 5 + classes, H/s, W/s), the
 *  raw head outputs per cell: objectness logit, tx, ty (logits of the centre within the cell),
 *  tw, th (log of size / anchor), class logits; the decoding is documented in the README.
 *  Atomic. Returns AECV_OK; AECV_ERR_INVALID_ARGUMENT; AECV_ERR_UNSUPPORTED; AECV_ERR_IO. */
aecv_status aecv_detector_export_onnx(aecv_detector *detector, const char *path);

/* ============================================================================================
 * Model spec (JSON)
 * ============================================================================================
 *
 * A spec is one JSON object; "preset" and "input" are required. Unknown keys, duplicate keys,
 * wrong types, fields that do not apply to the preset, out-of-range values and absurd sizes are
 * AECV_ERR_CONFIG, with a message that starts with the field's path, e.g.
 * "spec.optimizer.learning_rate: must be a positive finite number, got -1".
 * aecv_model_spec() returns the spec with every default filled in.
 *
 *   preset       architecture
 *   "conv"       Conv2d(C->16->32->64, kernel 3, stride 2, padding 1) + ReLU, mirrored by
 *                ConvTranspose2d with the output padding chosen so the output shape equals the
 *                input shape (28->14->7->4->7->14->28), Sigmoid output; the code is the last
 *                convolution's output (64*4*4 = 1024 floats for a 28x28 input).
 *   "dense"      input -> 256 -> latent (64) -> 256 -> input, ReLU, Sigmoid output.
 *   "sparse"     "dense" plus an activity penalty on the code:
 *                "sparsity": {"l1": 1e-3, "reduction": "mean" | "sum"}  (default l1 1e-3, mean)
 *                         or {"kl": {"rho": 0.05, "beta": 3}}.
 *   "denoising"  "conv" (or "base": "dense") trained on corrupted inputs:
 *                "noise": {"gaussian": 0.3} (default), {"masking": 0.25}, {"salt_pepper": 0.1}
 *                or {"synthetic_anomaly": {"probability": 0.5, "area": [0.02, 0.3],
 *                "opacity": [0.1, 1], "grid": [2, 8], "source": "shifted" | "batch"}}
 *                (DRAEM-style defects: smooth-noise masks covering a fraction in "area" of
 *                the image, filled with a blend (weight in "opacity") of the image rolled by
 *                a random offset or of another example of the batch; every field optional,
 *                the defaults shown; {"synthetic_anomaly": p} sets only the probability).
 *   "vae"        input -> 400 -> (mu, logvar: latent 20) -> 400 -> input, Bernoulli decoder
 *                (BCE-with-logits summed over pixels + KL); "beta" weights the KL term (1).
 *   "conv_vae"   the conv encoder/decoder with mu/logvar heads (latent 20). With "classes": K
 *                it is conditional like "cvae": the one-hot enters the first conv as K
 *                constant input channels (C + K in all) and decoder_input as [z; one_hot(y)].
 *   "cvae"       "vae" conditioned on a class: "classes": K (required; or "conditional":
 *                {"classes": K}), 2 <= K <= 65536; the encoder reads [x; one_hot(y)], the decoder
 *                [z; one_hot(y)]. Train with aecv_model_train_step_labeled(), sample a class
 *                with aecv_model_sample_class(). Unlabeled calls (encode, reconstruct, evaluate)
 *                use the zero condition; a cvae cannot be a classifier's feature extractor.
 *   "custom"     explicit "encoder" and "decoder" layer lists (below); the code is the
 *                encoder's output.
 *
 * Common fields:
 *   "input":     [C, H, W]            required; positive integers.
 *   "seed":      integer >= 0         default 0; initialization, noise, reparameterization.
 *   "latent":    integer >= 1         code size (dense/sparse 64, vae/conv_vae 20); not for conv,
 *                                     denoising with base conv, or custom.
 *   "hidden":    integer or [ints]    dense/sparse/vae: hidden widths ([256], vae [400]);
 *                                     conv kinds: channels of the stride-2 stages ([16, 32, 64]);
 *                                     for these also "channels".
 *   "batch_norm": bool                conv, denoising (base conv), conv_vae: a BatchNorm after
 *                                     every conv but the output one. Default false, except true
 *                                     for conv and denoising when H and W are both >= 64.
 *   "downsample": "stride" | "max_pool"        (same kinds) default "stride".
 *   "upsample":  "transposed" | "nearest" | "bilinear"   (same kinds) default "transposed".
 *   "loss":      "mse" | "bce" | "ssim" | "mse_ssim"
 *                                     default "mse" (vae, conv_vae: "bce"). "ssim": 1 - SSIM
 *                                     (11x11 Gaussian window, sigma 1.5, as the SSIM anomaly
 *                                     maps); "mse_ssim": MSE + (1 - SSIM), weight 1 each
 *                                     (DRAEM). Not for the VAE kinds.
 *   "beta":      number >= 0          vae, conv_vae: weight of the KL term, default 1.
 *   "optimizer": {"name": "adam" | "sgd", "learning_rate": number > 0,
 *                 "betas": [b1, b2], "eps": number   (adam only),
 *                 "momentum": number                 (sgd only),
 *                 "weight_decay": number >= 0}       (L2, both)
 *                defaults are PyTorch's: Adam, lr 1e-3, betas [0.9, 0.999], eps 1e-8;
 *                SGD lr 1e-2, momentum 0; weight_decay 0.
 *
 * Custom layers, one JSON object each:
 *   {"type": "dense", "out": 256}
 *   {"type": "conv2d", "out": 16, "kernel": 3, "stride": 2, "padding": 1}
 *   {"type": "conv_transpose2d", "out": 16, "kernel": 3, "stride": 2, "padding": 1,
 *    "output_padding": 1}
 *   {"type": "relu"}  {"type": "sigmoid"}  {"type": "tanh"}  {"type": "leaky_relu", "slope": 0.01}
 *   {"type": "flatten"}  {"type": "unflatten", "shape": [64, 4, 4]}
 *   and max_pool2d, avg_pool2d, global_avg_pool, upsample, batch_norm2d, batch_norm1d, dropout,
 *   dropout2d, gelu, silu, elu, residual (README, "Layers of a custom spec"). "decoder": [] is
 *   the identity (an image-to-image network such as a denoiser; the code is its output).
 *
 * Limits (larger is AECV_ERR_CONFIG): spec text 1 MiB, JSON nesting depth 64, any input
 * dimension 65536, C*H*W 2^24 floats, any width/channel count/latent 65536, 256 layers per
 * encoder or decoder, 2^28 parameters.
 *
 * Examples:
 *   {"preset": "conv", "input": [1, 28, 28]}
 *   {"preset": "dense", "input": [1, 28, 28], "latent": 32, "seed": 7}
 *   {"preset": "vae", "input": [1, 28, 28], "optimizer": {"name": "adam", "learning_rate": 1e-3}}
 */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AECV_H */
