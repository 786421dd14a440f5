#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Image quality measures for pixel values in [0, 1] (data range L = 1), one example at a time.
public enum ImageMetrics {
    /// Mean squared error over the elements.
    public static func meanSquaredError(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
        precondition(a.count == b.count && !a.isEmpty)
        var sum = 0.0
        for i in 0..<a.count {
            let d = Double(a[i]) - Double(b[i])
            sum += d * d
        }
        return sum / Double(a.count)
    }

    /// PSNR = 10 · log10(L² / MSE) in dB with L = 1, capped at `maxPSNR` for identical images.
    public static func psnr(meanSquaredError mse: Double) -> Double {
        mse <= 0 ? maxPSNR : min(maxPSNR, 10 * log10(1 / mse))
    }

    /// The PSNR reported for identical images (where it would be infinite).
    public static let maxPSNR = 100.0

    /// Structural similarity (Wang et al. 2004) of two images of shape [C, H, W], the mean of the
    /// per-channel SSIM maps over the positions where the whole window fits (as scikit-image's
    /// `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    /// data_range=1)` computes it):
    ///
    ///     SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
    ///     C1 = (0.01 L)², C2 = (0.03 L)²,
    ///
    /// with means and (co)variances weighted by a normalized 11×11 Gaussian window, σ = 1.5.
    /// Images narrower than 11 pixels use the largest odd window that fits; nil if under 3.
    public static func ssim(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, shape: [Int]) -> Double? {
        precondition(shape.count == 3 && a.count == shape[0] * shape[1] * shape[2] && b.count == a.count)
        let (channels, h, w) = (shape[0], shape[1], shape[2])
        let radius = min(5, (min(h, w) - 1) / 2)
        if radius < 1 { return nil }
        var kernel = (-radius...radius).map { x -> Double in exp(-Double(x * x) / (2 * 1.5 * 1.5)) }
        let norm = kernel.reduce(0, +)
        kernel = kernel.map { $0 / norm }
        let c1 = 0.01 * 0.01, c2 = 0.03 * 0.03
        let outH = h - 2 * radius, outW = w - 2 * radius
        // Five moment images filtered along rows (valid columns only), then along columns.
        var rows = [[Double]](repeating: [Double](repeating: 0, count: h * outW), count: 5)
        var total = 0.0
        for c in 0..<channels {
            let base = c * h * w
            for y in 0..<h {
                for x in 0..<outW {
                    var m = (0.0, 0.0, 0.0, 0.0, 0.0)
                    for k in 0..<kernel.count {
                        let p = Double(a[base + y * w + x + k]), q = Double(b[base + y * w + x + k])
                        let g = kernel[k]
                        m.0 += g * p; m.1 += g * q; m.2 += g * p * p; m.3 += g * q * q; m.4 += g * p * q
                    }
                    let o = y * outW + x
                    rows[0][o] = m.0; rows[1][o] = m.1; rows[2][o] = m.2; rows[3][o] = m.3; rows[4][o] = m.4
                }
            }
            var sum = 0.0
            for y in 0..<outH {
                for x in 0..<outW {
                    var m = (0.0, 0.0, 0.0, 0.0, 0.0)
                    for k in 0..<kernel.count {
                        let o = (y + k) * outW + x
                        let g = kernel[k]
                        m.0 += g * rows[0][o]; m.1 += g * rows[1][o]; m.2 += g * rows[2][o]
                        m.3 += g * rows[3][o]; m.4 += g * rows[4][o]
                    }
                    let (mx, my) = (m.0, m.1)
                    let vx = m.2 - mx * mx, vy = m.3 - my * my, cxy = m.4 - mx * my
                    sum += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
                }
            }
            total += sum / Double(outH * outW)
        }
        return total / Double(channels)
    }
}
