import AECVKernels

/// The Gaussian decoder's reconstruction term (a VAE with `"loss": "mse"`), on logits a:
///
///     y = σ(a),   L = scale · Σ (y − t)²,   ∂L/∂a = scale · 2 (y − t) · y (1 − y)
package enum SigmoidSquaredError {
    /// Writes y = σ(a) into `output` and returns Σ (y − t)² · scale.
    package static func forward(logits a: UnsafePointer<Float>, target t: UnsafePointer<Float>,
                        output y: UnsafeMutablePointer<Float>, count: Int, scale: Float) -> Float {
        sigmoidForward(a, y, count: count)
        return ReconstructionLoss.meanSquaredError.forward(output: y, target: t, count: count, scale: scale)
    }

    /// ∂L/∂a from the forward's y (not accumulated).
    package static func backward(output y: UnsafePointer<Float>, target t: UnsafePointer<Float>,
                         gradient da: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
        for i in 0..<count { da[i] = scale * 2 * (y[i] - t[i]) * y[i] * (1 - y[i]) }
    }
}
