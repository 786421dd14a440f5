import AECVKernels

/// An ONNX graph in memory (the subset of onnx.proto libaecv writes and reads), and the builder
/// through which each layer type appends its own nodes. Encoding to and from protobuf bytes is in
/// Serialization/ONNX; this file knows nothing of the wire format, so layers can depend on it.
///
/// Values are NCHW with a leading batch axis: a layer of per-example shape [C, H, W] reads a
/// value of shape (N, C, H, W); the batch axis is the symbolic dimension "batch".

/// A TensorProto: float32 (data type 1) or int64 (data type 7) values, row-major.
package struct ONNXTensor: Equatable {
    package static let float32: Int32 = 1
    package static let int64: Int32 = 7

    package var name: String
    package var dims: [Int]
    package var dataType: Int32
    package var floats: [Float] = []
    package var ints: [Int64] = []

    package init(name: String, dims: [Int], floats: [Float]) {
        self.name = name; self.dims = dims; dataType = ONNXTensor.float32; self.floats = floats
    }

    package init(name: String, dims: [Int], ints: [Int64]) {
        self.name = name; self.dims = dims; dataType = ONNXTensor.int64; self.ints = ints
    }

    /// Number of elements the dims describe (nil on overflow or a negative dim).
    package var elementCount: Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }
}

/// An AttributeProto value.
package enum ONNXAttributeValue: Equatable {
    case int(Int64)
    case float(Float)
    case ints([Int64])
    case floats([Float])
    case string(String)
    case tensor(ONNXTensor)
}

package struct ONNXAttribute: Equatable {
    package var name: String
    package var value: ONNXAttributeValue
    package init(_ name: String, _ value: ONNXAttributeValue) { self.name = name; self.value = value }
}

/// A NodeProto: one operator application.
package struct ONNXNode: Equatable {
    package var name: String
    package var opType: String
    package var inputs: [String]
    package var outputs: [String]
    package var attributes: [ONNXAttribute] = []
    package var domain: String = ""

    package init(name: String, opType: String, inputs: [String], outputs: [String], attributes: [ONNXAttribute] = [], domain: String = "") {
        self.name = name
        self.opType = opType
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
        self.domain = domain
    }

    package func attribute(_ name: String) -> ONNXAttributeValue? { attributes.first { $0.name == name }?.value }

    /// An INT attribute, or `fallback` when absent; another type is an error naming the node.
    package func int(_ name: String, default fallback: Int64) throws -> Int64 {
        switch attribute(name) {
        case nil: return fallback
        case .int(let v)?: return v
        default: throw AECVError.format("ONNX node \"\(self.name)\" (\(opType)): attribute \(name) is not an integer")
        }
    }

    package func float(_ name: String, default fallback: Float) throws -> Float {
        switch attribute(name) {
        case nil: return fallback
        case .float(let v)?: return v
        default: throw AECVError.format("ONNX node \"\(self.name)\" (\(opType)): attribute \(name) is not a float")
        }
    }

    package func ints(_ name: String) throws -> [Int64]? {
        switch attribute(name) {
        case nil: return nil
        case .ints(let v)?: return v
        default: throw AECVError.format("ONNX node \"\(self.name)\" (\(opType)): attribute \(name) is not a list of integers")
        }
    }

    package func string(_ name: String, default fallback: String) throws -> String {
        switch attribute(name) {
        case nil: return fallback
        case .string(let v)?: return v
        default: throw AECVError.format("ONNX node \"\(self.name)\" (\(opType)): attribute \(name) is not a string")
        }
    }

    /// (stride, padding) of a Conv, ConvTranspose, MaxPool or AveragePool node: equal strides
    /// (default 1, as ONNX), equal pads on every side, no dilation, NOTSET auto_pad; anything
    /// else is `.unsupported` naming the attribute (the kernel is the caller's to check).
    package func squareWindow(_ context: ONNXImportContext) throws -> (stride: Int, padding: Int) {
        let strides = try ints("strides") ?? [1, 1]
        guard strides.count == 2, strides[0] == strides[1], strides[0] >= 1 else {
            throw context.unsupported(self, "strides \(strides): only equal strides are supported")
        }
        let pads = try ints("pads") ?? [0, 0, 0, 0]
        guard pads.count == 4, Set(pads).count == 1, pads[0] >= 0 else {
            throw context.unsupported(self, "pads \(pads): only equal padding on every side is supported")
        }
        if let d = try ints("dilations"), d.contains(where: { $0 != 1 }) {
            throw context.unsupported(self, "dilations \(d): only 1 is supported")
        }
        let autoPad = try string("auto_pad", default: "NOTSET")
        if autoPad != "NOTSET" { throw context.unsupported(self, "auto_pad \(autoPad)") }
        guard strides[0] <= Int64(Int32.max), pads[0] <= Int64(Int32.max) else {
            throw context.unsupported(self, "strides \(strides), pads \(pads): too large")
        }
        return (Int(strides[0]), Int(pads[0]))
    }

    /// "node \"/encoder/encoder.0/Conv\" (Conv)", for messages.
    package var described: String { "node \"\(name)\" (\(opType))" }
}

