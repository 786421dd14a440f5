/// Flatten ([C, H, W] → [C·H·W]) and Unflatten ([F] → shape), PyTorch's `nn.Flatten` and
/// `nn.Unflatten`: batch-minor data is already laid out feature by feature, so both copy the
/// buffer under a new per-example shape.
final class Reshape: Layer {
    let inputShape: [Int]
    let outputShape: [Int]

    init(from inputShape: [Int], to outputShape: [Int]) {
        self.inputShape = inputShape
        self.outputShape = outputShape
    }

    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        output.update(from: input, count: batch * inputSize)
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        inputGradient?.update(from: outputGradient, count: batch * inputSize)
    }
}

// MARK: - Spec

/// `{"type": "flatten"}`.
struct FlattenDefinition: LayerDefinition, Equatable {
    static let type = "flatten"
    static let keys: [String] = []
    init() {}
    init(_ fields: LayerFields) throws {}
    func build(into builder: inout NetworkBuilder, at path: String) throws { try builder.flatten() }
}

/// `{"type": "unflatten", "shape": [64, 4, 4]}`: 1 to 3 positive dimensions whose product is
/// the input's size.
struct UnflattenDefinition: LayerDefinition, Equatable {
    static let type = "unflatten"
    static let keys = ["shape"]
    var shape: [Int]

    init(shape: [Int]) { self.shape = shape }

    init(_ fields: LayerFields) throws {
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

    func validate(path p: String) throws {
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

    var jsonFields: [JSONMember] { [JSONMember("shape", .array(shape.map { .int(Int64($0)) }))] }

    func build(into builder: inout NetworkBuilder, at path: String) throws { try builder.unflatten(shape, at: path) }
}

extension LayerSpec {
    public static let flatten = LayerSpec(FlattenDefinition())
    public static func unflatten(shape: [Int]) -> LayerSpec { LayerSpec(UnflattenDefinition(shape: shape)) }
}

extension NetworkBuilder {
    mutating func flatten() throws {
        try add(Reshape(from: shape, to: [size]), parameters: 0)
    }

    mutating func unflatten(_ target: [Int], at what: String) throws {
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
