import AECVKernels

/// Dropout, PyTorch's `nn.Dropout(p)` and `nn.Dropout2d(p)`, on batch-minor buffers.
///
/// Training: y = x · m / (1 − p) with m ~ Bernoulli(1 − p), drawn per element (`dropout`) or per
/// channel of each example (`dropout2d`: a whole [H, W] plane is kept or zeroed). Evaluation (and
/// p = 0): y = x. Backward: dx = dy · m / (1 − p), with the mask of the forward.
///
/// The masks come from the step's `StepNoise` (the model's seeded generator): example n of the
/// whole batch draws from its own generator, so the masks do not depend on the thread count, and
/// a forward repeated with the same noise draws the same masks. p = 1 zeroes everything, as
/// PyTorch does.
package final class Dropout: Layer {
    package let inputShape: [Int]
    package var outputShape: [Int] { inputShape }
    package let probability: Float
    /// True: one draw per channel (`dropout2d`, input [C, H, W]).
    package let channelwise: Bool
    private var mode = LayerMode.evaluation
    private var noise = StepNoise(seed: 0, firstExample: 0)
    /// m / (1 − p) for each element of the last training forward: (features, N).
    private let mask = Workspace()

    package init(inputShape: [Int], probability: Float, channelwise: Bool) {
        self.inputShape = inputShape
        self.probability = probability
        self.channelwise = channelwise
    }

    package func setMode(_ mode: LayerMode) { self.mode = mode }
    package func setNoise(_ noise: StepNoise) { self.noise = noise }

    private var active: Bool { mode == .training && probability > 0 }

    package func forward(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, batch n: Int) {
        let count = n * inputSize
        guard active else { y.update(from: x, count: count); return }
        let m = mask.reserve(count)
        let keep: Float = probability < 1 ? 1 / (1 - probability) : 0
        let units = channelwise ? inputShape[0] : inputSize
        let plane = inputSize / units
        for e in 0..<n {
            var generator = noise.generator(forExample: e)
            for u in 0..<units {
                let value: Float = generator.uniform() < probability ? 0 : keep
                for p in 0..<plane { m[(u * plane + p) * n + e] = value }
            }
        }
        for i in 0..<count { y[i] = x[i] * m[i] }
    }

    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch n: Int) {
        guard let dx = inputGradient else { return }
        let count = n * inputSize
        guard active else { dx.update(from: dy, count: count); return }
        let m = UnsafePointer(mask.pointer)
        for i in 0..<count { dx[i] = dy[i] * m[i] }
    }
}

// MARK: - Spec

/// `{"type": "dropout", "p": 0.5}`.
package struct DropoutDefinition: LayerDefinition, Equatable {
    package static let type = "dropout"
    package static let keys = ["p"]
    package var probability: Float

    package init(probability: Float) { self.probability = probability }
    package init(_ fields: LayerFields) throws { probability = try fields.float("p", default: 0.5) }
    package func validate(path: String) throws { try checkProbability(probability, "\(path).p") }
    package var jsonFields: [JSONMember] { [JSONMember("p", floatJSON(probability))] }

    package func build(into builder: inout NetworkBuilder, at path: String) throws {
        try builder.add(Dropout(inputShape: builder.shape, probability: probability, channelwise: false), parameters: 0)
    }
}

/// `{"type": "dropout2d", "p": 0.5}`: zeroes whole channels of a [C, H, W] input.
package struct Dropout2dDefinition: LayerDefinition, Equatable {
    package static let type = "dropout2d"
    package static let keys = ["p"]
    package var probability: Float

    package init(probability: Float) { self.probability = probability }
    package init(_ fields: LayerFields) throws { probability = try fields.float("p", default: 0.5) }
    package func validate(path: String) throws { try checkProbability(probability, "\(path).p") }
    package var jsonFields: [JSONMember] { [JSONMember("p", floatJSON(probability))] }

    package func build(into builder: inout NetworkBuilder, at path: String) throws {
        guard builder.shape.count == 3 else {
            throw AECVError.config("\(path): dropout2d needs a [C, H, W] input, got \(builder.shape)")
        }
        try builder.add(Dropout(inputShape: builder.shape, probability: probability, channelwise: true), parameters: 0)
    }
}

extension LayerSpec {
    public static func dropout(_ p: Float) -> LayerSpec { LayerSpec(DropoutDefinition(probability: p)) }
    public static func dropout2d(_ p: Float) -> LayerSpec { LayerSpec(Dropout2dDefinition(probability: p)) }
}

// MARK: - ONNX

/// Evaluation mode is the identity, so a dropout (either kind) exports as no node at all: the
/// next layer reads the input value directly (a graph output gets its Identity from the builder).
extension Dropout {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String { input }
}
