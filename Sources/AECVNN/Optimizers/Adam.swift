#if canImport(Glibc)
import Glibc
#endif
import CKernels
import AECVKernels

/// Adam (Kingma & Ba), exactly as PyTorch's `torch.optim.Adam` (amsgrad off):
///
///     g ← g + λ·p                       (weight decay, L2)
///     m ← β1·m + (1 − β1)·g
///     v ← β2·v + (1 − β2)·g²
///     p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
package final class Adam: Optimizer {
    package var learningRate: Float
    package let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    package private(set) var step = 0
    private let m: DoubleBuffer
    private let v: DoubleBuffer
    package let count: Int

    package var segments: [ParameterSegment]

    package init(count: Int, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
         weightDecay: Float) throws {
        self.count = count
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        m = try DoubleBuffer(count: count, "Adam's first moments (\(count) floats)")
        v = try DoubleBuffer(count: count, "Adam's second moments (\(count) floats)")
        segments = [ParameterSegment(start: 0, count: count, trainable: true)]
        // Last, after everything that can throw: a class whose initializer fails never runs
        // its deinit, so an allocation made before a throw would leak.
        partFinite = .allocate(capacity: Adam.maxParts)
    }

    package func prepare(parameters p: UnsafePointer<Float>, gradients g: UnsafePointer<Float>,
                 newParameters pNew: UnsafeMutablePointer<Float>) -> Bool {
        let t = Double(step + 1)
        let biasCorrection1 = 1 - pow(Double(beta1), t)
        let biasCorrection2 = 1 - pow(Double(beta2), t)
        let rootCorrection2 = Float(biasCorrection2.squareRoot())
        let (mOld, vOld, mNew, vNew) = (m.current, v.current, m.spare, v.spare)
        for segment in segments {
            let (s, n) = (segment.start, segment.count)
            guard segment.trainable else {
                // Frozen: the committed buffers must hold the same values again after the swap.
                pNew.advanced(by: s).update(from: p + s, count: n)
                mNew.advanced(by: s).update(from: mOld + s, count: n)
                vNew.advanced(by: s).update(from: vOld + s, count: n)
                continue
            }
            let stepSize = Float(Double(segment.learningRate ?? learningRate) / biasCorrection1)
            if !update(s, n, p, g, pNew, stepSize: stepSize, rootCorrection2: rootCorrection2) { return false }
        }
        return true
    }

    /// The update of `count` parameters from `start`. The loop is C (CKernels): Swift's square
    /// root is scalar with a libm call on Linux, which made Adam 44% of a dense training step.
    /// The update is memory-bound (7 streams over the parameters), so large segments are split
    /// among the library's threads.
    private func update(_ start: Int, _ count: Int, _ p: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                        _ pNew: UnsafeMutablePointer<Float>, stepSize: Float, rootCorrection2: Float) -> Bool {
        let (b1, b2, eps, wd) = (beta1, beta2, epsilon, weightDecay)
        let (mOld, vOld, mNew, vNew) = (m.current + start, v.current + start, m.spare + start, v.spare + start)
        let (p, g, pNew) = (p + start, g + start, pNew + start)
        let parts = count >= Adam.parallelThreshold ? min(ComputeThreads.current, Adam.maxParts) : 1
        let finite = partFinite
        WorkerPool.shared.run(parts) { part in
            // Parts start at multiples of 16 floats (64 bytes): no cache line is written by two threads.
            let start = (part * count / parts) & ~15, end = part == parts - 1 ? count : ((part + 1) * count / parts) & ~15
            finite[part] = ckernels_adam_update(end - start, p + start, g + start, mOld + start, vOld + start,
                                                pNew + start, mNew + start, vNew + start,
                                                stepSize, rootCorrection2, b1, b2, eps, wd)
        }
        for part in 0..<parts where finite[part] == 0 { return false }
        return true
    }

    /// Below this many parameters the update runs on the calling thread (waking a worker costs more).
    package static let parallelThreshold = 1 << 16
    /// One finiteness flag per part (preallocated in init: no allocation per step).
    private let partFinite: UnsafeMutablePointer<Int32>
    package static let maxParts = 64

    deinit { partFinite.deallocate() }

    package func commit() {
        m.swap(); v.swap()
        step += 1
    }

    package var stateBuffers: [(name: String, pointer: UnsafeMutablePointer<Float>)] {
        [("adam.m", m.current), ("adam.v", v.current)]
    }

    package func restore(step: Int) { self.step = step }
}
