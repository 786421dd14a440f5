import CKernels
import AECVNN
/// Training-time input corruption of denoising autoencoders, drawn from the model's generator.
/// x: the clean batch, out: the corrupted copy (the loss still compares with the clean target).
/// Example i of the whole batch draws from `StepNoise.generator(forExample: i)`.
package final class InputCorruption {
    let noise: NoiseSpec
    /// The synthetic-anomaly generator and its scratch (that noise kind only).
    private let anomaly: SyntheticAnomaly?

    /// shape: [C, H, W] of one example.
    init(noise: NoiseSpec, shape: [Int]) {
        self.noise = noise
        if case .syntheticAnomaly(let options) = noise {
            anomaly = SyntheticAnomaly(options: options, shape: shape)
        } else {
            anomaly = nil
        }
    }

    /// Whether an example's corruption reads other examples (then a batch is not split).
    var couplesExamples: Bool { anomaly?.couplesExamples ?? false }

    /// x, out: (batch, size).
    func apply(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, batch: Int, size: Int,
               noise stepNoise: StepNoise) {
        for i in 0..<batch {
            var random = stepNoise.generator(forExample: i)
            apply(x, out + i * size, index: i, batch: batch, size: size, random: &random)
        }
    }

    private func apply(_ batchStart: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, index: Int,
                       batch: Int, size count: Int, random: inout RandomSource) {
        let x = batchStart + index * count
        switch noise {
        case .gaussian(let sigma):
            // x + N(0, σ²), clipped to [0, 1]; normals drawn two at a time as normalPair() draws
            // them, in C with inline log/sin/cos (libm's were 7% of a denoising step).
            random.withStateWords { ckernels_gaussian_corrupt($0, x, out, count, sigma) }
        case .masking(let p):
            // each pixel dropped to 0 with probability p
            for i in 0..<count { out[i] = random.uniform() < p ? 0 : x[i] }
        case .saltPepper(let p):
            // with probability p the pixel becomes 0 or 1, each half of the time
            for i in 0..<count {
                let u = random.uniform()
                out[i] = u < p ? (u < p / 2 ? 0 : 1) : x[i]
            }
        case .syntheticAnomaly:
            anomaly!.apply(batch: batchStart, count: batch, index: index, into: out, random: &random)
        }
    }
}
