/// What the spec language knows about one layer type: its name and keys, how it is read from
/// JSON and written back, its range checks, and how it is built with shape inference.
///
/// Each layer type's file defines one conforming type next to the layer's math (e.g. `Dense.swift`
/// holds `Dense` and `DenseDefinition`), and `LayerRegistry.all` lists them. The spec decoder,
/// validator and writer, and `NetworkBuilder`, go through this protocol only: nothing else in
/// the library switches on a layer type. Adding a layer is one file and one registry entry
/// (docs/ARCHITECTURE.md, "Add a layer").
package protocol LayerDefinition: Sendable {
    /// The spec's `"type"`, e.g. "conv2d".
    static var type: String { get }
    /// The keys it accepts besides "type", in the order `jsonFields` writes them.
    static var keys: [String] { get }
    /// Reads the fields (unknown keys are already refused): structure and types, not ranges.
    /// Defaults are filled in here, so a decoded definition is complete.
    init(_ fields: LayerFields) throws
    /// Range checks that need no input shape; `path` is e.g. "spec.encoder[2]".
    func validate(path: String) throws
    /// Every field (defaults included) in `keys` order, without "type".
    var jsonFields: [JSONMember] { get }
    /// Appends the layer to `builder`, inferring its output shape from `builder.shape` and
    /// checking it with overflow-checked arithmetic before anything is allocated.
    func build(into builder: inout NetworkBuilder, at path: String) throws
    /// Value equality across existentials (the default compares with `==`).
    func isEqual(to other: any LayerDefinition) -> Bool
    /// The ONNX operators (op_type) this layer type imports, e.g. ["Conv"]; default none.
    static var onnxOperators: [String] { get }
    /// The layer (spec and weights) an ONNX node of one of `onnxOperators` becomes; the default
    /// throws `.unsupported`. Export is the layer's `Layer.exportONNX`.
    static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer
}

extension LayerDefinition {
    package func validate(path: String) throws {}
    package var jsonFields: [JSONMember] { [] }
}

extension LayerDefinition where Self: Equatable {
    package func isEqual(to other: any LayerDefinition) -> Bool { (other as? Self) == self }
}

/// The members of one layer object of a spec, with readers whose errors name the field:
/// `spec.encoder[0].kernel: required for conv2d, a positive integer`.
package struct LayerFields {
    package let type: String
    package let path: String
    package let members: [JSONMember]

    package func value(_ key: String) -> JSONValue? { members.first { $0.key == key }?.value }

    package func requiredInt(_ key: String, _ expected: String) throws -> Int {
        guard let v = value(key) else { throw config("\(path).\(key): required for \(type), \(expected)") }
        return try SpecDecoder.integer(v, "\(path).\(key)", expected: expected)
    }

    package func int(_ key: String, default d: Int, _ expected: String) throws -> Int {
        guard let v = value(key) else { return d }
        return try SpecDecoder.integer(v, "\(path).\(key)", expected: expected)
    }

    package func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = value(key) else { return d }
        guard case .bool(let b) = v else {
            throw config("\(path).\(key): expected true or false, got \(v.describedForMessage())")
        }
        return b
    }

    package func float(_ key: String, default d: Float) throws -> Float {
        guard let v = value(key) else { return d }
        return try SpecDecoder.float(v, "\(path).\(key)")
    }
}

/// One layer of a custom architecture, as a spec holds it: `{"type": "conv2d", "out": 16,
/// "kernel": 3, "stride": 2, "padding": 1}`. The types and their fields are those of
/// `LayerRegistry.all`; Swift code makes them with the static functions each layer's file
/// declares (`.dense(outputs: 256)`, `.relu`, `.conv2d(outputChannels:kernelSize:stride:padding:)`).
public struct LayerSpec: Equatable, Sendable {
    package let definition: any LayerDefinition

    package init(_ definition: any LayerDefinition) { self.definition = definition }

    /// The spec name of the layer type, e.g. "conv2d".
    public var type: String { Swift.type(of: definition).type }

