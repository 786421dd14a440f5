import AECVNN

/// z-scores features with running statistics, as a layer whose statistics are buffers:
///
///     y = (x − μ) / √(σ² + ε),   σ² = E[x²] − μ²,   per feature, ε = 1e-5
///
/// Buffers: "mean" μ (F), "mean_square" E[x²] (F), "num_batches_tracked" (1), initially 0, 1, 0.
/// In training mode a batch's statistics are folded in — cumulative averages for the first 100
/// steps (exact statistics of the data seen, which is what a frozen encoder needs), then
/// exponential averages with momentum 0.01 (so a fine-tuned encoder's drifting features are
/// tracked) — written to the next buffers, which the step commits, and used for this batch.
/// In evaluation mode the current statistics are used. The statistics are constants for
/// backpropagation: ∂y/∂x = 1/√(σ² + ε). x, y: batch-minor (F, N).
package final class FeatureStandardizer: Layer {
    package let features: Int
    package let inputShape: [Int]
    package var outputShape: [Int] { inputShape }
    package static let epsilon: Float = 1e-5
    private var current: UnsafeMutablePointer<Float>!
    private var next: UnsafeMutablePointer<Float>!
    private var mode = LayerMode.evaluation

    package init(features: Int) {
        self.features = features
        inputShape = [features]
    }

    package var bufferShapes: [(name: String, shape: [Int])] {
        [("mean", [features]), ("mean_square", [features]), ("num_batches_tracked", [1])]
    }
    package var bufferCount: Int { 2 * features + 1 }

    package func bind(buffers current: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>) {
        self.current = current
        self.next = next
    }

    package func setMode(_ mode: LayerMode) { self.mode = mode }

    package func initialize(random: inout RandomSource) {
        current.update(repeating: 0, count: features)
        (current + features).update(repeating: 1, count: features)
        current[2 * features] = 0
    }

    /// The statistics in force for the current mode: (μ, E[x²]).
    private var statistics: (mean: UnsafePointer<Float>, meanSquare: UnsafePointer<Float>) {
        let s = mode == .training ? next! : current!
        return (UnsafePointer(s), UnsafePointer(s + features))
    }

    /// Number of training steps folded into the current statistics.
    package var updates: Int { Int(current[2 * features]) }

    /// Folds one batch into the next statistics (training mode).
    private func fold(_ x: UnsafePointer<Float>, batch: Int) {
        let updates = Int(current[2 * features])
        let weight: Float = updates < 100 ? 1 / Float(updates + 1) : 0.01
        for f in 0..<features {
            let row = x + f * batch
            var s: Float = 0, s2: Float = 0
            for n in 0..<batch { s += row[n]; s2 += row[n] * row[n] }
            next[f] = current[f] + weight * (s / Float(batch) - current[f])
            next[features + f] = current[features + f] + weight * (s2 / Float(batch) - current[features + f])
        }
        next[2 * features] = Float(updates + 1)
    }

    private func inverseDeviation(_ f: Int) -> Float {
        let (mean, meanSquare) = statistics
        return 1 / (max(meanSquare[f] - mean[f] * mean[f], 0) + FeatureStandardizer.epsilon).squareRoot()
    }

    package func forward(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, batch: Int) {
        if mode == .training { fold(x, batch: batch) }
        let mean = statistics.mean
        for f in 0..<features {
            let (m, k) = (mean[f], inverseDeviation(f))
            for n in 0..<batch { y[f * batch + n] = (x[f * batch + n] - m) * k }
        }
    }

    /// dx = dy / σ with the statistics the forward used.
    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        guard let dx else { return }
        for f in 0..<features {
            let k = inverseDeviation(f)
            for n in 0..<batch { dx[f * batch + n] = dy[f * batch + n] * k }
        }
    }

    /// The current statistics, copied (for files).
    package var currentStatistics: (mean: [Float], meanSquare: [Float]) {
        (Array(UnsafeBufferPointer(start: current, count: features)),
         Array(UnsafeBufferPointer(start: current + features, count: features)))
    }

    /// Restores saved statistics into the current buffers.
    package func restore(mean: [Float], meanSquare: [Float], updates: Int) {
        current.update(from: mean, count: features)
        (current + features).update(from: meanSquare, count: features)
        current[2 * features] = Float(updates)
    }
}

// MARK: - ONNX

/// Evaluation form: y = (x − μ) · 1/√(σ² + ε), as Sub and Mul with the current statistics.
extension FeatureStandardizer {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        let mean = Array(UnsafeBufferPointer(start: statistics.mean, count: features))
        let scale = (0..<features).map { inverseDeviation($0) }
        let m = graph.initializer("\(name).mean", dims: [features], values: mean)
        let s = graph.initializer("\(name).inverse_deviation", dims: [features], values: scale)
        let centered = graph.node("Sub", [input, m], name: "\(name).center", shape: [features])
        return graph.node("Mul", [centered, s], name: "\(name).scale", shape: [features])
    }
}
