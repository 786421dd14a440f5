import CBLAS
import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Single-precision matrix multiply on row-major matrices, through OpenBLAS:
///
///     C (m×n) = alpha · op(A) (m×k) · op(B) (k×n) + beta · C
///
/// `op(X)` is X or Xᵀ; `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
/// This file is the only one that touches CBLAS's GEMM; every layer multiplies through here.
@inline(__always)
package func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
          alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
          b: UnsafePointer<Float>, ldb: Int,
          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // OpenBLAS would leave C untouched; the mathematical answer is beta·C.
        scale(c, count: m * n, by: beta, rows: m, columns: n, stride: ldc)
        return
    }
    // A product with one row or one column is a matrix-vector product: OpenBLAS's sgemm would
    // pack the whole matrix first (35% of a 1-image dense encode in perf), sgemv streams it.
    if n == 1 {
        // c += A·b with b contiguous: a dense layer on one image (its bias filled first). In C
        // rather than OpenBLAS, whose kernels depend on its knowing the CPU (gemv.c).
        if !transposeA, alpha == 1, beta == 1, transposeB || ldb == 1, ckernels_cpu_level() >= 1 {
            gemvAccumulate(m: m, k: k, a: a, lda: lda, x: b, c: c, ldc: ldc)
            return
        }
        // c (m) = op(A) (m×k) · b (k), b a column of B with stride ldb (or a row of Bᵀ).
        cblas_sgemv(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                    Int32(transposeA ? k : m), Int32(transposeA ? m : k), alpha, a, Int32(lda),
                    b, Int32(transposeB ? 1 : ldb), beta, c, Int32(ldc))
        return
    }
    if m == 1 {
        // c (n) = op(B)ᵀ (n×k) · a (k), a the row of A (or a column of Aᵀ with stride lda).
        cblas_sgemv(CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans,
                    Int32(transposeB ? n : k), Int32(transposeB ? k : n), alpha, b, Int32(ldb),
                    a, Int32(transposeA ? lda : 1), beta, c, 1)
        return
    }
    // C += A·Bᵀ over a long k with few outputs and operands that fit in L2: a convolution's
    // weight gradient over one band of the GEMM path. OpenBLAS packs both operands per call,
    // which for 16 × 27 outputs takes as long as the arithmetic; the dot-product blocks of
    // small_gemm.c read them in place: 2× on 16 × 27 × 4096, 1.1–1.3× on 64 × 288 × 512 and
    // 32 × 144 × 1024 (Zen 5, AVX2 kernels on both sides).
    if !transposeA, transposeB, alpha == 1, beta == 1, k >= 256, m * n <= 32_768, (m + n) * k <= 1 << 18,
       ckernels_small_gemm_abt(m, n, k, a, lda, b, ldb, c, ldc) != 0 {
        return
    }
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                beta, c, Int32(ldc))
}

/// c[r·ldc] += Σ_i a[r·lda + i]·x[i] (gemv.c), split by rows among the threads when A is large
/// (at least `gemvSplitFloats`): one image has no batch to split, and a weight that fills one
/// core's L2 (a VAE's 2.6 MB against this Xeon's 2 MB) halves into two that fit. The parts run
/// through `runShort`, so a worker that is not spinning does not delay the call. Rows split at
/// multiples of 4, and every row's sum is the same whichever part computes it.
@inline(__always)
private func gemvAccumulate(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
    let parts = m * k >= gemvSplitFloats ? min(ComputeThreads.current, m / 64) : 1
    guard parts > 1 else {
        _ = ckernels_gemv_accumulate(m, k, a, lda, x, c, ldc)
        return
    }
    WorkerPool.shared.runShort(parts) { part in
        let start = (part * m / parts) & ~3, end = part == parts - 1 ? m : ((part + 1) * m / parts) & ~3
        _ = ckernels_gemv_accumulate(end - start, k, a + start * lda, lda, x, c + start * ldc, ldc)
    }
}

/// Floats of A from which a matrix-vector product is split among the threads: 128 Ki (512 KiB),
/// where a part (about 8 µs on one core) is long enough to pay the hand-over.
private let gemvSplitFloats = 1 << 17

private func scale(_ c: UnsafeMutablePointer<Float>, count: Int, by beta: Float, rows: Int,
                   columns: Int, stride: Int) {
    for r in 0..<rows {
        let row = c + r * stride
        for j in 0..<columns { row[j] = beta == 0 ? 0 : row[j] * beta }
    }
}

/// The library's one thread policy. `aecv_set_num_threads` sets it; the default is the number of
/// online cores. Training and inference split a batch into that many parts, each run by one
/// thread (the caller or a `WorkerPool` worker) with single-threaded GEMMs: OpenBLAS's own
/// threads are kept at 1, because on these small products they cost more in synchronization
/// than they gain (measured: conv training 10.3k img/s on 1 thread, 6.8k with OpenBLAS at 2).
///
/// The count is capped at `limit` = min(4 × online cores, 64): more threads than that only add
/// stacks and contention (a request for 1024 threads once left 1024 threads alive). The setting
/// is stored atomically (C11, CKernels) and a call reads it once (`forCall`), so a concurrent
/// `set` takes effect at the next call, never half-way through a step. Lowering it retires
/// workers: they exit the next time the pool runs or immediately when it is idle.
public enum ComputeThreads {
    /// The largest thread count in force: min(4 × online cores, 64).
    public static let limit: Int = {
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return max(1, min(4 * cores, 64))
    }()

    /// Sets the thread count for the whole library; n is clamped to 1...limit. Returns the count
    /// in force.
    @discardableResult
    public static func set(_ n: Int) -> Int {
        let count = max(1, min(n, limit))
        openblas_set_num_threads(1)
        ckernels_store_compute_threads(count)
        WorkerPool.shared.resizeIfIdle(count - 1)
        return count
    }

    /// The thread count in force for the running call: the value read when the call began
    /// (`forCall`), or the stored setting outside a call.
    public static var current: Int {
        if let raw = pthread_getspecific(snapshotKey) { return Int(bitPattern: raw) }
        return stored
    }

    /// The stored setting, applying the default (one thread per online core) on first use.
    static var stored: Int {
        let value = ckernels_load_compute_threads()
        if value > 0 { return value }
        return set(max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }

    /// Runs body with the thread count read once: every `current` inside (on this thread) sees
    /// the same value, whatever other threads set meanwhile. Nested calls keep the outer value.
    public static func forCall<T>(_ body: () throws -> T) rethrows -> T {
        if pthread_getspecific(snapshotKey) != nil { return try body() }
        pthread_setspecific(snapshotKey, UnsafeRawPointer(bitPattern: stored))
        defer { pthread_setspecific(snapshotKey, nil) }
        return try body()
    }

    private static let snapshotKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
}
