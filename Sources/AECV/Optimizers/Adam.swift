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
        var bad: Float = 0
        for i in 0..<count {
            let gi = wd == 0 ? g[i] : g[i] + wd * p[i]
            let mi = b1 * mOld[i] + (1 - b1) * gi
            let vi = b2 * vOld[i] + (1 - b2) * gi * gi
            let pi = p[i] - stepSize * mi / (vi.squareRoot() / rootCorrection2 + eps)
            mNew[i] = mi; vNew[i] = vi; pNew[i] = pi
            // x·0 is 0 for finite x and NaN for Inf/NaN: one accumulator flags any non-finite value.
            bad += mi * 0 + vi * 0 + pi * 0
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
