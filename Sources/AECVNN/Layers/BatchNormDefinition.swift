import AECVKernels

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
