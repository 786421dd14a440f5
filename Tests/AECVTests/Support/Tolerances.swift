/// Every numerical tolerance of the test suite, in one place, with the reason for its size.
enum Tolerance {
    /// Finite differences in float32 with step `gradientStep`: relative error
    /// ‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖). float32 rounding of the loss (~1e-7
    /// relative) divided by 2h dominates; 2e-2 is well above it and far below a wrong gradient (~1).
    static let gradientRelative: Double = 2e-2
    /// Central-difference step for float32 layers.
    static let gradientStep: Float = 1e-2
    /// Forward values against PyTorch (float32 vs float32, different summation order).
    static let goldenAbsolute: Float = 2e-5
    /// Gradients against PyTorch: absolute error scaled by the tensor's largest magnitude.
    static let goldenGradientRelative: Float = 1e-3
    /// Parameters after 3 optimizer steps against PyTorch.
    static let goldenParameterAbsolute: Float = 1e-5
}

/// max |a − b|
func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var m: Float = 0
    for i in a.indices { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// max |a − b| / max(max|b|, tiny)
func maxRelativeDifference(_ a: [Float], _ b: [Float]) -> Float {
    let scale = max(b.map { abs($0) }.max() ?? 0, 1e-12)
    return maxAbsoluteDifference(a, b) / scale
}
