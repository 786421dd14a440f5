import AECVKernels
import AECVNN

/// ONNX's protobuf messages (onnx/onnx.proto, IR version 8) written and read by hand: only the
/// fields libaecv produces or needs to understand. Field numbers are onnx.proto's:
///
///     ModelProto      ir_version 1, opset_import 8, producer_name 2, producer_version 3,
///                     graph 7, metadata_props 14
///     OperatorSetId   domain 1, version 2          StringStringEntry  key 1, value 2
///     GraphProto      node 1, name 2, initializer 5, input 11, output 12
///     NodeProto       input 1, output 2, name 3, op_type 4, attribute 5, domain 7
///     AttributeProto  name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20
///     TensorProto     dims 1, data_type 2, float_data 4, int32_data 5, int64_data 7, name 8,
///                     raw_data 9, double_data 10, data_location 14
///     ValueInfoProto  name 1, type 2;  TypeProto.tensor_type 1 {elem_type 1, shape 2};
///     TensorShapeProto dim 1 {dim_value 1, dim_param 2}
///
/// Fields the reader does not know are skipped (protobuf's forward compatibility); fields that
/// would change the meaning of what it read (external tensor data, subgraph attributes) are
/// refused as `.unsupported` by the importer, not silently ignored.
enum ONNXProto {
    /// Largest ONNX file read (the parameter limit in float32, plus room for the graph).
    static let maxFileBytes = SpecLimits.maxParameters * 4 + (64 << 20)
    static let maxNodes = 4096
    static let maxValuesPerTensor = SpecLimits.maxParameters

    // MARK: Writing

    static func encode(_ model: ONNXModel) -> [UInt8] {
        var w = ProtobufWriter()
        w.int(1, model.irVersion)
        w.string(2, model.producerName)
        if !model.producerVersion.isEmpty { w.string(3, model.producerVersion) }
        w.message(7) { encodeGraph(model.graph, &$0) }
        for o in model.opsets {
            w.message(8) { m in
                if !o.domain.isEmpty { m.string(1, o.domain) }
                m.int(2, o.version)
            }
        }
        for (key, value) in model.metadata {
            w.message(14) { m in m.string(1, key); m.string(2, value) }
        }
        return w.bytes
    }

    private static func encodeGraph(_ g: ONNXGraph, _ w: inout ProtobufWriter) {
        for n in g.nodes { w.message(1) { encodeNode(n, &$0) } }
        w.string(2, g.name)
        for t in g.initializers { w.message(5) { encodeTensor(t, &$0) } }
        for v in g.inputs { w.message(11) { encodeValueInfo(v, &$0) } }
        for v in g.outputs { w.message(12) { encodeValueInfo(v, &$0) } }
    }

    private static func encodeNode(_ n: ONNXNode, _ w: inout ProtobufWriter) {
        for i in n.inputs { w.string(1, i) }
        for o in n.outputs { w.string(2, o) }
        w.string(3, n.name)
        w.string(4, n.opType)
        for a in n.attributes { w.message(5) { encodeAttribute(a, &$0) } }
        if !n.domain.isEmpty { w.string(7, n.domain) }
    }

    /// AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7.
    private static func encodeAttribute(_ a: ONNXAttribute, _ w: inout ProtobufWriter) {
        w.string(1, a.name)
        switch a.value {
        case .float(let f): w.float(2, f); w.int(20, 1)
        case .int(let i): w.int(3, i); w.int(20, 2)
        case .string(let s): w.string(4, s); w.int(20, 3)
        case .tensor(let t): w.message(5) { encodeTensor(t, &$0) }; w.int(20, 4)
        case .floats(let fs): for f in fs { w.float(7, f) }; w.int(20, 6)
        case .ints(let xs): w.packedInts(8, xs); w.int(20, 7)
        }
    }

    private static func encodeTensor(_ t: ONNXTensor, _ w: inout ProtobufWriter) {
        w.packedInts(1, t.dims.map { Int64($0) })
        w.int(2, Int64(t.dataType))
        w.string(8, t.name)
        if t.dataType == ONNXTensor.float32 {
            w.rawFloats(9, t.floats)
        } else {
            w.packedInts(7, t.ints)
        }
    }

