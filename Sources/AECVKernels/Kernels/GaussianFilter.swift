#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Separable Gaussian filtering of one image plane, for anomaly maps (blurred error, SSIM).
// The window is truncated at the border to the pixels inside the image and renormalized to sum
// to 1 there, so the output has the input's size, a constant image stays constant, and images
// smaller than the window work.

/// w[k + radius] = exp(−k² / (2σ²)), k = −radius...radius. Not normalized: each position
/// normalizes by the sum of the taps that fall inside the image.
package func gaussianWeights(radius: Int, sigma: Float) -> [Float] {
    (-radius...radius).map { k in Float(exp(-Double(k * k) / (2 * Double(sigma) * Double(sigma)))) }
}

/// out = G ∗ x — x, out: (height, width); scratch: height × width floats; weights: 2·radius + 1
/// taps from `gaussianWeights`. Rows first into scratch, then columns into out.
package func gaussianBlur(_ x: UnsafePointer<Float>, height: Int, width: Int, weights: [Float],
                  scratch: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
    let radius = weights.count / 2
    weights.withUnsafeBufferPointer { w in
        for c in 0..<width {
            let lo = max(0, c - radius), hi = min(width - 1, c + radius)
            var norm: Float = 0
            for j in lo...hi { norm += w[j - c + radius] }
            let scale = 1 / norm
            for r in 0..<height {
                var s: Float = 0
                for j in lo...hi { s += w[j - c + radius] * x[r * width + j] }
                scratch[r * width + c] = s * scale
            }
        }
        for r in 0..<height {
            let lo = max(0, r - radius), hi = min(height - 1, r + radius)
            var norm: Float = 0
            for i in lo...hi { norm += w[i - r + radius] }
            let scale = 1 / norm
            for c in 0..<width {
                var s: Float = 0
                for i in lo...hi { s += w[i - r + radius] * scratch[i * width + c] }
                out[r * width + c] = s * scale
            }
        }
    }
}
