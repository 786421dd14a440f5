import CBLAS

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

/// The library's one thread policy: the number of threads OpenBLAS (and any loop of ours) may use.
/// `aecv_set_num_threads` sets it; the default is OpenBLAS's own (all cores).
public enum ComputeThreads {
    /// Sets the thread count for the whole library; n >= 1 (clamped to 1 otherwise).
    public static func set(_ n: Int) {
        let clamped = Int32(max(1, min(n, 1024)))
        openblas_set_num_threads(clamped)
    }

    /// The thread count in force.
    public static var current: Int { Int(openblas_get_num_threads()) }
}
