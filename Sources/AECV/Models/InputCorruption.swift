import CKernels
/// Training-time input corruption of denoising autoencoders, drawn from the model's generator.
/// x: the clean batch, out: the corrupted copy (the loss still compares with the clean target).
struct InputCorruption: Equatable {
    let noise: NoiseSpec

    func apply(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int,
               random: inout RandomSource) {
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
        }
    }
}
