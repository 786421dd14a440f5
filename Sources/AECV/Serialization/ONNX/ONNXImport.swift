/// ONNX import: a graph exported by `torch.onnx.export` (or by libaecv) becomes a `custom`
/// autoencoder with the graph's weights, which runs and trains here.
///
/// What is accepted: one float input (batch first, the other axes fixed), a chain of nodes each
/// reading the previous one's output (plus constants: initializers and Constant nodes), one
/// output. Each node's operator is looked up in the layer registry (`LayerDefinition.onnxOperators`
/// and `importONNX`, in each layer's file); Identity and Dropout (inference graphs) are skipped.
/// Anything else is `.unsupported` naming the operator and the node; malformed files are
/// `.format`.
///
/// The code: the value named by the overrides' "code" (a node output name); else, when node
/// names carry module paths that change along the chain ("/encoder/encoder.0/Conv" …
/// "/decoder/decoder.0/ConvTranspose", as torch.onnx.export and libaecv name them), the output
/// of the last node of the first module; else the narrowest point of the chain — the first value
/// of the smallest size, followed through elementwise nodes (so a Conv → Relu code is the Relu's
/// output). Layers up to it form the encoder, the rest the decoder.
///
/// Overrides (a JSON object, may be NULL): "code", and any top-level spec field of a custom
/// model except preset, input, encoder and decoder ("loss", "optimizer", "seed").
extension Autoencoder {
    public static func importONNX(path: String, overridesJSON: String?) throws -> Autoencoder {
        let bytes = try FileIO.readAll(path: path, maxBytes: ONNXProto.maxFileBytes)
        return try importONNX(bytes: bytes, overridesJSON: overridesJSON, context: "ONNX file \"\(path)\"")
    }

    public static func importONNX(bytes: [UInt8], overridesJSON: String?, context: String = "ONNX") throws -> Autoencoder {
        let overrides = try ONNXImport.overrides(overridesJSON)
        let model = try ONNXProto.decode(bytes, context: context)
        let chain = try ONNXImport.chain(model.graph)
        let split = try ONNXImport.codeIndex(chain, code: overrides.code)
        var members: [JSONMember] = [
            JSONMember("preset", .string("custom")),
            JSONMember("input", .array(chain.inputShape.map { .int(Int64($0)) })),
            JSONMember("encoder", .array(chain.layers[...split].map { $0.spec.jsonValue() })),
            JSONMember("decoder", .array(chain.layers[(split + 1)...].map { $0.spec.jsonValue() })),
        ]
        members += overrides.spec
        let spec = try ModelSpec(jsonValue: .object(members))
        let autoencoder = try Autoencoder(spec: spec)
        var tensors: [SafeTensors.Tensor] = []
        for (i, layer) in chain.layers.enumerated() {
            let name = i <= split ? "encoder.\(i)" : "decoder.\(i - split - 1)"
            for t in layer.tensors {
                if let k = t.values.firstIndex(where: { !$0.isFinite }) {
                    throw AECVError.nonFinite("ONNX: the weight of \(chain.nodeNames[i]) (\(name).\(t.suffix)) holds \(t.values[k]) at flat index \(k)")
                }
                tensors.append(.init(name: "\(name).\(t.suffix)", shape: t.dims, values: t.values))
            }
        }
        try autoencoder.importSafeTensors(SafeTensors(tensors: tensors))
        return autoencoder
    }
}

enum ONNXImport {
    struct Chain {
        var inputShape: [Int]
        var layers: [ONNXImportedLayer] = []
        /// Output value name and per-example shape of each layer.
        var values: [(name: String, shape: [Int])] = []
        /// The node name of each layer.
        var nodeNames: [String] = []
        /// Whether each layer is elementwise (shape-preserving, no parameters).
        var elementwise: [Bool] = []
    }

    static let skipped: Set<String> = ["Identity", "Dropout"]

    static func overrides(_ json: String?) throws -> (code: String?, spec: [JSONMember]) {
        guard let json, !json.isEmpty else { return (nil, []) }
        let value: JSONValue
        do { value = try JSONValue.parse(json) } catch {
            throw AECVError.config("overrides: invalid JSON: \(error)")
        }
        guard case .object(let members) = value else { throw AECVError.config("overrides: expected a JSON object") }
        var code: String?
        var spec: [JSONMember] = []
        for m in members {
            switch m.key {
            case "code":
                guard case .string(let s) = m.value else { throw AECVError.config("overrides.code: expected a node output name (a string)") }
                code = s
            case "preset", "input", "encoder", "decoder":
                throw AECVError.config("overrides.\(m.key): comes from the ONNX graph and cannot be overridden")
            default:
                spec.append(m)
            }
        }
        return (code, spec)
    }

