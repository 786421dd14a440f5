import CBLAS
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
func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
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
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                beta, c, Int32(ldc))
}

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
public enum ComputeThreads {
    /// 0 until the first `set` (explicit, or the default on first use).
    private static var count = 0
    /// False in a forked child until its workers are started again.
    private static var workersStarted = false

    /// Sets the thread count for the whole library; n is clamped to 1...1024.
    public static func set(_ n: Int) {
        count = max(1, min(n, 1024))
        openblas_set_num_threads(1)
        WorkerPool.shared.ensureWorkers(count - 1)
        workersStarted = true
    }

    /// The thread count in force.
    public static var current: Int {
        configureOnce()
        return count
    }

    /// After a fork the pool is empty: start the workers again the next time they are needed.
    static func forkedChildNeedsWorkers() { workersStarted = false }

    /// Applies the default (one thread per online core) the first time the library computes,
    /// and restarts the workers in a forked child.
    static func configureOnce() {
        if count == 0 {
            set(max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        } else if !workersStarted {
            set(count)
        }
    }
}
