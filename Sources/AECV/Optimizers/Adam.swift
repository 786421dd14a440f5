#if canImport(Glibc)
import Glibc
#endif

/// Adam (Kingma & Ba), exactly as PyTorch's `torch.optim.Adam` (amsgrad off):
///
///     g ← g + λ·p                       (weight decay, L2)
///     m ← β1·m + (1 − β1)·g
///     v ← β2·v + (1 − β2)·g²
///     p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
final class Adam: Optimizer {
    var learningRate: Float
    let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    private(set) var step = 0
    private let m: DoubleBuffer
    private let v: DoubleBuffer
    let count: Int

    init(count: Int, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
         weightDecay: Float) {
        self.count = count
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        m = DoubleBuffer(count: count)
        v = DoubleBuffer(count: count)
    }

    func prepare(parameters p: UnsafePointer<Float>, gradients g: UnsafePointer<Float>,
                 newParameters pNew: UnsafeMutablePointer<Float>) -> Bool {
        let t = Double(step + 1)
        let biasCorrection1 = 1 - pow(Double(beta1), t)
        let biasCorrection2 = 1 - pow(Double(beta2), t)
        let stepSize = Float(Double(learningRate) / biasCorrection1)
        let rootCorrection2 = Float(biasCorrection2.squareRoot())
        let (b1, b2, eps, wd) = (beta1, beta2, epsilon, weightDecay)
        let (mOld, vOld, mNew, vNew) = (m.current, v.current, m.spare, v.spare)
        // Explicit 8-wide SIMD: a scalar loop with the finiteness accumulator would not vectorize
        // (a float reduction cannot be reordered), and Adam is a third of a dense training step.
        typealias V = SIMD8<Float>
        let width = V.scalarCount
        let vectorEnd = count - count % width
        var badVector = V(repeating: 0)
        var i = 0
        while i < vectorEnd {
            var gi = V(UnsafeBufferPointer(start: g + i, count: width))
            let pOld = V(UnsafeBufferPointer(start: p + i, count: width))
            if wd != 0 { gi += wd * pOld }
            let mi = b1 * V(UnsafeBufferPointer(start: mOld + i, count: width)) + (1 - b1) * gi
            let vi = b2 * V(UnsafeBufferPointer(start: vOld + i, count: width)) + (1 - b2) * gi * gi
            let pi = pOld - stepSize * mi / (vi.squareRoot() / rootCorrection2 + eps)
            store(mi, mNew + i); store(vi, vNew + i); store(pi, pNew + i)
            // x·0 is 0 for finite x and NaN for Inf/NaN: one accumulator flags any non-finite value.
            badVector += mi * 0 + vi * 0 + pi * 0
            i += width
        }
        var bad = badVector.sum()
        while i < count {
            let gi = wd == 0 ? g[i] : g[i] + wd * p[i]
            let mi = b1 * mOld[i] + (1 - b1) * gi
            let vi = b2 * vOld[i] + (1 - b2) * gi * gi
            let pi = p[i] - stepSize * mi / (vi.squareRoot() / rootCorrection2 + eps)
            mNew[i] = mi; vNew[i] = vi; pNew[i] = pi
            bad += mi * 0 + vi * 0 + pi * 0
            i += 1
        }
        return bad == 0
    }

    func commit() {
        m.swap(); v.swap()
        step += 1
    }

    var stateBuffers: [(name: String, pointer: UnsafeMutablePointer<Float>)] {
        [("adam.m", m.current), ("adam.v", v.current)]
    }

    func restore(step: Int) { self.step = step }
}