    /// The graph as a chain of registry layers.
    static func chain(_ graph: ONNXGraph) throws -> Chain {
        var constants: [String: ONNXTensor] = [:]
        for t in graph.initializers { constants[t.name] = t }
        for n in graph.nodes where n.opType == "Constant" && n.domain.isEmpty {
            guard n.outputs.count == 1, case .tensor(let t)? = n.attribute("value") else {
                throw AECVError.unsupported("ONNX \(n.described): only Constant nodes with a tensor \"value\" are supported")
            }
            constants[n.outputs[0]] = t
        }
        let dataInputs = graph.inputs.filter { constants[$0.name] == nil }
        guard dataInputs.count == 1 else {
            throw AECVError.unsupported("ONNX graph: expected one data input, found \(dataInputs.count) (\(dataInputs.map(\.name).joined(separator: ", ")))")
        }
        let input = dataInputs[0]
        guard input.elementType == ONNXTensor.float32 else {
            throw AECVError.unsupported("ONNX input \"\(input.name)\": element type \(input.elementType), only float32 is supported")
        }
        guard input.dims.count == 2 || input.dims.count == 4 else {
            throw AECVError.unsupported("ONNX input \"\(input.name)\": rank \(input.dims.count); expected (batch, features) or (batch, C, H, W)")
        }
        var shape: [Int] = []
        for d in input.dims.dropFirst() {
            guard case .fixed(let n) = d, n >= 1 else {
                throw AECVError.unsupported("ONNX input \"\(input.name)\": only the first (batch) axis may be symbolic")
            }
            shape.append(n)
        }
        var rank = shape.count
        if shape.count == 1 { shape = [1, 1, shape[0]] }   // the spec's input is [C, H, W]
        var chain = Chain(inputShape: shape)
        var builder = NetworkBuilder(inputShape: shape, field: "onnx")
        var current = input.name
        for node in graph.nodes where !(node.opType == "Constant" && node.domain.isEmpty) {
            if !node.domain.isEmpty && node.domain != "ai.onnx" {
                throw AECVError.unsupported("ONNX \(node.described): operator domain \"\(node.domain)\" is not supported")
            }
            guard let first = node.inputs.first, first == current else {
                throw AECVError.unsupported("ONNX \(node.described): reads \(node.inputs.first.map { "\"\($0)\"" } ?? "nothing"), not the previous node's output \"\(current)\"; only chains of layers are supported (no branches or residual additions yet)")
            }
            guard let output = node.outputs.first, !output.isEmpty else {
                throw AECVError.format("ONNX \(node.described): has no output")
            }
            if skipped.contains(node.opType) { current = output; continue }
            if node.opType == "Add", try foldBias(node, into: &chain, constants: constants) { current = output; continue }
            guard let definition = LayerRegistry.definition(onnxOperator: node.opType) else {
                throw AECVError.unsupported("ONNX operator \(node.opType) (node \"\(node.name)\") is not supported; supported: \((LayerRegistry.onnxOperators + skipped.sorted()).joined(separator: ", "))")
            }
            let context = ONNXImportContext(shape: builder.shape, rank: rank, constants: constants)
            let layer = try definition.importONNX(node, context)
            let before = builder.shape
            do {
                try builder.add(layer.spec, at: "ONNX \(node.described)")
            } catch AECVError.config(let m) {
                throw AECVError.unsupported(m)
            }
            chain.layers.append(layer)
            chain.values.append((output, builder.shape))
            chain.nodeNames.append(node.name)
            chain.elementwise.append(layer.tensors.isEmpty && builder.shape == before)
            if builder.shape != before || !layer.tensors.isEmpty { rank = builder.shape.count }
            current = output
            if chain.layers.count > SpecLimits.maxLayers {
                throw AECVError.unsupported("ONNX graph: more than \(SpecLimits.maxLayers) layers")
            }
        }
        guard graph.outputs.count == 1 else {
            throw AECVError.unsupported("ONNX graph: expected one output, found \(graph.outputs.count)")
        }
        guard graph.outputs[0].name == current else {
            throw AECVError.unsupported("ONNX graph: the output \"\(graph.outputs[0].name)\" is not the end of the chain \"\(current)\"")
        }
        if chain.layers.count < 2 { throw AECVError.unsupported("ONNX graph: an autoencoder needs at least two layers") }
        return chain
    }

    /// An Add of a constant vector right after a layer with a bias (MatMul + Add, PyTorch's
    /// Linear on 3-D inputs) adds it to that bias. False when the Add is something else.
    static func foldBias(_ node: ONNXNode, into chain: inout Chain, constants: [String: ONNXTensor]) throws -> Bool {
        guard node.inputs.count == 2, let c = constants[node.inputs[1]], c.dataType == ONNXTensor.float32,
              let k = chain.layers.indices.last,
              let b = chain.layers[k].tensors.firstIndex(where: { $0.suffix == "bias" }),
              chain.layers[k].tensors[b].values.count == c.floats.count,
              c.dims.reduce(1, *) == c.floats.count else { return false }
        for j in c.floats.indices { chain.layers[k].tensors[b].values[j] += c.floats[j] }
        chain.values[k].name = node.outputs[0]
        return true
    }

    /// Index of the last encoder layer.
    static func codeIndex(_ chain: Chain, code: String?) throws -> Int {
        let last = chain.layers.count - 1
        if let code {
            guard let k = chain.values.firstIndex(where: { $0.name == code }) else {
                throw AECVError.config("overrides.code: no node output is named \"\(code)\" (outputs: \(chain.values.map(\.name).joined(separator: ", ")))")
            }
            guard k < last else { throw AECVError.config("overrides.code: \"\(code)\" is the graph's output; the decoder would be empty") }
            return k
        }
        let modules = chain.nodeNames.map(module)
        if let first = modules.first, !first.isEmpty, modules.last != first,
           let k = modules.lastIndex(of: first), modules[...k].allSatisfy({ $0 == first }) {
            return k
        }
        let sizes = chain.values.dropLast().map { $0.shape.reduce(1, *) }
        guard let smallest = sizes.min(), var k = sizes.firstIndex(of: smallest) else { return 0 }
        while k + 1 < last && chain.elementwise[k + 1] { k += 1 }
        return k
    }

    /// The top-level module of a node name: "/encoder/encoder.0/Conv" and "encoder.0/Conv" → "encoder".
    static func module(_ nodeName: String) -> String {
        let segment = nodeName.split(separator: "/").first.map(String.init) ?? ""
        guard nodeName.contains("/") else { return "" }
        return segment.split(separator: ".").first.map(String.init) ?? ""
    }
}
