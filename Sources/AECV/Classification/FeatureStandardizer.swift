/// z-scores features with running statistics: y = (x − μ) / √(σ² + ε), per feature, ε = 1e-5.
///
/// μ and E[x²] are cumulative averages of the batch statistics for the first 100 training steps
/// (exact statistics of the data seen, which is what a frozen encoder needs), then exponential
/// averages with momentum 0.01 (so a fine-tuned encoder's drifting features are tracked).
/// The statistics are constants for backpropagation: ∂y/∂x = 1/√(σ² + ε).
/// x, y: batch-minor (F, N).
final class FeatureStandardizer {
    struct Statistics: Equatable {
        var mean: [Float]
        var meanSquare: [Float]
    }

    let features: Int
    private(set) var current: Statistics
    private(set) var updates = 0
    static let epsilon: Float = 1e-5

    init(features: Int) {
        self.features = features
        current = Statistics(mean: [Float](repeating: 0, count: features),
                             meanSquare: [Float](repeating: 1, count: features))
    }

    /// Restores saved statistics.
    func restore(_ statistics: Statistics, updates: Int) {
        current = statistics
        self.updates = updates
    }

    /// The statistics after folding in one batch, without changing the current ones (a training
    /// step commits them only when it succeeds).
    func proposedUpdate(_ x: UnsafePointer<Float>, batch: Int) -> Statistics {
        let weight: Float = updates < 100 ? 1 / Float(updates + 1) : 0.01
        var next = current
        for f in 0..<features {
            let row = x + f * batch
            var s: Float = 0, s2: Float = 0
            for n in 0..<batch { s += row[n]; s2 += row[n] * row[n] }
            next.mean[f] += weight * (s / Float(batch) - next.mean[f])
            next.meanSquare[f] += weight * (s2 / Float(batch) - next.meanSquare[f])
        }
        return next
    }

    func commit(_ statistics: Statistics) {
        current = statistics
        updates += 1
    }

    private static func inverseDeviation(_ s: Statistics, _ f: Int) -> Float {
        1 / (max(s.meanSquare[f] - s.mean[f] * s.mean[f], 0) + epsilon).squareRoot()
    }

    /// y = (x − μ)/σ with the given statistics (the current ones when nil).
    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int,
                 statistics: Statistics? = nil) {
        let s = statistics ?? current
        for f in 0..<features {
            let (m, k) = (s.mean[f], FeatureStandardizer.inverseDeviation(s, f))
            for n in 0..<batch { y[f * batch + n] = (x[f * batch + n] - m) * k }
        }
    }

    /// dx = dy / σ with the statistics used in the forward pass.
    func backward(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, batch: Int,
                  statistics: Statistics? = nil) {
        let s = statistics ?? current
        for f in 0..<features {
            let k = FeatureStandardizer.inverseDeviation(s, f)
            for n in 0..<batch { dx[f * batch + n] = dy[f * batch + n] * k }
        }
    }
}
