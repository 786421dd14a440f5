import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The protobuf writer/reader and the ONNX message layer, checked against bytes worked out by
/// hand from the protobuf encoding rules; export → decode → import round trips.
final class ONNXTests: XCTestCase {
    func testVarintAndFieldEncodingMatchTheWireFormat() throws {
        var w = ProtobufWriter()
        w.int(1, 150)          // the encoding guide's example: 08 96 01
        w.int(2, -1)           // negative int64: ten bytes of two's complement
        w.string(3, "hi")      // 1a 02 68 69
        w.float(4, 1)          // 25 00 00 80 3f
        w.packedInts(5, [3, 270])   // 2a 03 03 8e 02
        XCTAssertEqual(w.bytes, [0x08, 0x96, 0x01,
                                 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
                                 0x1A, 0x02, 0x68, 0x69,
                                 0x25, 0x00, 0x00, 0x80, 0x3F,
                                 0x2A, 0x03, 0x03, 0x8E, 0x02])
        var r = ProtobufReader(w.bytes, context: "test")
        var fields: [Int] = []
        var ints: [Int64] = []
        while let (f, v) = try r.next() {
            fields.append(f)
            switch f {
            case 1, 2: ints.append(try r.int(v, "i"))
            case 3: XCTAssertEqual(r.string(try r.range(v, "s")), "hi")
            case 4: guard case .fixed32(let bits) = v else { return XCTFail("not fixed32") }; XCTAssertEqual(Float(bitPattern: bits), 1)
            case 5: try r.appendInts(v, to: &ints, limit: 10, "packed")
            default: XCTFail("field \(f)")
            }
        }
        XCTAssertEqual(fields, [1, 2, 3, 4, 5])
        XCTAssertEqual(ints, [150, -1, 3, 270])
    }

    func testMalformedProtobufIsAFormatErrorNeverATrap() {
        let cases: [[UInt8]] = [
            [0x08],                    // truncated varint
            [0x0A, 0x05, 0x01],        // length past the end
            [0x0B],                    // wire type 3 (groups)
            [0x00, 0x01],              // field number 0
            [0x08] + Array(repeating: 0xFF, count: 11),   // varint longer than 10 bytes
            [0x3A, 0x02, 0x0A, 0x7F],  // graph whose node length runs past its range
        ]
        for bytes in cases {
            XCTAssertThrowsError(try ONNXProto.decode(bytes), "\(bytes)") {
                guard case .format? = $0 as? AECVError else { return XCTFail("\(bytes): \($0)") }
            }
        }
    }

    private func sampleModel() -> ONNXModel {
        var g = ONNXGraphBuilder()
        g.input("input", shape: [1, 4, 4])
        let w = g.initializer("c.weight", dims: [2, 1, 3, 3], values: (0..<18).map { Float($0) / 7 })
        let y = g.node("Conv", ["input", w], attributes: ONNXConvAttributes.write(kernel: 3, stride: 2, padding: 1)
                       + [ONNXAttribute("alpha", .float(0.25)), ONNXAttribute("mode", .string("x")),
                          ONNXAttribute("scales", .floats([1.5, -2]))],
                       name: "c", shape: [2, 2, 2])
        let r = g.reshaped(y, to: [8], name: "flat")
        g.output(r, as: "code")
        var m = ONNXModel()
        m.graph = g.graph
        m.metadata = [("k", "v"), ("aecv.spec", "{}")]
        return m
    }

