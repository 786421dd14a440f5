#if canImport(Glibc)
import Glibc
#endif

/// The VAE's reparameterization and its KL term to the standard normal prior, as a
/// forward/backward pair over `count` latent values (batch-minor (latent, N), any order):
///
///     σ = exp(½ log σ²),   z = μ + σ ε
///     KL = −½ Σ (1 + log σ² − μ² − σ²)
///
/// Backward, for an upstream ∂L/∂z and the weight w of KL in L (β / normalization):
///
///     ∂L/∂μ     = ∂L/∂z + w μ
///     ∂L/∂logσ² = ∂L/∂z · ½ σ ε + w · ½ (σ² − 1)
package enum GaussianKL {
    /// Writes z and returns KL summed over the values (in Double).
    package static func forward(mean mu: UnsafePointer<Float>, logVariance logvar: UnsafePointer<Float>,
                        noise eps: UnsafePointer<Float>, code z: UnsafeMutablePointer<Float>, count: Int) -> Double {
        var kl = 0.0
        for i in 0..<count {
            let sigma = expf(0.5 * logvar[i])
            z[i] = mu[i] + sigma * eps[i]
            kl += -0.5 * Double(1 + logvar[i] - mu[i] * mu[i] - sigma * sigma)
        }
        return kl
    }

    /// Writes ∂L/∂μ and ∂L/∂logσ² (not accumulated).
    package static func backward(mean mu: UnsafePointer<Float>, logVariance logvar: UnsafePointer<Float>,
                         noise eps: UnsafePointer<Float>, codeGradient dz: UnsafePointer<Float>,
                         weight: Float, meanGradient dmu: UnsafeMutablePointer<Float>,
                         logVarianceGradient dlogvar: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let sigma = expf(0.5 * logvar[i])
            // z = μ + σ ε:  ∂z/∂μ = 1, ∂z/∂logσ² = ½ σ ε;  ∂KL/∂μ = μ, ∂KL/∂logσ² = ½(σ² − 1)
            dmu[i] = dz[i] + weight * mu[i]
            dlogvar[i] = dz[i] * 0.5 * sigma * eps[i] + weight * 0.5 * (sigma * sigma - 1)
        }
    }
}
