import AECVKernels

/// A residual block, y = f(x) + P(x): f is a chain of other layers (`body`), P the identity when
/// f keeps the shape, else a learned projection — a 1×1 `Conv2d` with stride s when f maps
/// [C, H, W] to [C', H/s, W/s], a `Dense` when it maps [F] to [F'] (as ResNet's shortcut).
/// PyTorch equivalent: a module with members `body` (nn.Sequential) and `projection`, so the
/// state_dict names are "<i>.body.<j>.weight", "<i>.projection.weight".
/// Backward: dx = f'ᵀ dy + P'ᵀ dy (dy itself for the identity).
package final class Residual: Layer {
    package let body: Sequential
    package let projection: Layer?
    package let inputShape: [Int]
    package var outputShape: [Int] { body.outputShape }
    private let projected = Workspace()
    private let bodyGradient = Workspace()

    package init(body: Sequential, projection: Layer?) {
        self.body = body
        self.projection = projection
        inputShape = body.inputShape
    }

    package var parameterCount: Int { body.parameterCount + (projection?.parameterCount ?? 0) }
    package var parameterShapes: [(name: String, shape: [Int])] {
        body.parameterShapes.map { ("body.\($0.name)", $0.shape) }
            + (projection?.parameterShapes ?? []).map { ("projection.\($0.name)", $0.shape) }
    }

    package func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        body.bind(parameters: parameters, gradients: gradients)
        let k = body.parameterCount
        projection?.bind(parameters: parameters + k, gradients: gradients + k)
    }

    package var bufferCount: Int { body.bufferCount }
    package var bufferShapes: [(name: String, shape: [Int])] { body.bufferShapes.map { ("body.\($0.name)", $0.shape) } }
    package func bind(buffers current: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>) {
        body.bind(buffers: current, next: next)
    }

    package func setMode(_ mode: LayerMode) { body.setMode(mode) }
    package func setNoise(_ noise: StepNoise) { body.setNoise(noise) }
    package func setPartition(_ partition: BatchPartition?) { body.setPartition(partition) }
    package var usesBatchStatistics: Bool { body.usesBatchStatistics }
    package var minimumTrainingBatch: Int { body.minimumTrainingBatch }
    /// The body's activations and gradients, and the projection and body-gradient buffers.
    package var scratchFloatsPerExample: Int { body.trainingFloatsPerExample + inputSize + 2 * outputSize }

    package func initialize(random: inout RandomSource) {
        body.initialize(random: &random)
        projection?.initialize(random: &random)
    }

    package func forward(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, batch n: Int) {
        let count = n * outputSize
        y.update(from: body.forward(x, batch: n), count: count)
        if let projection {
            let p = projected.reserve(count)
            projection.forward(input: x, output: p, batch: n)
            add(p, into: y, count: count)
        } else {
            add(x, into: y, count: count)
        }
    }

    package func backward(input x: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>?,
                  batch n: Int) {
        let inCount = n * inputSize
        let db = dx == nil ? nil : bodyGradient.reserve(inCount)
        body.backward(input: x, outputGradient: dy, inputGradient: db, batch: n)
        if let projection {
            projection.backward(input: x, output: UnsafePointer(projected.pointer), outputGradient: dy,
                                inputGradient: dx, batch: n)
        } else if let dx {
            dx.update(from: dy, count: inCount)
        }
        if let dx, let db { add(db, into: dx, count: inCount) }
    }
}

// MARK: - Spec

/// `{"type": "residual", "layers": [{"type": "conv2d", ...}, ...]}`.
package struct ResidualDefinition: LayerDefinition, Equatable {
    package static let type = "residual"
    package static let keys = ["layers"]
    package var layers: [LayerSpec]

    package init(layers: [LayerSpec]) { self.layers = layers }

    package init(_ fields: LayerFields) throws {
        guard let v = fields.value("layers") else {
            throw config("\(fields.path).layers: required for residual, an array of layer objects")
        }
        layers = try LayerSpec.decodeList(v, "\(fields.path).layers")
    }

    package func validate(path: String) throws { try LayerSpec.validate(layers, path: "\(path).layers") }

    package var jsonFields: [JSONMember] { [JSONMember("layers", .array(layers.map { $0.jsonValue() }))] }

    /// The shortcut of a block mapping `from` to `to` (shapes that differ): a 1×1 convolution
    /// with stride s when both are [C, H, W] and H and W are divided by the same integer s, a
    /// dense layer when both are [F]; nil when no projection fits. The ONNX import checks a
    /// graph's shortcut against the same answer.
    package enum Projection: Equatable { case convolution(stride: Int), dense }

    package static func projection(from: [Int], to: [Int]) -> Projection? {
        if from.count == 3, to.count == 3, to[1] > 0, to[2] > 0, from[1] % to[1] == 0,
           from[1] / to[1] == from[2] / to[2], from[2] % to[2] == 0 {
            return .convolution(stride: from[1] / to[1])
        }
        return from.count == 1 && to.count == 1 ? .dense : nil
    }

    /// The projection as the layer spec an import must find for it.
    package static func projectionSpec(from: [Int], to: [Int]) -> LayerSpec? {
        switch projection(from: from, to: to) {
        case .convolution(let s)?: return .conv2d(outputChannels: to[0], kernelSize: 1, stride: s, padding: 0)
        case .dense?: return .dense(outputs: to[0])
        case nil: return nil
        }
    }

    package func build(into builder: inout NetworkBuilder, at path: String) throws {
        try validate(path: path)
        var inner = NetworkBuilder(inputShape: builder.shape, field: builder.field)
        for (k, layer) in layers.enumerated() { try inner.add(layer, at: "\(path).layers[\(k)]") }
        let (from, to) = (builder.shape, inner.shape)
        var projection: Layer?
        var projectionCount = 0
        if from != to {
            switch Self.projection(from: from, to: to) {
            case .convolution(let s)?:
                projection = Conv2d(inputShape: from, outputChannels: to[0], kernelSize: 1, stride: s, padding: 0)
                projectionCount = to[0] * from[0] + to[0]
            case .dense?:
                projection = Dense(inputShape: from, outputFeatures: to[0])
                projectionCount = try builder.product([from[0], to[0]], limit: SpecLimits.maxParameters, what: path) + to[0]
            case nil:
                throw AECVError.config("\(path): the block maps \(from) to \(to); a projection needs both [C, H, W] with the size divided by one integer stride, or both [F]")
            }
        }
        let body = inner.build()
        try builder.add(Residual(body: body, projection: projection), parameters: inner.parameterCount + projectionCount)
    }
}

extension LayerSpec {
    public static func residual(_ layers: [LayerSpec]) -> LayerSpec { LayerSpec(ResidualDefinition(layers: layers)) }
}

// MARK: - ONNX

/// The body's nodes ("<name>.body.<j>", as the state_dict), the projection's
/// ("<name>.projection": a 1×1 Conv or a Gemm) when the shape changes, and Add of the two.
extension Residual {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        let f = try body.exportONNX(&graph, input: input, prefix: "\(name).body")
        let shortcut = try projection?.exportONNX(&graph, input: input, name: "\(name).projection") ?? input
        return graph.node("Add", [f, shortcut], name: name, shape: outputShape)
    }
}
