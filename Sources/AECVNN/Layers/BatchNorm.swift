import AECVKernels

/// Batch normalization, PyTorch's `nn.BatchNorm1d` (input [C]) and `nn.BatchNorm2d` (input
/// [C, H, W]), on batch-minor buffers (C, P, N) with P = H·W (1 for 1-D), M = N·P values per channel:
///
///     y = γ · (x − μ) / √(σ² + ε) + β
///
/// Training: μ, σ² are the batch's mean and biased variance per channel, over the WHOLE batch
/// (when the batch is split among threads, the parts combine their sums through a
/// `BatchPartition`, so the thread count changes only float rounding); the next buffers get
/// running_mean ← (1 − m)·running_mean + m·μ, running_var ← (1 − m)·running_var + m·σ²·M/(M − 1)
/// (unbiased, as PyTorch), num_batches_tracked += 1, committed with the step. Evaluation: μ, σ²
/// are the running statistics. Parameters (affine): weight γ (C) = 1, bias β (C) = 0.
/// Buffers: running_mean (C) = 0, running_var (C) = 1, num_batches_tracked (a scalar, shape [] as
/// in PyTorch) = 0.
///
/// Backward, with x̂ = (x − μ)/√(σ² + ε): dβ += Σ dy, dγ += Σ dy·x̂; in training
/// dx = γ/√(σ² + ε) · (dy − Σdy/M − x̂·Σ(dy·x̂)/M) (through the batch statistics), in evaluation
/// dx = γ/√(σ² + ε) · dy.
package final class BatchNorm: Layer {
    package let inputShape: [Int]
    package var outputShape: [Int] { inputShape }
    package let channels: Int
    package let epsilon: Float
    package let momentum: Float
    package let affine: Bool
    private var weight: UnsafeMutablePointer<Float>?
    private var bias: UnsafeMutablePointer<Float>?
    private var weightGradient: UnsafeMutablePointer<Float>?
    private var biasGradient: UnsafeMutablePointer<Float>?
    private var current: UnsafeMutablePointer<Float>!
    private var next: UnsafeMutablePointer<Float>!
    private var mode = LayerMode.evaluation
    /// μ (C) and 1/√(σ² + ε) (C) of the last forward, and whether it used batch statistics.
    private let statistics = Workspace()
    private var forwardTrained = false
    /// The part of a split training batch this replica runs (nil: the whole batch, or one part).
    private var partition: BatchPartition?
    /// This part's sums, shared with the other parts: per channel (n_p, m_p, M2_p) in a training
    /// forward, and in `sums` (n_p, Σdy, Σdy·x̂) in backward. Two buffers, because another part may
    /// still read the forward's after this one has gone on to backward.
    private let moments: UnsafeMutablePointer<Double>
    private var sums: UnsafeMutablePointer<Double> { moments + 3 * channels }

    package init(inputShape: [Int], epsilon: Float, momentum: Float, affine: Bool) {
        self.inputShape = inputShape
        channels = inputShape[0]
        self.epsilon = epsilon
        self.momentum = momentum
        self.affine = affine
        moments = .allocate(capacity: 6 * inputShape[0])
        moments.initialize(repeating: 0, count: 6 * inputShape[0])
    }

    deinit { moments.deallocate() }

    private var plane: Int { inputSize / channels }

    package var parameterCount: Int { affine ? 2 * channels : 0 }
    package var parameterShapes: [(name: String, shape: [Int])] {
        affine ? [("weight", [channels]), ("bias", [channels])] : []
    }

    package func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        guard affine else { return }
        weight = parameters; bias = parameters + channels
        weightGradient = gradients; biasGradient = gradients + channels
    }

    package var bufferShapes: [(name: String, shape: [Int])] {
        [("running_mean", [channels]), ("running_var", [channels]), ("num_batches_tracked", [])]
    }
    package var bufferCount: Int { 2 * channels + 1 }

    package func bind(buffers current: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>) {
        self.current = current
        self.next = next
    }

    package func setMode(_ mode: LayerMode) { self.mode = mode }
    package var usesBatchStatistics: Bool { true }
    package var minimumTrainingBatch: Int { plane > 1 ? 1 : 2 }

    package func initialize(random: inout RandomSource) {
        if affine {
            weight!.update(repeating: 1, count: channels)
            bias!.update(repeating: 0, count: channels)
        }
        current.update(repeating: 0, count: channels)
        (current + channels).update(repeating: 1, count: channels)
        current[2 * channels] = 0
    }

    package func setPartition(_ partition: BatchPartition?) {
        self.partition = partition.flatMap { $0.parts > 1 ? $0 : nil }
    }

    package func forward(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, batch n: Int) {
        forward(x, y, batch: n, relu: false)
    }

    /// Normalizes and applies the following ReLU in the same pass over the output.
    package func forwardThenReLU(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, batch n: Int) {
        forward(x, y, batch: n, relu: true)
    }

    private func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch n: Int, relu: Bool) {
        let length = plane * n
        let s = statistics.reserve(2 * channels)
        forwardTrained = mode == .training
        if forwardTrained { batchStatistics(x, length: length, into: s) }
        for c in 0..<channels {
            if !forwardTrained {
                s[c] = current[c]
                s[channels + c] = 1 / (current[channels + c] + epsilon).squareRoot()
            }
            let (mean, inverse) = (s[c], s[channels + c])
            let scale = (weight?[c] ?? 1) * inverse
            let shift = (bias?[c] ?? 0) - mean * scale
            if relu {
                scaleShiftReLU(x + c * length, y + c * length, count: length, scale: scale, shift: shift)
            } else {
                scaleShift(x + c * length, y + c * length, count: length, scale: scale, shift: shift)
            }
        }
    }

    /// s[c] = μ and s[C + c] = 1/√(σ² + ε) of channel c over the whole training batch, and the
    /// next running statistics. Each part computes its values' count n_p, mean m_p and
    /// M2_p = Σ(x − m_p)² in two passes (Float lanes, blocks summed in Double), so that the
    /// variance of nearly constant channels stays exact; split parts then combine them in part order (Chan et al.), so every part gets
    /// the same numbers: n = Σ n_p, μ = Σ n_p·m_p / n, M2 = Σ M2_p + n_p·(m_p − μ)², σ² = M2/n.
    private func batchStatistics(_ x: UnsafePointer<Float>, length: Int, into s: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            let row = x + c * length
            // Σ(x − x₀) around the first value: the lanes then add small differences, not
            // large values that would swallow them (1000 + 1e-4 in a lane holding 5e5).
            let pivot = row[0]
            let m = Double(pivot) + blockSum(row, length) { $0 - pivot } / Double(length)
            // Centered at the mean rounded to Float, c: the differences x − c are exact for values
            // near the mean, and Σ(x − m)² = Σ(x − c)² − n·(m − c)² removes the shift exactly.
            let center = Float(m)
            let shift = m - Double(center)
            let squares = max(0, blockSum(row, length) { ($0 - center) * ($0 - center) } - Double(length) * shift * shift)
            (moments[3 * c], moments[3 * c + 1], moments[3 * c + 2]) = (Double(length), m, squares)
        }
        let table = partition?.exchange(moments)
        let parts = partition?.parts ?? 1
        for c in 0..<channels {
            var (count, mean, squares) = (moments[3 * c], moments[3 * c + 1], moments[3 * c + 2])
            if let table {
                count = 0
                var weighted = 0.0
                for p in 0..<parts { let t = table[p]!; count += t[3 * c]; weighted += t[3 * c] * t[3 * c + 1] }
                mean = weighted / count
                squares = 0
                for p in 0..<parts {
                    let t = table[p]!, d = t[3 * c + 1] - mean
                    squares += t[3 * c + 2] + t[3 * c] * d * d
                }
            }
            let variance = Float(squares / count)
            s[c] = Float(mean)
            s[channels + c] = 1 / (variance + epsilon).squareRoot()
            // Every part has the same statistics: one writes the shared next buffers.
            guard partition?.part ?? 0 == 0 else { continue }
            let unbiased = count > 1 ? Float(squares / (count - 1)) : variance
            next[c] = (1 - momentum) * current[c] + momentum * Float(mean)
            next[channels + c] = (1 - momentum) * current[channels + c] + momentum * unbiased
        }
        if partition?.part ?? 0 == 0 { next[2 * channels] = current[2 * channels] + 1 }
    }

    /// Backward reads input and gradients only, so a following ReLU may overwrite the output.
    package var backwardReadsOutput: Bool { false }

    package func backward(input x: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch n: Int) {
        let length = plane * n
        let s = UnsafePointer(statistics.pointer)
        guard forwardTrained, let partition else {
            for c in 0..<channels {
                let (sumG, sumGX) = gradientSums(x, dy, channel: c, length: length, s)
                writeInputGradient(x, dy, inputGradient, channel: c, length: length, s, count: Float(length),
                              sumG: sumG, sumGX: sumGX)
            }
            return
        }
        // Split parts: dx needs Σdy and Σdy·x̂ over the whole batch.
        for c in 0..<channels {
            let (sumG, sumGX) = gradientSums(x, dy, channel: c, length: length, s)
            (sums[3 * c], sums[3 * c + 1], sums[3 * c + 2]) = (Double(length), Double(sumG), Double(sumGX))
        }
        let table = partition.exchange(sums)
        for c in 0..<channels {
            var (count, sumG, sumGX) = (0.0, 0.0, 0.0)
            for p in 0..<partition.parts {
                let t = table[p]!
                count += t[3 * c]; sumG += t[3 * c + 1]; sumGX += t[3 * c + 2]
            }
            writeInputGradient(x, dy, inputGradient, channel: c, length: length, s, count: Float(count),
                          sumG: Float(sumG), sumGX: Float(sumGX))
        }
    }

    /// Σdy and Σdy·x̂ of channel c over this part's values, accumulated into dβ and dγ (a split
    /// batch's parts each add their own; the replicas' gradients are summed afterwards).
    private func gradientSums(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, channel c: Int, length: Int,
                              _ s: UnsafePointer<Float>) -> (Float, Float) {
        let row = x + c * length, g = dy + c * length
        let (mean, inverse) = (s[c], s[channels + c])
        var accG = Vector(repeating: 0), accGX = Vector(repeating: 0)
        var i = 0
        while i + 8 <= length {
            let gv = load(g + i)
            accG += gv
            accGX += gv * (load(row + i) - mean)
            i += 8
        }
        var sumG = accG.sum(), sumGX = accGX.sum()
        while i < length { sumG += g[i]; sumGX += g[i] * (row[i] - mean); i += 1 }
        sumGX *= inverse
        weightGradient?[c] += sumGX
        biasGradient?[c] += sumG
        return (sumG, sumGX)
    }

    /// dx of channel c: through the batch statistics (sums over the `count` values of the whole
    /// batch) after a training forward, else γ/√(σ² + ε)·dy.
    private func writeInputGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>?,
                               channel c: Int, length: Int, _ s: UnsafePointer<Float>, count: Float,
                               sumG: Float, sumGX: Float) {
        guard let dx else { return }
        let row = x + c * length, g = dy + c * length, out = dx + c * length
        let (mean, inverse) = (s[c], s[channels + c])
        let scale = (weight?[c] ?? 1) * inverse
        guard forwardTrained else {
            scaleShift(g, out, count: length, scale: scale, shift: 0)
            return
        }
        // dx = scale·(dy − Σdy/M − x̂·Σ(dy·x̂)/M) = scale·dy + a·x + b.
        let slope = -scale * inverse * sumGX / count
        let offset = -scale * sumG / count - slope * mean
        var i = 0
        while i + 8 <= length {
            store(scale * load(g + i) + slope * load(row + i) + offset, out + i)
            i += 8
        }
        while i < length { out[i] = scale * g[i] + slope * row[i] + offset; i += 1 }
    }

    // MARK: SIMD sums (AECVKernels' eight lanes, `Vector`, `load`, `store`)

    /// Σ f(x[i]) over n floats: eight Float lanes within blocks of 1024 values, the blocks summed
    /// in Double, so the rounding error does not grow with the channel's size.
    @inline(__always)
    private func blockSum(_ x: UnsafePointer<Float>, _ n: Int, _ f: (Vector) -> Vector) -> Double {
        var total = 0.0, i = 0
        while i < n {
            let end = min(i + 1024, n)
            var acc = Vector(repeating: 0)
            while i + 8 <= end { acc += f(load(x + i)); i += 8 }
            var block = acc.sum()
            while i < end { block += f(Vector(repeating: x[i]))[0]; i += 1 }
            total += Double(block)
        }
        return total
    }
}

