import AECVKernels

/// Stochastic gradient descent with momentum, as PyTorch's `torch.optim.SGD` (dampening 0,
/// no Nesterov):
///
///     g ← g + λ·p;   b ← μ·b + g  (b = g at the first step);   p ← p − lr·b   (μ = 0: p ← p − lr·g)
package final class SGD: Optimizer {
    package var learningRate: Float
    package let momentum: Float, weightDecay: Float
    package private(set) var step = 0
    private let buffer: DoubleBuffer
    package let count: Int

    package var segments: [ParameterSegment]

    package init(count: Int, learningRate: Float, momentum: Float, weightDecay: Float) throws {
        self.count = count
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        buffer = try DoubleBuffer(count: momentum == 0 ? 0 : count, "SGD's momentum (\(count) floats)")
        segments = [ParameterSegment(start: 0, count: count, trainable: true)]
    }

    package func prepare(parameters p: UnsafePointer<Float>, gradients g: UnsafePointer<Float>,
                 newParameters pNew: UnsafeMutablePointer<Float>) -> Bool {
        for segment in segments {
            let (s, n) = (segment.start, segment.count)
            if segment.trainable {
                if !update(s..<(s + n), p, g, pNew, learningRate: segment.learningRate ?? learningRate) { return false }
            } else {
                // Frozen: the committed buffers must hold the same values again after the swap.
                pNew.advanced(by: s).update(from: p + s, count: n)
                if momentum != 0 { buffer.spare.advanced(by: s).update(from: buffer.current + s, count: n) }
            }
        }
        return true
    }

    private func update(_ range: Range<Int>, _ p: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                        _ pNew: UnsafeMutablePointer<Float>, learningRate lr: Float) -> Bool {
        let (mu, wd) = (momentum, weightDecay)
        var bad: Float = 0
        if mu == 0 {
            for i in range {
                let gi = wd == 0 ? g[i] : g[i] + wd * p[i]
                let pi = p[i] - lr * gi
                pNew[i] = pi
                bad += pi * 0
            }
        } else {
            let (bOld, bNew) = (buffer.current, buffer.spare)
            let first = step == 0
            for i in range {
                let gi = wd == 0 ? g[i] : g[i] + wd * p[i]
                let bi = first ? gi : mu * bOld[i] + gi
                let pi = p[i] - lr * bi
                bNew[i] = bi; pNew[i] = pi
                bad += bi * 0 + pi * 0
            }
        }
        return bad == 0
    }

    package func commit() {
        if momentum != 0 { buffer.swap() }
        step += 1
    }

    package var stateBuffers: [(name: String, pointer: UnsafeMutablePointer<Float>)] {
        momentum == 0 ? [] : [("sgd.momentum", buffer.current)]
    }

    package func restore(step: Int) { self.step = step }
}
