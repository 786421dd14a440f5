import AECVKernels
import AECVNN
import AECVModels

/// ONNX import: a graph exported by `torch.onnx.export` (or by libaecv) becomes a `custom`
/// autoencoder with the graph's weights, which runs and trains here.
///
/// What is accepted: one float input (batch first, the other axes fixed), one output, and
/// between them a chain of nodes each reading the previous one's output (plus constants:
/// initializers and Constant nodes), where a value read by two nodes opens either a residual
/// block, f(x) + x or f(x) + projection(x), closed by an Add (blocks nest), or an activation that
/// ONNX writes as a pattern (SiLU's x · Sigmoid(x), GELU's Erf form). Each node's operator is
/// looked up in the layer registry (`LayerDefinition.onnxOperators` and `importONNX`, in each
/// layer's file; the patterns are `ONNXForkImportable`). Identity, Dropout and a Flatten of a
/// vector are skipped, a zero Pad is skipped or becomes the padding of the AveragePool after it.
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

    /// The graph as a chain of registry layers (residual blocks included, see `ChainParser`).
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
            throw AECVError.unsupported("ONNX graph: expected one data input, found \(dataInputs.count) (\(dataInputs.map(\.name).joined(separator: ", "))); graphs with more inputs, such as a conditional model's export with its \"condition\", do not import (load the model file or its safetensors instead)")
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
        let rank = shape.count
        if shape.count == 1 { shape = [1, 1, shape[0]] }   // the spec's input is [C, H, W]
        var parser = try ChainParser(graph: graph, constants: constants)
        var builder = NetworkBuilder(inputShape: shape, field: "onnx")
        var chain = Chain(inputShape: shape)
        var onnxRank = rank
        let end = try parser.sequence(from: input.name, first: nil, until: nil, into: &chain, builder: &builder, rank: &onnxRank)
        guard graph.outputs.count == 1 else {
            throw AECVError.unsupported("ONNX graph: expected one output, found \(graph.outputs.count)")
        }
        guard graph.outputs[0].name == end else {
            throw AECVError.unsupported("ONNX graph: the output \"\(graph.outputs[0].name)\" is not the end of the chain \"\(end)\"")
        }
        if chain.layers.count < 2 { throw AECVError.unsupported("ONNX graph: an autoencoder needs at least two layers") }
        return chain
    }

    /// Walks the graph from a value along its consumers. A value read by one node continues the
    /// chain; a value read by two nodes opens a residual block, y = f(x) + shortcut(x), closed by
    /// the Add where the two branches join (found by counting the branches' open edges: the
    /// first node that takes every one of them). f becomes the block's layers; the shortcut is
    /// x itself or one 1×1 Conv (or Gemm) that must be the projection the residual layer infers
    /// from the shapes. Blocks nest.
    struct ChainParser {
        let constants: [String: ONNXTensor]
        /// The graph's nodes in their (topological) order, Constant nodes left out.
        let nodes: [ONNXNode]
        /// For each value, the nodes reading it as a non-constant input, one entry per edge.
        var consumers: [String: [Int]] = [:]
        /// Node index producing each value.
        var producer: [String: Int] = [:]

        init(graph: ONNXGraph, constants: [String: ONNXTensor]) throws {
            self.constants = constants
            nodes = graph.nodes.filter { !($0.opType == "Constant" && $0.domain.isEmpty) }
            // ONNX requires the nodes in topological order, each value written once. Checked
            // here, because the walk below follows values from reader to reader: a cycle (a
            // node reading its own output, say) through nodes that add no layer would never end.
            var defined = Set(graph.inputs.map(\.name)).union(constants.keys)
            for node in nodes {
                for input in node.inputs where !input.isEmpty && !defined.contains(input) {
                    throw AECVError.format("ONNX \(node.described): reads \"\(input)\", which no earlier node writes (the nodes must be in topological order, without cycles)")
                }
                for output in node.outputs where !output.isEmpty {
                    guard defined.insert(output).inserted else {
                        throw AECVError.format("ONNX \(node.described): writes \"\(output)\", which the graph already defines (each value is written once)")
                    }
                }
            }
            for (i, node) in nodes.enumerated() {
                if !node.domain.isEmpty && node.domain != "ai.onnx" {
                    throw AECVError.unsupported("ONNX \(node.described): operator domain \"\(node.domain)\" is not supported")
                }
                guard let output = node.outputs.first, !output.isEmpty else {
                    throw AECVError.format("ONNX \(node.described): has no output")
                }
                for input in node.inputs where !input.isEmpty && constants[input] == nil { consumers[input, default: []].append(i) }
                producer[output] = i
            }
        }

        /// Appends the layers from value `start` (through node `first` when given) until the
        /// value `end` (nil: until a value nothing reads) to `chain`; returns the last value.
        mutating func sequence(from start: String, first: Int?, until end: String?, into chain: inout Chain,
                               builder: inout NetworkBuilder, rank: inout Int) throws -> String {
            var current = start
            var forced = first
            while current != end {
                let index: Int
                if let f = forced {
                    index = f; forced = nil
                } else {
                    let users = consumers[current] ?? []
                    if users.isEmpty {
                        if let end { throw AECVError.unsupported("ONNX graph: the branch from \"\(start)\" ends at \"\(current)\" without reaching \"\(end)\"") }
                        return current
                    }
                    if users.count == 2 {
                        current = try residual(at: current, users: users, into: &chain, builder: &builder, rank: &rank)
                        continue
                    }
                    guard users.count == 1 else {
                        throw AECVError.unsupported("ONNX graph: the value \"\(current)\" is read by \(users.count) nodes; only chains and residual blocks (f(x) + x) are supported")
                    }
                    index = users[0]
                }
                current = try layer(nodes[index], reading: current, into: &chain, builder: &builder, rank: &rank)
                if chain.layers.count > SpecLimits.maxLayers {
                    throw AECVError.unsupported("ONNX graph: more than \(SpecLimits.maxLayers) layers")
                }
            }
            return current
        }

        /// One node reading `value` as its data input: skipped, folded into the previous bias, or
        /// a registry layer appended. Returns the node's output.
        mutating func layer(_ node: ONNXNode, reading value: String, into chain: inout Chain,
                            builder: inout NetworkBuilder, rank: inout Int) throws -> String {
            let output = node.outputs[0]
            guard node.inputs.first == value else {
                throw AECVError.unsupported("ONNX \(node.described): reads \"\(value)\" as input \(node.inputs.firstIndex(of: value) ?? -1), not as its data input 0")
            }
            if let other = node.inputs.dropFirst().first(where: { !$0.isEmpty && constants[$0] == nil }) {
                throw AECVError.unsupported("ONNX \(node.described): also reads the computed value \"\(other)\"; only chains of layers and residual blocks (f(x) + x) are supported")
            }
            if ONNXImport.skipped.contains(node.opType) { return output }
            // A Flatten of an (N, F) value is the identity (PyTorch writes one after
            // GlobalAveragePool, whose import already yields (N, C)).
            if node.opType == "Flatten" && builder.shape.count == 1 { return output }
            if node.opType == "Pad" { return try pad(node, into: &chain, builder: &builder, rank: &rank) }
            if node.opType == "Add", try ONNXImport.foldBias(node, into: &chain, constants: constants) { return output }
            guard let definition = LayerRegistry.definition(onnxOperator: node.opType) else {
                throw AECVError.unsupported("ONNX operator \(node.opType) (node \"\(node.name)\") is not supported; supported: \((LayerRegistry.onnxOperators + ["Add (residual)"] + ONNXImport.skipped.sorted()).joined(separator: ", "))")
            }
            let context = ONNXImportContext(shape: builder.shape, rank: rank, constants: constants)
            let imported = try definition.importONNX(node, context)
            try append(imported, output: output, node: node, into: &chain, builder: &builder, rank: &rank)
            return output
        }

        /// A Pad of zeros is skipped; a symmetric spatial zero Pad read by an AveragePool alone
        /// becomes that pool's padding (see `AvgPool2dDefinition.onnxPadding`). Returns the
        /// output of the last node taken.
        mutating func pad(_ node: ONNXNode, into chain: inout Chain, builder: inout NetworkBuilder, rank: inout Int) throws -> String {
            let context = ONNXImportContext(shape: builder.shape, rank: rank, constants: constants)
            guard let p = try AvgPool2dDefinition.onnxPadding(node, context) else {
                throw context.unsupported(node, "only a zero Pad of the spatial axes, equal on every side, before an AveragePool is supported")
            }
            if p == 0 { return node.outputs[0] }
            guard let users = consumers[node.outputs[0]], users.count == 1, nodes[users[0]].opType == "AveragePool",
                  nodes[users[0]].inputs.first == node.outputs[0] else {
                throw context.unsupported(node, "a Pad of \(p) is supported only right before an AveragePool")
            }
            let pool = nodes[users[0]]
            let imported = try AvgPool2dDefinition.importONNX(pad: p, pool: pool, context)
            try append(imported, output: pool.outputs[0], node: pool, into: &chain, builder: &builder, rank: &rank)
            return pool.outputs[0]
        }

        func append(_ imported: ONNXImportedLayer, output: String, node: ONNXNode, into chain: inout Chain,
                    builder: inout NetworkBuilder, rank: inout Int) throws {
            let before = builder.shape
            do {
                try builder.add(imported.spec, at: "ONNX \(node.described)")
            } catch AECVError.config(let m) {
                throw AECVError.unsupported(m)
            }
            chain.layers.append(imported)
            chain.values.append((output, builder.shape))
            chain.nodeNames.append(node.name)
            chain.elementwise.append(imported.tensors.isEmpty && builder.shape == before)
            if builder.shape != before || !imported.tensors.isEmpty { rank = builder.shape.count }
        }

        /// The index of the node where the branches leaving `value` join: walking the nodes in
        /// order, the first that takes every edge still open.
        func join(of value: String, users: [Int]) throws -> Int {
            var open = users.count
            var region: Set<String> = [value]
            for i in (users.min() ?? 0)..<nodes.count {
                let node = nodes[i]
                let taken = node.inputs.filter { region.contains($0) }.count
                guard taken > 0 else { continue }
                open -= taken
                if open == 0 && taken >= 2 { return i }
                let output = node.outputs[0]
                open += consumers[output]?.count ?? 0
                region.insert(output)
                if open == 0 { break }
            }
            let readers = users.map { nodes[$0] }
            throw AECVError.unsupported("ONNX graph: the value \"\(value)\" feeds \(readers.map(\.opType).joined(separator: ", ")) (nodes \(readers.map { "\"\($0.name)\"" }.joined(separator: ", "))), branches that never join again; only chains, residual blocks (f(x) + x) and the SiLU/GELU patterns are supported")
        }

        /// A residual block opened at `value` (read by `users`); returns the join's output.
        mutating func residual(at value: String, users: [Int], into chain: inout Chain,
                               builder: inout NetworkBuilder, rank: inout Int) throws -> String {
            let j = try join(of: value, users: users)
            let add = nodes[j]
            if add.opType != "Add" {
                // An activation written as a pattern (x · σ(x), GELU's Erf form)?
                let fork = ONNXFork(value: value, join: add, producer: { [self] in producer[$0].map { nodes[$0] } },
                                    consumers: { [self] in (consumers[$0] ?? []).map { nodes[$0] } }, constants: constants)
                for type in LayerRegistry.forkImporters {
                    guard let found = try type.importONNXFork(fork) else { continue }
                    try append(ONNXImportedLayer(spec: found.spec), output: found.output, node: add, into: &chain,
                               builder: &builder, rank: &rank)
                    return found.output
                }
            }
            guard add.opType == "Add", add.inputs.count == 2 else {
                throw AECVError.unsupported("ONNX \(add.described): the branches leaving \"\(value)\" join here; only Add (a residual block) is supported")
            }
            // The shortcut: value itself, or a single node from value (the projection). When both
            // inputs could be, the second is (f(x) + shortcut(x), as libaecv and most code write).
            func single(_ v: String) -> Int? {
                guard let p = producer[v], nodes[p].inputs.first == value,
                      ["Conv", "Gemm"].contains(nodes[p].opType) else { return nil }
                return p
            }
            let (a, b) = (add.inputs[0], add.inputs[1])
            let bodyEnd: String, projectionNode: Int?
            if b == value { (bodyEnd, projectionNode) = (a, nil) }
            else if a == value { (bodyEnd, projectionNode) = (b, nil) }
            else if let p = single(b) { (bodyEnd, projectionNode) = (a, p) }
            else if let p = single(a) { (bodyEnd, projectionNode) = (b, p) }
            else {
                throw AECVError.unsupported("ONNX \(add.described): neither input is the block input \"\(value)\" or one Conv/Gemm of it; only f(x) + x and f(x) + projection(x) are supported")
            }
            guard bodyEnd != value, let bodyFirst = users.first(where: { $0 != j && $0 != projectionNode }) else {
                throw AECVError.unsupported("ONNX \(add.described): a residual block needs at least one layer in its body")
            }
            let from = builder.shape
            var inner = NetworkBuilder(inputShape: from, field: builder.field)
            var body = Chain(inputShape: from)
            var innerRank = rank
            _ = try sequence(from: value, first: bodyFirst, until: bodyEnd, into: &body, builder: &inner, rank: &innerRank)
            if body.layers.isEmpty {
                throw AECVError.unsupported("ONNX \(add.described): the residual body holds only skipped nodes")
            }
            var tensors: [(suffix: String, dims: [Int], values: [Float])] = []
            for (k, layer) in body.layers.enumerated() {
                tensors += layer.tensors.map { ("body.\(k).\($0.suffix)", $0.dims, $0.values) }
            }
            let to = inner.shape
            if let p = projectionNode {
                guard from != to else {
                    throw AECVError.unsupported("ONNX \(nodes[p].described): a projection on a block that keeps the shape \(from) is not supported (the residual layer adds x itself)")
                }
                let context = ONNXImportContext(shape: from, rank: rank, constants: constants)
                let definition = LayerRegistry.definition(onnxOperator: nodes[p].opType)!
                let projection = try definition.importONNX(nodes[p], context)
                guard let expected = ResidualDefinition.projectionSpec(from: from, to: to) else {
                    throw AECVError.unsupported("ONNX \(add.described): the block maps \(from) to \(to), which no projection shortcut fits")
                }
                guard projection.spec == expected else {
                    throw AECVError.unsupported("ONNX \(nodes[p].described): the shortcut must be the projection \(expected.jsonValue().serialized()) for \(from) → \(to), got \(projection.spec.jsonValue().serialized())")
                }
                tensors += projection.tensors.map { ("projection.\($0.suffix)", $0.dims, $0.values) }
            } else if from != to {
                throw AECVError.unsupported("ONNX \(add.described): the block maps \(from) to \(to) but its shortcut is x itself")
            }
            let block = ONNXImportedLayer(spec: .residual(body.layers.map(\.spec)), tensors: tensors)
            try append(block, output: add.outputs[0], node: add, into: &chain, builder: &builder, rank: &rank)
            return add.outputs[0]
        }
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