// MARK: - ONNX

/// BatchNormalization(x, γ, β, running_mean, running_var, epsilon) in evaluation form (ONNX's
/// default training_mode 0): y = γ·(x − running_mean)/√(running_var + ε) + β per channel (axis 1),
/// on (N, C, H, W) or (N, C). Without affine, γ = 1 and β = 0 go in as constants. The momentum
/// only matters in training and is not exported.
extension BatchNorm {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        let scale: String, shift: String
        if let weight, let bias {
            scale = graph.initializer("\(name).weight", dims: [channels], from: weight)
            shift = graph.initializer("\(name).bias", dims: [channels], from: bias)
        } else {
            scale = graph.initializer("\(name).weight", dims: [channels], values: [Float](repeating: 1, count: channels))
            shift = graph.initializer("\(name).bias", dims: [channels], values: [Float](repeating: 0, count: channels))
        }
        let mean = graph.initializer("\(name).running_mean", dims: [channels], from: current)
        let variance = graph.initializer("\(name).running_var", dims: [channels], from: current + channels)
        return graph.node("BatchNormalization", [input, scale, shift, mean, variance],
                          attributes: [ONNXAttribute("epsilon", .float(epsilon)),
                                       // ONNX's momentum weighs the old statistic: 1 − PyTorch's.
                                       ONNXAttribute("momentum", .float(1 - momentum))],
                          name: name, shape: outputShape)
    }
}