/// A ValueInfoProto of a float tensor: its dims, each fixed or symbolic.
package struct ONNXValueInfo: Equatable {
    package enum Dimension: Equatable { case fixed(Int), symbolic(String) }
    package var name: String
    package var elementType: Int32 = ONNXTensor.float32
    package var dims: [Dimension]
    package init(name: String, elementType: Int32 = ONNXTensor.float32, dims: [Dimension]) {
        self.name = name
        self.elementType = elementType
        self.dims = dims
    }

}

/// A GraphProto.
package struct ONNXGraph: Equatable {
    package var name = "aecv"
    package var nodes: [ONNXNode] = []
    package var initializers: [ONNXTensor] = []
    package var inputs: [ONNXValueInfo] = []
    package var outputs: [ONNXValueInfo] = []
    package init(nodes: [ONNXNode] = [], initializers: [ONNXTensor] = [], inputs: [ONNXValueInfo] = [], outputs: [ONNXValueInfo] = []) {
        self.nodes = nodes
        self.initializers = initializers
        self.inputs = inputs
        self.outputs = outputs
    }

}

/// A ModelProto: the graph, its operator sets and metadata.
package struct ONNXModel: Equatable {
    package var irVersion: Int64 = 8
    /// (domain, version); "" is the default ai.onnx domain.
    package var opsets: [(domain: String, version: Int64)] = [("", 17)]
    package var producerName = "libaecv"
    package var producerVersion = ""
    package var graph = ONNXGraph()
    package var metadata: [(key: String, value: String)] = []

    package init() {}

    package static func == (a: ONNXModel, b: ONNXModel) -> Bool {
        a.irVersion == b.irVersion && a.opsets.map(\.domain) == b.opsets.map(\.domain)
            && a.opsets.map(\.version) == b.opsets.map(\.version) && a.producerName == b.producerName
            && a.producerVersion == b.producerVersion && a.graph == b.graph
            && a.metadata.map(\.key) == b.metadata.map(\.key) && a.metadata.map(\.value) == b.metadata.map(\.value)
    }
}

/// Appends nodes and initializers to a graph while tracking each value's per-example shape.
/// Layers call it from `Layer.exportONNX` (each layer type's own file); the model exporters
/// (Serialization/ONNX) chain the layers and declare the graph's inputs and outputs.
package struct ONNXGraphBuilder {
    package private(set) var graph = ONNXGraph()
    /// Per-example shape (without the batch axis) of every value produced so far.
    package private(set) var shapes: [String: [Int]] = [:]
    private var counter = 0

    /// Declares a graph input of per-example `shape`, with the symbolic batch axis first.
    package init() {
    }

    package mutating func input(_ name: String, shape: [Int]) {
        graph.inputs.append(ONNXValueInfo(name: name, dims: [.symbolic("batch")] + shape.map { .fixed($0) }))
        shapes[name] = shape
    }

    /// Declares `value` as a graph output, renaming it to `name` with an Identity node when the
    /// names differ (ONNX outputs are value names).
    package mutating func output(_ value: String, as name: String) {
        let shape = shapes[value] ?? []
        if value != name { _ = node("Identity", [value], name: name, output: name, shape: shape) }
        graph.outputs.append(ONNXValueInfo(name: name, dims: [.symbolic("batch")] + shape.map { .fixed($0) }))
    }

    /// A float initializer (a weight); returns its name.
    @discardableResult
    package mutating func initializer(_ name: String, dims: [Int], values: [Float]) -> String {
        graph.initializers.append(ONNXTensor(name: name, dims: dims, floats: values))
        return name
    }

    /// An int64 initializer (e.g. a Reshape target); returns its name.
    @discardableResult
    package mutating func initializer(_ name: String, ints: [Int64]) -> String {
        graph.initializers.append(ONNXTensor(name: name, dims: [ints.count], ints: ints))
        return name
    }

    /// Floats copied from a layer's bound parameter memory.
    package mutating func initializer(_ name: String, dims: [Int], from pointer: UnsafePointer<Float>) -> String {
        let count = dims.reduce(1, *)
        return initializer(name, dims: dims, values: Array(UnsafeBufferPointer(start: pointer, count: count)))
    }

    /// Appends one node; its single output gets `output` or a fresh name, with per-example
    /// `shape`. Returns the output's name.
    package mutating func node(_ op: String, _ inputs: [String], attributes: [ONNXAttribute] = [], name: String,
                       output: String? = nil, shape: [Int]) -> String {
        counter += 1
        let out = output ?? "\(name)/\(op)_output_\(counter)"
        graph.nodes.append(ONNXNode(name: "\(name)/\(op)", opType: op, inputs: inputs, outputs: [out],
                                    attributes: attributes))
        shapes[out] = shape
        return out
    }

    /// The value as (N, F): a Flatten(axis 1) when it has spatial axes.
    package mutating func flattened(_ value: String, name: String) -> String {
        let shape = shapes[value] ?? []
        guard shape.count > 1 else { return value }
        return node("Flatten", [value], attributes: [ONNXAttribute("axis", .int(1))], name: name,
                    shape: [shape.reduce(1, *)])
    }

    /// The value reshaped to (N, shape...) (a Reshape with 0 = "copy the batch axis").
    package mutating func reshaped(_ value: String, to shape: [Int], name: String) -> String {
        if shapes[value] == shape { return value }
        if shape.count == 1 { return flattened(value, name: name) }
        let target = initializer("\(name).shape", ints: [0] + shape.map { Int64($0) })
        return node("Reshape", [value, target], name: name, shape: shape)
    }
}