    func testModelRoundTripsThroughTheWireFormat() throws {
        let model = sampleModel()
        let bytes = ONNXProto.encode(model)
        let decoded = try ONNXProto.decode(bytes)
        XCTAssertEqual(decoded, model)
        XCTAssertEqual(decoded.graph.initializers[0].floats, (0..<18).map { Float($0) / 7 })
        // Every strict prefix is malformed (or lacks a graph): never a trap, always .format.
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            XCTAssertThrowsError(try ONNXProto.decode(Array(bytes[..<cut])))
        }
    }

    private func makeModel(_ json: String) throws -> Autoencoder { try Autoencoder(specJSON: json) }

    private func temporaryPath(_ name: String) -> String { "/tmp/aecv-onnx-\(getpid())-\(name).onnx" }

    func testExportImportRoundTripReproducesTheOutputs() throws {
        let specs = [
            #"{"preset":"custom","input":[1,12,12],"seed":3,"encoder":[{"type":"conv2d","out":4,"kernel":3,"stride":2,"padding":1},{"type":"leaky_relu","slope":0.1},{"type":"flatten"},{"type":"dense","out":6},{"type":"tanh"}],"decoder":[{"type":"dense","out":144},{"type":"relu"},{"type":"unflatten","shape":[4,6,6]},{"type":"conv_transpose2d","out":1,"kernel":3,"stride":2,"padding":1,"output_padding":1},{"type":"sigmoid"}]}"#,
            #"{"preset":"conv","input":[1,28,28],"seed":1}"#,
            #"{"preset":"dense","input":[1,28,28],"seed":2,"hidden":[32],"latent":8}"#,
            // A bias-free Conv (exported without input B) must import bias-free: same parameter count.
            #"{"preset":"custom","input":[2,8,8],"seed":4,"encoder":[{"type":"conv2d","out":3,"kernel":3,"padding":1,"bias":false},{"type":"batch_norm2d"},{"type":"relu"}],"decoder":[{"type":"conv2d","out":2,"kernel":3,"padding":1},{"type":"sigmoid"}]}"#,
        ]
        var random = RandomSource(seed: 9)
        for json in specs {
            let model = try makeModel(json)
            let x = (0..<(3 * model.inputSize)).map { _ in random.uniform() }
            let path = temporaryPath("roundtrip")
            defer { unlink(path) }
            try model.exportONNX(path: path, part: .autoencoder)
            let imported = try Autoencoder.importONNX(path: path, overridesJSON: nil)
            XCTAssertEqual(imported.latentSize, model.latentSize, json)
            XCTAssertEqual(imported.parameterCount, model.parameterCount, json)
            XCTAssertEqual(imported.spec.jsonString().contains(#""bias":false"#), json.contains(#""bias":false"#), json)
            XCTAssertLessThanOrEqual(maxAbsoluteDifference(try imported.reconstruct(x), try model.reconstruct(x)), 1e-6, json)
            XCTAssertLessThanOrEqual(maxAbsoluteDifference(try imported.encode(x), try model.encode(x)), 1e-6, json)
        }
    }

    func testVAEEncoderHasMuAndLogvarAndMetadata() throws {
        let model = try makeModel(#"{"preset":"vae","input":[1,8,8],"hidden":[16],"latent":3}"#)
        let onnx = try model.onnxModel(part: .encoder)
        XCTAssertEqual(onnx.graph.outputs.map(\.name), ["mu", "logvar"])
        XCTAssertEqual(onnx.graph.outputs[0].dims, [.symbolic("batch"), .fixed(3)])
        XCTAssertEqual(onnx.opsets.first?.version, 17)
        XCTAssertEqual(onnx.metadata.first { $0.key == "aecv.spec" }?.value, model.specJSON)
        XCTAssertEqual(onnx.metadata.first { $0.key == "aecv.version" }?.value, LibraryVersion.string)
        let decoder = try model.onnxModel(part: .decoder)
        XCTAssertEqual(decoder.graph.inputs.map(\.name), ["code"])
        XCTAssertEqual(decoder.graph.outputs[0].dims, [.symbolic("batch"), .fixed(1), .fixed(8), .fixed(8)])
    }

    func testUnsupportedOperatorNamesTheOperatorAndTheNode() throws {
        var model = sampleModel()
        model.graph.nodes[0].opType = "Softplus"
        model.graph.nodes[0].name = "/enc/Softplus_3"
        XCTAssertThrowsError(try Autoencoder.importONNX(bytes: ONNXProto.encode(model), overridesJSON: nil)) {
            guard case .unsupported(let m)? = $0 as? AECVError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.contains("Softplus") && m.contains("/enc/Softplus_3"), m)
        }
    }

    /// A cycle of nodes that add no layer (the fuzzer's: a Dropout reading its own output) and a
    /// value written twice are format errors naming the node, not an endless walk.
    func testCyclesAndValuesWrittenTwiceAreRefused() throws {
        func refusal(_ edit: (inout ONNXGraph) -> Void) -> String {
            let model = try! makeModel(#"{"preset":"dense","input":[1,4,4],"hidden":[8],"latent":4}"#)
            var onnx = try! model.onnxModel(part: .autoencoder)
            edit(&onnx.graph)
            do { _ = try Autoencoder.importONNX(bytes: ONNXProto.encode(onnx), overridesJSON: nil); return "" }
            catch AECVError.format(let m) { return m } catch { return "\(error)" }
        }
        let loop = refusal { g in
            g.nodes.insert(ONNXNode(name: "/spin", opType: "Dropout", inputs: ["loop"], outputs: ["loop"]), at: 0)
        }
        XCTAssertTrue(loop.contains("/spin") && loop.contains("topological order"), loop)
        let twice = refusal { g in
            let first = g.nodes[0].outputs[0]
            g.nodes[1].outputs[0] = first
        }
        XCTAssertTrue(twice.contains("already defines"), twice)
    }

    /// Reshape targets whose product overflows Int (the fuzzer's 2^62 · 4) are refused, not a
    /// trap in the multiply.
    func testReshapeToAnOverflowingShapeIsRefused() throws {
        for target: [Int64] in [[1, 1 << 62, 4], [-1, 1 << 62, 4], [1, 3, 1 << 40, 1 << 40]] {
            var g = ONNXGraphBuilder()
            g.input("input", shape: [1, 4, 4])
            let shape = g.initializer("shape", ints: target)
            let r = g.node("Reshape", ["input", shape], name: "/big", shape: [16])
            g.output(r, as: "reconstruction")
            var model = ONNXModel()
            model.graph = g.graph
            XCTAssertThrowsError(try Autoencoder.importONNX(bytes: ONNXProto.encode(model), overridesJSON: nil)) {
                guard case .unsupported(let m)? = $0 as? AECVError else { return XCTFail("\($0)") }
                XCTAssertTrue(m.contains("/big") && m.contains("does not fit"), m)
            }
        }
    }

    func testNonFiniteWeightIsRefusedNamingTheNode() throws {
        let model = try makeModel(#"{"preset":"dense","input":[1,4,4],"hidden":[8],"latent":4}"#)
        var onnx = try model.onnxModel(part: .autoencoder)
        let k = onnx.graph.initializers.firstIndex { $0.name == "decoder.0.weight" }!
        onnx.graph.initializers[k].floats[3] = .nan
        XCTAssertThrowsError(try Autoencoder.importONNX(bytes: ONNXProto.encode(onnx), overridesJSON: nil)) {
            guard case .nonFinite(let m)? = $0 as? AECVError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.contains("decoder.0/Gemm") && m.contains("index 3"), m)
        }
    }

    func testCodeOverrideSplitsAtTheNamedValue() throws {
        let model = try makeModel(#"{"preset":"dense","input":[1,4,4],"hidden":[8],"latent":4}"#)
        let path = temporaryPath("split")
        defer { unlink(path) }
        try model.exportONNX(path: path, part: .autoencoder)
        let graph = try ONNXProto.decode(FileIO.readAll(path: path, maxBytes: 1 << 24)).graph
        let firstRelu = graph.nodes.first { $0.opType == "Relu" }!.outputs[0]
        let imported = try Autoencoder.importONNX(path: path, overridesJSON: #"{"code":"\#(firstRelu)","loss":"bce"}"#)
        XCTAssertEqual(imported.latentSize, 8)
        XCTAssertEqual(imported.spec.loss, .bce)
        XCTAssertThrowsError(try Autoencoder.importONNX(path: path, overridesJSON: #"{"code":"nope"}"#))
    }

    /// MatMul by (in, out) + Add of a bias (PyTorch's Linear on 3-D inputs) imports as Dense,
    /// checked against the formula y = σ(W₂ᵀ relu(W₁ᵀ x + b₁) + b₂) computed here.
    func testMatMulAddImportsAsDense() throws {
        var g = ONNXGraphBuilder()
        g.input("x", shape: [4])
        let w1 = (0..<12).map { Float($0 % 5) / 4 - 0.5 }, b1: [Float] = [0.1, -0.2, 0.3]
        let w2 = (0..<12).map { Float($0 % 7) / 6 - 0.5 }, b2: [Float] = [0, 0.5, -0.5, 1]
        var v = g.node("MatMul", ["x", g.initializer("w1", dims: [4, 3], values: w1)], name: "/encoder/0", shape: [3])
        v = g.node("Add", [v, g.initializer("b1", dims: [3], values: b1)], name: "/encoder/0", shape: [3])
        v = g.node("Relu", [v], name: "/encoder/1", shape: [3])
        v = g.node("MatMul", [v, g.initializer("w2", dims: [3, 4], values: w2)], name: "/decoder/0", shape: [4])
        v = g.node("Add", [g.initializer("b2", dims: [4], values: b2), v].reversed(), name: "/decoder/0", shape: [4])
        v = g.node("Sigmoid", [v], name: "/decoder/1", shape: [4])
        g.output(v, as: "y")
        var model = ONNXModel()
        model.graph = g.graph
        let imported = try Autoencoder.importONNX(bytes: ONNXProto.encode(model), overridesJSON: nil)
        XCTAssertEqual(imported.latentSize, 3)
        let x: [Float] = [0.2, -1, 0.5, 2]
        var h = [Float](repeating: 0, count: 3)
        for o in 0..<3 { h[o] = max(0, b1[o] + (0..<4).reduce(0) { $0 + x[$1] * w1[$1 * 3 + o] }) }
        var y = [Float](repeating: 0, count: 4)
        for o in 0..<4 { y[o] = 1 / (1 + exp(-(b2[o] + (0..<3).reduce(0) { $0 + h[$1] * w2[$1 * 4 + o] }))) }
        XCTAssertLessThanOrEqual(maxAbsoluteDifference(try imported.reconstruct(x), y), 1e-6)
    }
}
