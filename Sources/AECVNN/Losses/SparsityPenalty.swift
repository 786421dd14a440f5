#if canImport(Glibc)
import Glibc
#endif

/// Activity penalties on a batch-minor code z: (units, N), for sparse autoencoders. The batch
/// may be one part of a larger batch of `normalization` examples (L1 only; KL needs the whole
/// batch's means, so a KL-sparse model never splits its batch).
package enum SparsityPenalty: Equatable {
    /// L1: λ · mean_{n,j} |z| (reduction mean) or λ · (1/N) Σ_n Σ_j |z| (reduction sum, Keras's
    /// activity_regularizer convention). ∂/∂z = λ·sign(z)/(N·units) or λ·sign(z)/N.
    case l1(lambda: Float, perUnitMean: Bool)
    /// KL: β · Σ_j [ρ log(ρ/ρ̂_j) + (1−ρ) log((1−ρ)/(1−ρ̂_j))], ρ̂_j = mean_n z_nj (z in (0,1),
    /// sigmoid codes). ∂/∂z_nj = (β/N)·(−ρ/ρ̂_j + (1−ρ)/(1−ρ̂_j)). ρ̂ is clamped to [1e-6, 1−1e-6].
    case kl(rho: Float, beta: Float)

    /// Value of the penalty.
    package func value(code z: UnsafePointer<Float>, batch: Int, units: Int, normalization: Int) -> Float {
        switch self {
        case .l1(let lambda, let perUnitMean):
            var sum = 0.0
            for i in 0..<(batch * units) { sum += Double(abs(z[i])) }
            return Float(Double(lambda) * sum / Double(perUnitMean ? normalization * units : normalization))
        case .kl(let rho, let beta):
            var total = 0.0
            for j in 0..<units {
                let r = clampedMean(z, unit: j, batch: batch, units: units)
                total += Double(rho) * log(Double(rho) / r)
                    + Double(1 - rho) * log(Double(1 - rho) / (1 - r))
            }
            return Float(Double(beta) * total)
        }
    }

    /// Returns the value and ADDS the penalty's gradient into dz.
    package func forwardBackward(code z: UnsafePointer<Float>, codeGradient dz: UnsafeMutablePointer<Float>,
                         batch: Int, units: Int, normalization: Int) -> Float {
        switch self {
        case .l1(let lambda, let perUnitMean):
            let g = lambda / Float(perUnitMean ? normalization * units : normalization)
            for i in 0..<(batch * units) {
                dz[i] += z[i] > 0 ? g : (z[i] < 0 ? -g : 0)
            }
        case .kl(let rho, let beta):
            for j in 0..<units {
                let r = clampedMean(z, unit: j, batch: batch, units: units)
                let g = Float(Double(beta) / Double(batch)
                              * (-Double(rho) / r + Double(1 - rho) / (1 - r)))
                for n in 0..<batch { dz[j * batch + n] += g }
            }
        }
        return value(code: z, batch: batch, units: units, normalization: normalization)
    }

    /// ρ̂_j: the batch mean of unit j (row j of the batch-minor code).
    private func clampedMean(_ z: UnsafePointer<Float>, unit j: Int, batch: Int, units: Int) -> Double {
        var s = 0.0
        for n in 0..<batch { s += Double(z[j * batch + n]) }
        return min(max(s / Double(batch), 1e-6), 1 - 1e-6)
    }
}
