import AECVKernels

/// The SSIM reconstruction loss (`"loss": "ssim"`) of images (N, C, H, W):
///
///     L = scale · Σ_{n,c,p} (1 − SSIM_p(t_nc, y_nc))
///
/// SSIM_p is the map of Kernels/StructuralSimilarity.swift (11×11 Gaussian window σ = 1.5,
/// C1 = 0.01², C2 = 0.03², window truncated and renormalized at the border, population
/// covariances). With scale = 1 / (batch · C·H·W), as the network passes it, L is the mean over
/// examples and channels of 1 − mean SSIM, i.e. 1 − the anomaly map's mean SSIM. The gradient is
/// analytic (`ssimSumAndGradient`), exact at the border.
///
/// Buffers are batch-minor, (C·H·W, N) as the networks hold them; each image plane is
/// transposed into reused workspaces, so a step at a fixed batch size allocates nothing.
package final class StructuralSimilarityLoss {
    package let channels: Int, height: Int, width: Int
    private let weights: [Float]
    private let scratch: UnsafeMutablePointer<Double>
    /// Example-major copies (N, C·H·W) of output, target and gradient.
    private let outputMajor = Workspace(), targetMajor = Workspace(), gradientMajor = Workspace()
    private let gradientMinor = Workspace()

    /// shape: [C, H, W] of one example.
    package init(shape: [Int]) {
        (channels, height, width) = (shape[0], shape[1], shape[2])
        weights = gaussianWeights(radius: ssimWindowRadius, sigma: ssimWindowSigma)
        let count = ssimGradientScratchCount(height: height, width: width)
        scratch = .allocate(capacity: count)
        scratch.initialize(repeating: 0, count: count)
    }

    deinit { scratch.deallocate() }

    private var features: Int { channels * height * width }

    /// L over `batch` examples — y, t: (C·H·W, batch).
    package func forward(output y: UnsafePointer<Float>, target t: UnsafePointer<Float>, batch: Int,
                 scale: Float) -> Float {
        run(output: y, target: t, batch: batch, scale: scale, gradient: nil, accumulate: false)
    }

    /// L, and dL/dy written into `gradient` (accumulate false) or added to it (true) — (C·H·W, batch).
    package func forwardBackward(output y: UnsafePointer<Float>, target t: UnsafePointer<Float>,
                         gradient dy: UnsafeMutablePointer<Float>, batch: Int, scale: Float,
                         accumulate: Bool) -> Float {
        run(output: y, target: t, batch: batch, scale: scale, gradient: dy, accumulate: accumulate)
    }

    private func run(output y: UnsafePointer<Float>, target t: UnsafePointer<Float>, batch: Int,
                     scale: Float, gradient dy: UnsafeMutablePointer<Float>?, accumulate: Bool) -> Float {
        let features = self.features, plane = height * width
        let count = batch * features
        let ym = outputMajor.reserve(count), tm = targetMajor.reserve(count)
        transpose(y, rows: features, columns: batch, into: ym)
        transpose(t, rows: features, columns: batch, into: tm)
        let gm: UnsafeMutablePointer<Float>? = dy == nil ? nil : gradientMajor.reserve(count)
        var similarity = 0.0
        for k in 0..<(batch * channels) {
            let o = k * plane
            similarity += ssimSumAndGradient(tm + o, ym + o, height: height, width: width, weights: weights,
                                             scratch: scratch, gradient: gm.map { $0 + o }, scale: scale)
        }
        if let dy, let gm {
            if accumulate {
                let minor = gradientMinor.reserve(count)
                transpose(gm, rows: batch, columns: features, into: minor)
                add(minor, into: dy, count: count)
            } else {
                transpose(gm, rows: batch, columns: features, into: dy)
            }
        }
        return Float((Double(count) - similarity) * Double(scale))
    }
}
