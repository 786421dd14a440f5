#if canImport(Glibc)
import Glibc
#endif
import AECVKernels

/// Reconstruction losses as forward/backward pairs over `count` floats, each scaled by `scale`:
///
///     L = scale · Σ_i ℓ(y_i, t_i)        dL/dy_i = scale · ∂ℓ/∂y_i
///
/// PyTorch's reduction="mean" is scale = 1/count; a per-example sum (the VAE's convention) is
/// scale = 1/batch. Sums are accumulated in Double so the value does not depend on the batch size's
/// rounding.
package enum ReconstructionLoss: Equatable {
    /// ℓ = (y − t)²
    case meanSquaredError
    /// ℓ = −[t·log y + (1 − t)·log(1 − y)], logs clamped at −100 as PyTorch's BCELoss does.
    case binaryCrossEntropy
    /// ℓ = max(x, 0) − x·t + log(1 + e^(−|x|)) on logits x, i.e. BCE(sigmoid(x), t), stable.
    case binaryCrossEntropyWithLogits

    package func forward(output y: UnsafePointer<Float>, target t: UnsafePointer<Float>, count: Int,
                 scale: Float) -> Float {
        var sum = 0.0
        switch self {
        case .meanSquaredError:
            // Float partial sums over blocks of 4096, accumulated in Double.
            var start = 0
            while start < count {
                let n = min(4096, count - start)
                sum += Double(sumOfSquaredDifferences(y + start, t + start, count: n))
                start += n
            }
        case .binaryCrossEntropy:
            for i in 0..<count {
                let logY = max(log(Double(y[i])), -100)
                let logOneMinusY = max(log(1 - Double(y[i])), -100)
                sum -= Double(t[i]) * logY + (1 - Double(t[i])) * logOneMinusY
            }
        case .binaryCrossEntropyWithLogits:
            sum = binaryCrossEntropyWithLogitsSum(y, t, count: count)
        }
        return Float(sum * Double(scale))
    }

    /// Writes dL/dy into `gradient` (not accumulated).
    package func backward(output y: UnsafePointer<Float>, target t: UnsafePointer<Float>,
                  gradient dy: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
        switch self {
        case .meanSquaredError:
            let s = 2 * scale
            for i in 0..<count { dy[i] = s * (y[i] - t[i]) }
        case .binaryCrossEntropy:
            // PyTorch: (y − t) / max(y (1 − y), 1e-12)
            for i in 0..<count {
                dy[i] = scale * (y[i] - t[i]) / max(y[i] * (1 - y[i]), 1e-12)
            }
        case .binaryCrossEntropyWithLogits:
            binaryCrossEntropyWithLogitsGradient(y, t, dy, count: count, scale: scale)
        }
    }
}