// MARK: - Spec definitions

/// `{"type": "batch_norm2d", "eps": 1e-5, "momentum": 0.1, "affine": true}` on a [C, H, W]
/// input, and `batch_norm1d` with the same keys on a [C] input (PyTorch's defaults).
/// `BatchNorm1dDefinition` and `BatchNorm2dDefinition` differ only in the input rank they accept.
package struct BatchNormFields: Equatable {
    package var epsilon: Float = 1e-5
    package var momentum: Float = 0.1
    package var affine = true

    package init(epsilon: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) {
        self.epsilon = epsilon; self.momentum = momentum; self.affine = affine
    }

    package init(_ fields: LayerFields) throws {
        epsilon = try fields.float("eps", default: 1e-5)
        momentum = try fields.float("momentum", default: 0.1)
        affine = try fields.bool("affine", default: true)
    }

    package static let keys = ["eps", "momentum", "affine"]

    package func validate(path: String) throws {
        if !(epsilon.isFinite && epsilon > 0) {
            throw config("\(path).eps: must be a positive finite number, got \(formatFloat(epsilon))")
        }
        try checkProbability(momentum, "\(path).momentum")
    }

    package var jsonFields: [JSONMember] {
        [JSONMember("eps", floatJSON(epsilon)), JSONMember("momentum", floatJSON(momentum)),
         JSONMember("affine", .bool(affine))]
    }

    package func build(into builder: inout NetworkBuilder, rank: Int, type: String, at path: String) throws {
        guard builder.shape.count == rank else {
            let expected = rank == 3 ? "[C, H, W]" : "[C]"
            throw AECVError.config("\(path): \(type) needs a \(expected) input, got \(builder.shape)")
        }
        try validate(path: path)
        try builder.add(BatchNorm(inputShape: builder.shape, epsilon: epsilon, momentum: momentum, affine: affine),
                        parameters: affine ? 2 * builder.shape[0] : 0)
    }
}