    public static func == (a: LayerSpec, b: LayerSpec) -> Bool { a.definition.isEqual(to: b.definition) }

    /// `{"type": ..., fields}`, every field written.
    public func jsonValue() -> JSONValue {
        .object([JSONMember("type", .string(type))] + definition.jsonFields)
    }

    /// Reads an array of layer objects.
    package static func decodeList(_ value: JSONValue, _ path: String) throws -> [LayerSpec] {
        guard case .array(let elements) = value else {
            throw config("\(path): expected an array of layer objects, got \(value.describedForMessage())")
        }
        if elements.count > SpecLimits.maxLayers {
            throw config("\(path): \(elements.count) layers exceeds the limit of \(SpecLimits.maxLayers)")
        }
        return try elements.enumerated().map { try decode($1, "\(path)[\($0)]") }
    }

    /// Reads one layer object: its type from the registry, then that type's keys and fields.
    package static func decode(_ value: JSONValue, _ path: String) throws -> LayerSpec {
        let members = try SpecDecoder.object(value, path)
        let names = LayerRegistry.names
        guard let typeValue = members.first(where: { $0.key == "type" })?.value else {
            throw config("\(path).type: required, one of \(quotedList(names))")
        }
        guard case .string(let type) = typeValue, let kind = LayerRegistry.definition(named: type) else {
            throw config("\(path).type: expected one of \(quotedList(names)), got \(typeValue.describedForMessage())\(suggestion(typeValue.asString, names))")
        }
        try SpecDecoder.checkKeys(members, allowed: ["type"] + kind.keys, path: path,
                                  context: " for \(type) (allowed: \(kind.keys.isEmpty ? "none" : kind.keys.joined(separator: ", ")))")
        return LayerSpec(try kind.init(LayerFields(type: type, path: path, members: members)))
    }

    /// Checks a list within the layer limit, non-empty unless `allowEmpty`, and each layer's ranges.
    package static func validate(_ layers: [LayerSpec], path: String, allowEmpty: Bool = false) throws {
        if layers.isEmpty && !allowEmpty { throw config("\(path): must contain at least one layer") }
        if layers.count > SpecLimits.maxLayers {
            throw config("\(path): \(layers.count) layers exceeds the limit of \(SpecLimits.maxLayers)")
        }
        for (k, layer) in layers.enumerated() { try layer.definition.validate(path: "\(path)[\(k)]") }
    }
}

/// Every layer type a spec may name, in the order error messages list them.
package enum LayerRegistry {
    package static let all: [any LayerDefinition.Type] = [
        DenseDefinition.self, Conv2dDefinition.self, ConvTranspose2dDefinition.self,
        ReLU.self, Sigmoid.self, Tanh.self, LeakyReLU.self,
        FlattenDefinition.self, UnflattenDefinition.self,
        MaxPool2dDefinition.self, AvgPool2dDefinition.self, GlobalAvgPoolDefinition.self, UpsampleDefinition.self,
        BatchNorm2dDefinition.self, BatchNorm1dDefinition.self, DropoutDefinition.self, Dropout2dDefinition.self,
        GELU.self, SiLU.self, ELU.self, ResidualDefinition.self,
    ]

    package static let names: [String] = all.map { $0.type }

    package static func definition(named type: String) -> (any LayerDefinition.Type)? {
        all.first { $0.type == type }
    }

    /// The layer type that imports the ONNX operator `op`.
    package static func definition(onnxOperator op: String) -> (any LayerDefinition.Type)? {
        all.first { $0.onnxOperators.contains(op) }
    }

    /// The layer types ONNX writes as a fork-and-join pattern (SiLU, GELU).
    package static let forkImporters: [any ONNXForkImportable.Type] = all.compactMap { $0 as? any ONNXForkImportable.Type }

    /// Every ONNX operator some layer type imports, for error messages.
    package static var onnxOperators: [String] { all.flatMap { $0.onnxOperators } }
}
