import AECVKernels
import AECVNN

/// DRAEM-style synthetic defects for training on good images only (the `synthetic_anomaly` noise;
/// options and defaults in Spec/SyntheticAnomalySpec.swift). For one example x: (C, H, W):
///
///     with probability p:   m = [ bilinear↑(U on a gh × gw grid) >= its (1 − a)-quantile ]   (H, W)
///                           out = x ⊙ (1 − β m) + β m ⊙ roll(source, dy, dx)              every channel
///     otherwise:            out = x
///
/// gh, gw ~ U{grid}, a ~ U(area), β ~ U(opacity), (dy, dx) uniform over the non-zero offsets;
/// source = x or another example of the batch. Pixels outside the mask are copied bit for bit.
/// All draws come from the example's generator, in a fixed order, so a seed fixes the defect.
/// Scratch is allocated once for the model's shape: a step allocates nothing.
final class SyntheticAnomaly {
    let options: SyntheticAnomalySpec
    let channels: Int, height: Int, width: Int
    /// grid: (maximumGrid + 1)²; field, selection: H·W.
    private let grid: UnsafeMutablePointer<Float>
    private let field: UnsafeMutablePointer<Float>
    private let selection: UnsafeMutablePointer<Float>

    init(options: SyntheticAnomalySpec, shape: [Int]) {
        self.options = options
        (channels, height, width) = (shape[0], shape[1], shape[2])
        let g = (options.maximumGrid + 1) * (options.maximumGrid + 1), plane = height * width
        grid = .allocate(capacity: g); grid.initialize(repeating: 0, count: g)
        field = .allocate(capacity: plane); field.initialize(repeating: 0, count: plane)
        selection = .allocate(capacity: plane); selection.initialize(repeating: 0, count: plane)
    }

    deinit { grid.deallocate(); field.deallocate(); selection.deallocate() }

    /// Whether an example's defect reads other examples of its batch.
    var couplesExamples: Bool { options.source == .batch }

    /// out = example `index` of `batch` (N, C·H·W), with or without a defect. Returns whether it
    /// got one; `mask` (H, W), when given, receives m (all 0 without a defect; for tests).
    @discardableResult
    func apply(batch: UnsafePointer<Float>, count: Int, index: Int, into out: UnsafeMutablePointer<Float>,
               random: inout RandomSource, mask: UnsafeMutablePointer<Float>? = nil) -> Bool {
        let plane = height * width, size = channels * plane
        let x = batch + index * size
        out.update(from: x, count: size)
        mask?.update(repeating: 0, count: plane)
        guard random.uniform() < options.probability else { return false }

        // the smooth field: uniform noise on (gh + 1) × (gw + 1) grid corners, bilinear in between
        let gh = options.minimumGrid + random.index(below: options.maximumGrid - options.minimumGrid + 1)
        let gw = options.minimumGrid + random.index(below: options.maximumGrid - options.minimumGrid + 1)
        for k in 0..<((gh + 1) * (gw + 1)) { grid[k] = random.uniform() }
        for r in 0..<height {
            let u = (Float(r) + 0.5) * Float(gh) / Float(height)
            let i0 = min(Int(u), gh - 1), fr = u - Float(i0)
            for c in 0..<width {
                let v = (Float(c) + 0.5) * Float(gw) / Float(width)
                let j0 = min(Int(v), gw - 1), fc = v - Float(j0)
                let g = grid + i0 * (gw + 1) + j0
                let top = g[0] + fc * (g[1] - g[0])
                let bottom = g[gw + 1] + fc * (g[gw + 2] - g[gw + 1])
                field[r * width + c] = top + fr * (bottom - top)
            }
        }
        // the threshold that leaves k = round(a · H · W) pixels inside
        let area = random.uniform(options.minimumArea, options.maximumArea)
        let inside = min(plane, max(1, Int((area * Float(plane)).rounded())))
        selection.update(from: field, count: plane)
        let threshold = Self.select(selection, count: plane, rank: plane - inside)

        let opacity = random.uniform(options.minimumOpacity, options.maximumOpacity)
        let offset = plane > 1 ? 1 + random.index(below: plane - 1) : 0
        let (dy, dx) = (offset / width, offset % width)
        var source = x
        if options.source == .batch && count > 1 {
            source = batch + ((index + 1 + random.index(below: count - 1)) % count) * size
        }
        for r in 0..<height {
            let sr = (r + dy) % height
            for c in 0..<width where field[r * width + c] >= threshold {
                let p = r * width + c, q = sr * width + (c + dx) % width
                mask?[p] = 1
                for ch in 0..<channels {
                    let o = ch * plane
                    out[o + p] = (1 - opacity) * x[o + p] + opacity * source[o + q]
                }
            }
        }
        return true
    }

    /// The element of rank `rank` (0-based, ascending) of a[0..<count], reordering a in place
    /// (Hoare's selection with the middle element as pivot; no allocation).
    static func select(_ a: UnsafeMutablePointer<Float>, count: Int, rank: Int) -> Float {
        var lo = 0, hi = count - 1
        while lo < hi {
            let pivot = a[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { (a[i], a[j]) = (a[j], a[i]); i += 1; j -= 1 }
            }
            if rank <= j { hi = j } else if rank >= i { lo = i } else { return a[rank] }
        }
        return a[rank]
    }
}

extension RandomSource {
    /// A uniform integer in 0..<n (n >= 1; the modulo bias is below 2⁻⁴⁰ for the sizes used here).
    mutating func index(below n: Int) -> Int { Int(next() % UInt64(n)) }
}
