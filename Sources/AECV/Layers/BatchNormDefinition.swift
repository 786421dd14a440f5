/// `{"type": "batch_norm2d", "eps": 1e-5, "momentum": 0.1, "affine": true}` on a [C, H, W]
/// input, and `batch_norm1d` with the same keys on a [C] input (PyTorch's defaults).
/// `BatchNorm1dDefinition` and `BatchNorm2dDefinition` differ only in the input rank they accept.
struct BatchNormFields: Equatable {
    var epsilon: Float = 1e-5
    var momentum: Float = 0.1
    var affine = true

    init(epsilon: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) {
        self.epsilon = epsilon; self.momentum = momentum; self.affine = affine
    }

    init(_ fields: LayerFields) throws {
        epsilon = try fields.float("eps", default: 1e-5)
        momentum = try fields.float("momentum", default: 0.1)
        affine = try fields.bool("affine", default: true)
    }

    static let keys = ["eps", "momentum", "affine"]

    func validate(path: String) throws {
        if !(epsilon.isFinite && epsilon > 0) {
            throw config("\(path).eps: must be a positive finite number, got \(formatFloat(epsilon))")
        }
        try checkProbability(momentum, "\(path).momentum")
    }

    var jsonFields: [JSONMember] {
        [JSONMember("eps", floatJSON(epsilon)), JSONMember("momentum", floatJSON(momentum)),
         JSONMember("affine", .bool(affine))]
    }

    func build(into builder: inout NetworkBuilder, rank: Int, type: String, at path: String) throws {
        guard builder.shape.count == rank else {
            let expected = rank == 3 ? "[C, H, W]" : "[C]"
            throw AECVError.config("\(path): \(type) needs a \(expected) input, got \(builder.shape)")
        }
        try validate(path: path)
        try builder.add(BatchNorm(inputShape: builder.shape, epsilon: epsilon, momentum: momentum, affine: affine),
                        parameters: affine ? 2 * builder.shape[0] : 0)
    }
}

struct BatchNorm2dDefinition: LayerDefinition, Equatable {
    static let type = "batch_norm2d"
    static let keys = BatchNormFields.keys
    var fields: BatchNormFields
    init(_ fields: BatchNormFields) { self.fields = fields }
    init(_ fields: LayerFields) throws { self.fields = try BatchNormFields(fields) }
    func validate(path: String) throws { try fields.validate(path: path) }
    var jsonFields: [JSONMember] { fields.jsonFields }
    func build(into builder: inout NetworkBuilder, at path: String) throws {
        try fields.build(into: &builder, rank: 3, type: Self.type, at: path)
    }
}

struct BatchNorm1dDefinition: LayerDefinition, Equatable {
    static let type = "batch_norm1d"
    static let keys = BatchNormFields.keys
    var fields: BatchNormFields
    init(_ fields: BatchNormFields) { self.fields = fields }
    init(_ fields: LayerFields) throws { self.fields = try BatchNormFields(fields) }
    func validate(path: String) throws { try fields.validate(path: path) }
    var jsonFields: [JSONMember] { fields.jsonFields }
    func build(into builder: inout NetworkBuilder, at path: String) throws {
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