package struct BatchNorm2dDefinition: LayerDefinition, Equatable {
    package static let type = "batch_norm2d"
    package static let keys = BatchNormFields.keys
    package var fields: BatchNormFields
    package init(_ fields: BatchNormFields) { self.fields = fields }
    package init(_ fields: LayerFields) throws { self.fields = try BatchNormFields(fields) }
    package func validate(path: String) throws { try fields.validate(path: path) }
    package var jsonFields: [JSONMember] { fields.jsonFields }
    package func build(into builder: inout NetworkBuilder, at path: String) throws {
        try fields.build(into: &builder, rank: 3, type: Self.type, at: path)
    }
}

package struct BatchNorm1dDefinition: LayerDefinition, Equatable {
    package static let type = "batch_norm1d"
    package static let keys = BatchNormFields.keys
    package var fields: BatchNormFields
    package init(_ fields: BatchNormFields) { self.fields = fields }
    package init(_ fields: LayerFields) throws { self.fields = try BatchNormFields(fields) }
    package func validate(path: String) throws { try fields.validate(path: path) }
    package var jsonFields: [JSONMember] { fields.jsonFields }
    package func build(into builder: inout NetworkBuilder, at path: String) throws {
        try fields.build(into: &builder, rank: 1, type: Self.type, at: path)
    }
}