    private static func encodeValueInfo(_ v: ONNXValueInfo, _ w: inout ProtobufWriter) {
        w.string(1, v.name)
        w.message(2) { type in
            type.message(1) { tensor in
                tensor.int(1, Int64(v.elementType))
                tensor.message(2) { shape in
                    for d in v.dims {
                        shape.message(1) { dim in
                            switch d {
                            case .fixed(let n): dim.int(1, Int64(n))
                            case .symbolic(let s): dim.string(2, s)
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: Reading

    /// Decodes a ModelProto. Malformed bytes throw `.format`; nothing traps.
    static func decode(_ bytes: [UInt8], context: String = "ONNX") throws -> ONNXModel {
        var r = ProtobufReader(bytes, context: context)
        var model = ONNXModel()
        model.opsets = []
        model.producerName = ""
        var sawGraph = false
        while let (field, value) = try r.next() {
            switch field {
            case 1: model.irVersion = try r.int(value, "ir_version")
            case 2: model.producerName = r.string(try r.range(value, "producer_name"))
            case 3: model.producerVersion = r.string(try r.range(value, "producer_version"))
            case 7:
                model.graph = try decodeGraph(r.nested(try r.range(value, "graph"), "graph"))
                sawGraph = true
            case 8:
                var m = r.nested(try r.range(value, "opset_import"), "opset_import")
                var domain = "", version: Int64 = 0
                while let (f, v) = try m.next() {
                    if f == 1 { domain = m.string(try m.range(v, "domain")) }
                    if f == 2 { version = try m.int(v, "version") }
                }
                model.opsets.append((domain, version))
            case 14:
                var m = r.nested(try r.range(value, "metadata_props"), "metadata_props")
                var key = "", text = ""
                while let (f, v) = try m.next() {
                    if f == 1 { key = m.string(try m.range(v, "key")) }
                    if f == 2 { text = m.string(try m.range(v, "value")) }
                }
                model.metadata.append((key, text))
            default: break
            }
        }
        if !sawGraph { throw AECVError.format("\(context): the file holds no graph (not an ONNX model?)") }
        return model
    }

    private static func decodeGraph(_ reader: ProtobufReader) throws -> ONNXGraph {
        var r = reader
        var g = ONNXGraph()
        g.name = ""
        while let (field, value) = try r.next() {
            switch field {
            case 1:
                if g.nodes.count >= maxNodes { throw AECVError.format("\(r.context): more than \(maxNodes) nodes") }
                g.nodes.append(try decodeNode(r.nested(try r.range(value, "node"), "node \(g.nodes.count)")))
            case 2: g.name = r.string(try r.range(value, "name"))
            case 5:
                if g.initializers.count >= maxNodes { throw AECVError.format("\(r.context): more than \(maxNodes) initializers") }
                g.initializers.append(try decodeTensor(r.nested(try r.range(value, "initializer"), "initializer")))
            case 11: g.inputs.append(try decodeValueInfo(r.nested(try r.range(value, "input"), "input")))
            case 12: g.outputs.append(try decodeValueInfo(r.nested(try r.range(value, "output"), "output")))
            default: break
            }
            if g.inputs.count + g.outputs.count > maxNodes {
                throw AECVError.format("\(r.context): more than \(maxNodes) graph inputs and outputs")
            }
        }
        return g
    }

    private static func decodeNode(_ reader: ProtobufReader) throws -> ONNXNode {
        var r = reader
        var n = ONNXNode(name: "", opType: "", inputs: [], outputs: [])
        while let (field, value) = try r.next() {
            switch field {
            case 1: n.inputs.append(r.string(try r.range(value, "input")))
            case 2: n.outputs.append(r.string(try r.range(value, "output")))
            case 3: n.name = r.string(try r.range(value, "name"))
            case 4: n.opType = r.string(try r.range(value, "op_type"))
            case 5:
                if let a = try decodeAttribute(r.nested(try r.range(value, "attribute"), "attribute")) {
                    n.attributes.append(a)
                }
            case 7: n.domain = r.string(try r.range(value, "domain"))
            default: break
            }
            if n.inputs.count + n.outputs.count + n.attributes.count > 1024 {
                throw AECVError.format("\(r.context): more than 1024 inputs, outputs and attributes")
            }
        }
        return n
    }

    /// An attribute of a type libaecv reads, or nil for others (graphs, strings lists), which
    /// no supported operator uses.
    private static func decodeAttribute(_ reader: ProtobufReader) throws -> ONNXAttribute? {
        var r = reader
        var name = "", type: Int64 = 0
        var f: Float?, i: Int64?, s: String?, t: ONNXTensor?
        var floats: [Float] = [], ints: [Int64] = []
        while let (field, value) = try r.next() {
            switch field {
            case 1: name = r.string(try r.range(value, "name"))
            case 2:
                guard case .fixed32(let bits) = value else { throw AECVError.format("\(r.context): f is not a float") }
                f = Float(bitPattern: bits)
            case 3: i = try r.int(value, "i")
            case 4: s = r.string(try r.range(value, "s"))
            case 5: t = try decodeTensor(r.nested(try r.range(value, "t"), "tensor"))
            case 7: try r.appendFloats(value, to: &floats, limit: 1 << 20, "floats")
            case 8: try r.appendInts(value, to: &ints, limit: 1 << 20, "ints")
            case 20: type = try r.int(value, "type")
            default: break
            }
        }
        switch type {
        case 1: return f.map { ONNXAttribute(name, .float($0)) }
        case 2: return i.map { ONNXAttribute(name, .int($0)) }
        case 3: return s.map { ONNXAttribute(name, .string($0)) }
        case 4: return t.map { ONNXAttribute(name, .tensor($0)) }
        case 6: return ONNXAttribute(name, .floats(floats))
        case 7: return ONNXAttribute(name, .ints(ints))
        default: return nil
        }
    }

    /// A float32 / float64 / int64 / int32 tensor (float64 and int32 are converted); others and
    /// external data are refused.
    private static func decodeTensor(_ reader: ProtobufReader) throws -> ONNXTensor {
        var r = reader
        var dims: [Int64] = [], dataType: Int64 = 0, name = ""
        var floats: [Float] = [], ints: [Int64] = [], raw: Range<Int>?
        var doubles: [Float] = []
        while let (field, value) = try r.next() {
            switch field {
            case 1: try r.appendInts(value, to: &dims, limit: 8, "dims")
            case 2: dataType = try r.int(value, "data_type")
            case 4: try r.appendFloats(value, to: &floats, limit: maxValuesPerTensor, "float_data")
            case 5, 7: try r.appendInts(value, to: &ints, limit: maxValuesPerTensor, "int_data")
            case 8: name = r.string(try r.range(value, "name"))
            case 9: raw = try r.range(value, "raw_data")
            case 10:  // double_data: packed or one fixed64 per field
                if case .fixed64(let bits) = value {
                    doubles.append(Float(Double(bitPattern: bits)))
                } else {
                    let range = try r.range(value, "double_data")
                    guard range.count % 8 == 0 else { throw AECVError.format("\(r.context): double_data is not whole doubles") }
                    if doubles.count + range.count / 8 > maxValuesPerTensor {
                        throw AECVError.format("\(r.context): double_data exceeds \(maxValuesPerTensor) values")
                    }
                    doubles.append(contentsOf: r.littleEndianDoubles(range))
                }
            case 14:
                if try r.int(value, "data_location") != 0 {
                    throw AECVError.unsupported("ONNX tensor \"\(name)\": external data is not supported (save the model with its weights inside)")
                }
            default: break
            }
        }
        let what = "ONNX tensor \"\(name)\""
        guard dims.allSatisfy({ $0 >= 0 && $0 <= Int64(SpecLimits.maxParameters) }) else {
            throw AECVError.format("\(what): invalid dims \(dims)")
        }
        var tensor = ONNXTensor(name: name, dims: dims.map { Int($0) }, floats: [])
        guard let count = tensor.elementCount, count <= maxValuesPerTensor else {
            throw AECVError.format("\(what): dims \(dims) exceed the limit of \(maxValuesPerTensor) values")
        }
        switch dataType {
        case 1:  // FLOAT
            if let raw {
                guard raw.count == count * 4 else {
                    throw AECVError.format("\(what): raw_data holds \(raw.count) bytes, dims \(dims) need \(count * 4)")
                }
                floats = r.littleEndianFloats(raw)
            }
            guard floats.count == count else { throw AECVError.format("\(what): \(floats.count) values for dims \(dims)") }
            tensor.floats = floats
        case 11:  // DOUBLE
            if let raw {
                guard raw.count == count * 8 else {
                    throw AECVError.format("\(what): raw_data holds \(raw.count) bytes, dims \(dims) need \(count * 8)")
                }
                doubles = r.littleEndianDoubles(raw)
            }
            guard doubles.count == count else { throw AECVError.format("\(what): \(doubles.count) values for dims \(dims)") }
            tensor.floats = doubles
        case 6, 7:  // INT32, INT64
            tensor.dataType = ONNXTensor.int64
            if let raw {
                let width = dataType == 7 ? 8 : 4
                guard raw.count == count * width else {
                    throw AECVError.format("\(what): raw_data holds \(raw.count) bytes, dims \(dims) need \(count * width)")
                }
                ints = []
                var k = raw.lowerBound
                for _ in 0..<count {
                    var bits: UInt64 = 0
                    for b in 0..<width { bits |= UInt64(r.buffer[k + b]) << (8 * UInt64(b)) }
                    ints.append(width == 8 ? Int64(bitPattern: bits) : Int64(Int32(truncatingIfNeeded: bits)))
                    k += width
                }
            }
            guard ints.count == count else { throw AECVError.format("\(what): \(ints.count) values for dims \(dims)") }
            tensor.ints = ints
        default:
            throw AECVError.unsupported("\(what): data type \(dataType) is not supported (float32, float64, int32 and int64 are)")
        }
        return tensor
    }

    private static func decodeValueInfo(_ reader: ProtobufReader) throws -> ONNXValueInfo {
        var r = reader
        var info = ONNXValueInfo(name: "", dims: [])
        while let (field, value) = try r.next() {
            if field == 1 { info.name = r.string(try r.range(value, "name")) }
            guard field == 2 else { continue }
            var type = r.nested(try r.range(value, "type"), "type")
            while let (tf, tv) = try type.next() {
                guard tf == 1 else { continue }
                var tensor = type.nested(try type.range(tv, "tensor_type"), "tensor_type")
                while let (f, v) = try tensor.next() {
                    if f == 1 { info.elementType = Int32(truncatingIfNeeded: try tensor.int(v, "elem_type")) }
                    guard f == 2 else { continue }
                    var shape = tensor.nested(try tensor.range(v, "shape"), "shape")
                    while let (sf, sv) = try shape.next() {
                        guard sf == 1 else { continue }
                        if info.dims.count >= 8 { throw AECVError.format("\(shape.context): more than 8 dimensions") }
                        var dim = shape.nested(try shape.range(sv, "dim"), "dim")
                        var d = ONNXValueInfo.Dimension.symbolic("")
                        while let (df, dv) = try dim.next() {
                            if df == 1 {
                                let n = try dim.int(dv, "dim_value")
                                guard n >= 0, n <= Int64(SpecLimits.maxInputSize) else {
                                    throw AECVError.format("\(dim.context): dimension \(n) out of range")
                                }
                                d = .fixed(Int(n))
                            }
                            if df == 2 { d = .symbolic(dim.string(try dim.range(dv, "dim_param"))) }
                        }
                        info.dims.append(d)
                    }
                }
            }
        }
        return info
    }
}