/// What an ONNX operator maps to on import: a layer spec and its tensors, with PyTorch's
/// state_dict suffixes ("weight", "bias") in the layer's parameter order.
package struct ONNXImportedLayer {
    package var spec: LayerSpec
    package var tensors: [(suffix: String, dims: [Int], values: [Float])] = []
    package init(spec: LayerSpec, tensors: [(suffix: String, dims: [Int], values: [Float])] = []) {
        self.spec = spec
        self.tensors = tensors
    }

}

/// What a layer type's importer sees: the node, its constant inputs, and the current shape.
package struct ONNXImportContext {
    /// Per-example shape of the node's data input (a (batch, F) graph input is [1, 1, F] here,
    /// the spec's image form).
    package let shape: [Int]
    /// Rank of the data input in the ONNX graph, without the batch axis (1 for (batch, F)).
    package var rank: Int
    /// Initializers and Constant nodes' values by name.
    package let constants: [String: ONNXTensor]

    package init(shape: [Int], rank: Int, constants: [String: ONNXTensor]) {
        (self.shape, self.rank, self.constants) = (shape, rank, constants)
    }

    /// The node's input `index` as a constant, or an error naming the node.
    package func constant(_ node: ONNXNode, input index: Int, _ what: String) throws -> ONNXTensor {
        guard index < node.inputs.count, let t = constants[node.inputs[index]] else {
            throw AECVError.unsupported("ONNX \(node.described): \(what) must be a constant initializer")
        }
        return t
    }

    package func unsupported(_ node: ONNXNode, _ why: String) -> AECVError {
        .unsupported("ONNX \(node.described): \(why)")
    }

    /// Refuses `node` unless its data input is an image, (N, C, H, W).
    package func requireImageInput(_ node: ONNXNode) throws {
        guard shape.count == 3 else {
            throw unsupported(node, "needs a (N, C, H, W) input, got per-example shape \(shape)")
        }
    }
}

/// A layer that ONNX writes not as one operator but as a small graph that forks from its input
/// and joins again, e.g. SiLU's x · Sigmoid(x). The importer offers each such layer type the
/// fork (the input value and the node where the branches join); a type that recognizes its
/// pattern returns its spec and the value the pattern ends at.
package protocol ONNXForkImportable: LayerDefinition {
    static func importONNXFork(_ fork: ONNXFork) throws -> (spec: LayerSpec, output: String)?
}

/// What a fork pattern sees: the fork's input, the joining node, and the graph around them.
package struct ONNXFork {
    /// The value both branches start from.
    package let value: String
    /// The node where they join (it reads both branches).
    package let join: ONNXNode
    /// The node that computes a value (nil for the graph input and constants).
    package let producer: (String) -> ONNXNode?
    /// The nodes that read a value.
    package let consumers: (String) -> [ONNXNode]
    package let constants: [String: ONNXTensor]

    package init(value: String, join: ONNXNode, producer: @escaping (String) -> ONNXNode?,
                 consumers: @escaping (String) -> [ONNXNode], constants: [String: ONNXTensor]) {
        (self.value, self.join, self.producer, self.consumers, self.constants) = (value, join, producer, consumers, constants)
    }

    /// The single float of a one-element constant, or nil.
    package func scalar(_ name: String) -> Float? {
        guard let t = constants[name], t.dataType == ONNXTensor.float32, t.floats.count == 1 else { return nil }
        return t.floats[0]
    }

    /// The other input of a two-input node when one of its inputs is `name`.
    package func other(_ node: ONNXNode, than name: String) -> String? {
        guard node.inputs.count == 2 else { return nil }
        if node.inputs[0] == name { return node.inputs[1] }
        if node.inputs[1] == name { return node.inputs[0] }
        return nil
    }

    /// The constant scalar operand of a two-input node whose other input is `name`.
    package func scalarOperand(_ node: ONNXNode, of name: String) -> Float? {
        other(node, than: name).flatMap(scalar)
    }
}

extension Layer {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        throw AECVError.unsupported("layer type \(Self.self) cannot be exported to ONNX yet")
    }
}

extension ActivationFunction {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        throw AECVError.unsupported("layer type \(Self.type) cannot be exported to ONNX yet")
    }
}

extension LayerDefinition {
    package static var onnxOperators: [String] { [] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        throw context.unsupported(node, "layer type \(type) has no ONNX import")
    }
}

extension Sequential {
    /// Every layer's ONNX form in order, named "\(prefix).<index>"; returns the chain's output.
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, prefix: String) throws -> String {
        var x = input
        for (i, layer) in layers.enumerated() {
            x = try layer.exportONNX(&graph, input: x, name: "\(prefix).\(i)")
        }
        return x
    }
}
