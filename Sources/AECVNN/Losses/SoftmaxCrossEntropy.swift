#if canImport(Glibc)
import Glibc
#endif

/// Softmax cross-entropy on batch-minor logits z: (C, N) with integer labels y_n:
///
///     p_cn = e^{z_cn} / Σ_k e^{z_kn}        L = −(1/N) Σ_n log p_{y_n n}        ∂L/∂z_cn = (p_cn − [c = y_n]) / N
///
/// The max of each column is subtracted before exponentiating, so no logit overflows.
package enum SoftmaxCrossEntropy {
    /// Writes the probabilities p: (C, N).
    package static func softmax(_ z: UnsafePointer<Float>, classes: Int, batch: Int, into p: UnsafeMutablePointer<Float>) {
        for n in 0..<batch {
            var largest = -Float.infinity
            for c in 0..<classes { largest = max(largest, z[c * batch + n]) }
            var total: Float = 0
            for c in 0..<classes {
                let e = expf(z[c * batch + n] - largest)
                p[c * batch + n] = e
                total += e
            }
            for c in 0..<classes { p[c * batch + n] /= total }
        }
    }

    /// Returns L and writes ∂L/∂z into dz, given the probabilities from `softmax`. Labels are
    /// already validated to lie in 0..<classes.
    package static func lossAndGradient(probabilities p: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                classes: Int, batch: Int, gradient dz: UnsafeMutablePointer<Float>) -> Float {
        var loss = 0.0
        let scale = 1 / Float(batch)
        for i in 0..<(classes * batch) { dz[i] = p[i] * scale }
        for n in 0..<batch {
            let y = Int(labels[n])
            loss -= log(max(Double(p[y * batch + n]), 1e-45))
            dz[y * batch + n] -= scale
        }
        return Float(loss / Double(batch))
    }

    /// One example's loss on `classes` logits `stride` floats apart (a detection cell's class
    /// channels), in the log-sum-exp form:
    ///
    ///     L = log Σ_k e^{z_k − m} + m − z_y,   m = max z;   ∂L/∂z_c = p_c − [c = y]
    ///
    /// Returns L unweighted and writes weight · ∂L/∂z_c · scale into `gradient` (same stride).
    package static func column(logits z: UnsafePointer<Float>, stride: Int, classes: Int, label: Int, weight: Float,
                       scale: Float, gradient: UnsafeMutablePointer<Float>) -> Float {
        var largest = -Float.infinity
        for c in 0..<classes { largest = max(largest, z[c * stride]) }
        var sum: Float = 0
        for c in 0..<classes { sum += expf(z[c * stride] - largest) }
        for c in 0..<classes {
            let p = expf(z[c * stride] - largest) / sum
            gradient[c * stride] = weight * (p - (c == label ? 1 : 0)) * scale
        }
        return log(sum) + largest - z[label * stride]
    }
}
