import AECVKernels

/// Flatten ([C, H, W] → [C·H·W]) and Unflatten ([F] → shape), PyTorch's `nn.Flatten` and
/// `nn.Unflatten`: batch-minor data is already laid out feature by feature, so both copy the
/// buffer under a new per-example shape.
package final class Reshape: Layer {
    package let inputShape: [Int]
    package let outputShape: [Int]

    package init(from inputShape: [Int], to outputShape: [Int]) {
        self.inputShape = inputShape
        self.outputShape = outputShape
    }

    package func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        output.update(from: input, count: batch * inputSize)
    }

    /// Backward reads input and gradients only, so a following ReLU may overwrite the output.
    package var backwardReadsOutput: Bool { false }

    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        inputGradient?.update(from: outputGradient, count: batch * inputSize)
    }
}

// MARK: - Spec

/// `{"type": "flatten"}`.
package struct FlattenDefinition: LayerDefinition, Equatable {
    package static let type = "flatten"
    package static let keys: [String] = []
    package init() {}
    package init(_ fields: LayerFields) throws {}
    package func build(into builder: inout NetworkBuilder, at path: String) throws { try builder.flatten() }
}

/// `{"type": "unflatten", "shape": [64, 4, 4]}`: 1 to 3 positive dimensions whose product is
/// the input's size.
package struct UnflattenDefinition: LayerDefinition, Equatable {
    package static let type = "unflatten"
    package static let keys = ["shape"]
    package var shape: [Int]

    package init(shape: [Int]) { self.shape = shape }

    package init(_ fields: LayerFields) throws {
        let path = fields.path
        guard let v = fields.value("shape") else {
            throw config("\(path).shape: required for unflatten, 1 to 3 positive integers")
        }
        guard case .array(let dims) = v else {
            throw config("\(path).shape: expected 1 to 3 positive integers, got \(v.describedForMessage())")
        }
        shape = try dims.enumerated().map {
            try SpecDecoder.integer($1, "\(path).shape[\($0)]", expected: "a positive integer")
        }
    }

    package func validate(path p: String) throws {
        if shape.isEmpty || shape.count > 3 || shape.contains(where: { $0 < 1 }) {
            throw config("\(p).shape: expected 1 to 3 positive integers, got \(intList(shape))")
        }
        var size = 1
        for (j, d) in shape.enumerated() {
            if d > SpecLimits.maxDimension {
                throw config("\(p).shape[\(j)]: \(d) exceeds the limit of \(SpecLimits.maxDimension)")
            }
            size = size.multipliedReportingOverflow(by: d).partialValue
        }
        // At most 3 dimensions of at most 2^16 each: no overflow.
        if size > SpecLimits.maxInputSize {
            throw config("\(p).shape: \(shape.map(String.init).joined(separator: " x ")) = \(size) floats exceeds the limit of \(SpecLimits.maxInputSize)")
        }
    }

    package var jsonFields: [JSONMember] { [JSONMember("shape", .array(shape.map { .int(Int64($0)) }))] }

    package func build(into builder: inout NetworkBuilder, at path: String) throws { try builder.unflatten(shape, at: path) }
}

extension LayerSpec {
    public static let flatten = LayerSpec(FlattenDefinition())
    public static func unflatten(shape: [Int]) -> LayerSpec { LayerSpec(UnflattenDefinition(shape: shape)) }
}

extension NetworkBuilder {
    package mutating func flatten() throws {
        try add(Reshape(from: shape, to: [size]), parameters: 0)
    }

    package mutating func unflatten(_ target: [Int], at what: String) throws {
        if target.isEmpty || target.contains(where: { $0 < 1 }) {
            throw AECVError.config("\(what): unflatten shape must be positive integers, got \(target)")
        }
        let count = try product(target, limit: SpecLimits.maxInputSize, what: what)
        if count != size {
            throw AECVError.config("\(what): cannot unflatten \(size) values into \(target) (\(count) values)")
        }
        try add(Reshape(from: shape, to: target), parameters: 0)
    }
}

// MARK: - ONNX

/// Flatten(axis 1) to a vector, Reshape(x, [0, dims...]) to an image shape.
extension Reshape {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.reshaped(input, to: outputShape, name: name)
    }
}

extension FlattenDefinition {
    package static var onnxOperators: [String] { ["Flatten"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        let axis = try node.int("axis", default: 1)
        if axis != 1 && !(axis == -1 && context.shape.count == 1) {
            throw context.unsupported(node, "axis \(axis): only axis 1 (keep the batch axis) is supported")
        }
        return ONNXImportedLayer(spec: .flatten)
    }
}

extension UnflattenDefinition {
    package static var onnxOperators: [String] { ["Reshape"] }

    /// Reshape to a constant shape whose first entry is the batch (0, −1 or a fixed batch) and
    /// whose others hold the example's values (one −1 allowed among them): to a vector this is a
    /// flatten, otherwise an unflatten.
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        let target = try context.constant(node, input: 1, "the target shape")
        guard target.dataType == ONNXTensor.int64, target.ints.count >= 2, target.ints.count <= 4 else {
            throw context.unsupported(node, "the target shape must be 2 to 4 int64 values (batch first)")
        }
        let size = context.shape.reduce(1, *)
        if try node.int("allowzero", default: 0) != 0 && target.ints.dropFirst().contains(0) {
            throw context.unsupported(node, "allowzero with a zero dimension")
        }
        var dims = target.ints.dropFirst().map(Int.init)
        for (j, d) in dims.enumerated() where d == 0 {
            guard j + 1 < context.shape.count + 1, j < context.shape.count else {
                throw context.unsupported(node, "a 0 (copy) dimension past the input's rank")
            }
            dims[j] = context.shape[j]
        }
        let unknown = dims.indices.filter { dims[$0] == -1 }
        if unknown.count > 1 || dims.contains(where: { $0 < -1 }) {
            throw context.unsupported(node, "target shape \(target.ints)")
        }
        // Every fixed dimension divides the example's size, so the products below are at most
        // `size` and cannot overflow (a file's 2^62 would otherwise trap in the multiply).
        var known = 1
        for d in dims where d != -1 {
            guard d > 0, (size / known) % d == 0 else {
                throw context.unsupported(node, "target shape \(target.ints) does not fit the \(size) values of each example (the batch must be the first axis)")
            }
            known *= d
        }
        if let u = unknown.first { dims[u] = size / known }
        guard dims.reduce(1, *) == size else {
            throw context.unsupported(node, "target shape \(target.ints) does not fit the \(size) values of each example (the batch must be the first axis)")
        }
        return ONNXImportedLayer(spec: dims.count == 1 ? .flatten : .unflatten(shape: dims))
    }
}