extension LayerSpec {
    public static func batchNorm2d(eps: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) -> LayerSpec {
        LayerSpec(BatchNorm2dDefinition(BatchNormFields(epsilon: eps, momentum: momentum, affine: affine)))
    }
    public static func batchNorm1d(eps: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) -> LayerSpec {
        LayerSpec(BatchNorm1dDefinition(BatchNormFields(epsilon: eps, momentum: momentum, affine: affine)))
    }
}

// MARK: - ONNX import

/// BatchNormalization in inference form (training_mode 0): inputs X, scale γ, B β, the running
/// mean and variance, all constants. A (N, C, H, W) input becomes batch_norm2d, (N, C)
/// batch_norm1d. ONNX's momentum weighs the OLD statistic (default 0.9), PyTorch's the new one:
/// momentum = 1 − ONNX momentum (rounded to 1e-6). The layer is imported affine (γ, β trainable, as PyTorch's
/// default), even when γ = 1 and β = 0: a graph cannot tell affine=False from a fresh affine
/// layer. num_batches_tracked starts at 0.
extension BatchNorm2dDefinition {
    package static var onnxOperators: [String] { ["BatchNormalization"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        if try node.int("training_mode", default: 0) != 0 {
            throw context.unsupported(node, "training_mode 1 (export the model in eval mode)")
        }
        let shape1d = context.rank == 1 && context.shape.count == 1
        guard (context.rank == 3 && context.shape.count == 3) || shape1d, let channels = context.shape.first else {
            throw context.unsupported(node, "needs a (N, C, H, W) or (N, C) input, got per-example shape \(context.shape)")
        }
        var tensors: [(suffix: String, dims: [Int], values: [Float])] = []
        for (k, name) in ["weight", "bias", "running_mean", "running_var"].enumerated() {
            let t = try context.constant(node, input: k + 1, "the \(name) (input \(k + 1))")
            guard t.dataType == ONNXTensor.float32, t.floats.count == channels else {
                throw context.unsupported(node, "the \(name) must hold \(channels) floats, got dims \(t.dims)")
            }
            tensors.append((name, [channels], t.floats))
        }
        if let i = tensors[3].values.firstIndex(where: { $0 < 0 }) {
            throw AECVError.format("ONNX \(node.described): running variance \(tensors[3].values[i]) at channel \(i) is negative")
        }
        tensors.append(("num_batches_tracked", [], [0]))
        let epsilon = try node.float("epsilon", default: 1e-5)
        // 1 − 0.9f is 0.100000024 in float; rounded to 1e-6 it is PyTorch's 0.1 again.
        let momentum = Float(((1 - Double(try node.float("momentum", default: 0.9))) * 1e6).rounded() / 1e6)
        guard epsilon.isFinite, epsilon > 0, momentum.isFinite, momentum >= 0, momentum <= 1 else {
            throw context.unsupported(node, "epsilon \(epsilon) or momentum \(1 - momentum) out of range")
        }
        let spec: LayerSpec = shape1d ? .batchNorm1d(eps: epsilon, momentum: momentum)
                                      : .batchNorm2d(eps: epsilon, momentum: momentum)
        return ONNXImportedLayer(spec: spec, tensors: tensors)
    }
}
