import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV
#if canImport(Glibc)
import Glibc
#endif

/// Autoencoder.exportSafeTensors / importSafeTensors: PyTorch state_dict names for every preset,
/// exact round trips, all-or-nothing imports, optimizer reset, and PyTorch's own weights
/// (the golden fixtures' "param.*" tensors) giving PyTorch's outputs.
final class SafeTensorsImportTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        var template = Array("/tmp/aecv-safetensors-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    override func tearDown() {
        _ = system("rm -rf '\(directory)'")
    }

    /// The names documented in docs/model-format.md, for the default widths.
    func testStateDictNamesOfEveryPreset() throws {
        func names(_ json: String) throws -> [String] {
            try Autoencoder(specJSON: json).exportSafeTensors().tensors.map(\.name)
        }
        func wb(_ layers: String...) -> [String] { layers.flatMap { ["\($0).weight", "\($0).bias"] } }
        let conv = wb("encoder.0", "encoder.2", "encoder.4", "decoder.0", "decoder.2", "decoder.4")
        let dense = wb("encoder.0", "encoder.2", "decoder.0", "decoder.2")
        XCTAssertEqual(try names(#"{"preset": "conv", "input": [1, 28, 28]}"#), conv)
        XCTAssertEqual(try names(#"{"preset": "denoising", "input": [1, 28, 28]}"#), conv)
        XCTAssertEqual(try names(#"{"preset": "dense", "input": [1, 28, 28]}"#), dense)
        XCTAssertEqual(try names(#"{"preset": "sparse", "input": [1, 28, 28]}"#), dense)
        XCTAssertEqual(try names(#"{"preset": "denoising", "base": "dense", "input": [1, 28, 28]}"#), dense)
        XCTAssertEqual(try names(#"{"preset": "dense", "input": [1, 28, 28], "hidden": [512, 256]}"#),
                       wb("encoder.0", "encoder.2", "encoder.4", "decoder.0", "decoder.2", "decoder.4"))
        XCTAssertEqual(Set(try names(#"{"preset": "vae", "input": [1, 28, 28]}"#)),
                       Set(wb("fc1", "fc_mu", "fc_logvar", "fc3", "fc4")))
        XCTAssertEqual(Set(try names(#"{"preset": "vae", "input": [1, 28, 28], "hidden": [512, 256]}"#)),
                       Set(wb("encoder.0", "encoder.2", "fc_mu", "fc_logvar", "decoder.0", "decoder.2", "decoder.4")))
        XCTAssertEqual(Set(try names(#"{"preset": "conv_vae", "input": [1, 28, 28]}"#)),
                       Set(wb("encoder.0", "encoder.2", "encoder.4", "fc_mu", "fc_logvar", "decoder_input",
                              "decoder.0", "decoder.2", "decoder.4")))
        let conv28 = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 28, 28]}"#).exportSafeTensors()
        XCTAssertEqual(conv28.tensor(named: "decoder.0.weight")?.shape, [64, 32, 3, 3])  // (in, out, k, k)
        XCTAssertEqual(conv28.metadata["format"], "pt")
    }

    func testRoundTripIsExactForEveryPresetAndResetsTheOptimizer() throws {
        let presets = ["conv", "dense", "sparse", "denoising", "vae", "conv_vae"]
        for preset in presets {
            func spec(_ seed: Int) -> String { "{\"preset\": \"\(preset)\", \"input\": [1, 8, 8], \"seed\": \(seed)}" }
            let a = try Autoencoder(specJSON: spec(1))
            let b = try Autoencoder(specJSON: spec(2))
            let fresh = try Autoencoder(specJSON: spec(2))
            var random = RandomSource(seed: 9)
            let x = (0..<(4 * 64)).map { _ in random.uniform() }
            for _ in 0..<2 { try a.trainStep(inputs: x); try b.trainStep(inputs: x) }
            let path = directory + "/\(preset).safetensors"
            try a.exportSafeTensors(path: path)
            try b.importSafeTensors(path: path)
            XCTAssertEqual(try b.reconstruct(x), try a.reconstruct(x), preset)
            XCTAssertEqual(b.step, 0, preset)
            XCTAssertEqual(try SafeTensors.read(path: path).tensors, b.exportSafeTensors().tensors, preset)
            // Optimizer state reset: b continues exactly like a fresh model that imported.
            try fresh.importSafeTensors(path: path)
            b.random = fresh.random   // (denoising and VAE steps draw noise)
            XCTAssertEqual(try b.trainStep(inputs: x), try fresh.trainStep(inputs: x), preset)
            XCTAssertEqual(try b.reconstruct(x), try fresh.reconstruct(x), preset)
        }
    }

    /// PyTorch's initial weights of the golden fixtures, imported by their state_dict names,
    /// reproduce PyTorch's forward outputs.
    func testPyTorchWeightsGivePyTorchOutputs() throws {
        for name in ["conv_mse", "dense_mse", "vae"] {
            let fixture = try Fixture(name)
            let model = try Autoencoder(spec: fixture.spec())
            let weights = fixture.file.tensors.filter { $0.name.hasPrefix("param.") }.map {
                SafeTensors.Tensor(name: String($0.name.dropFirst(6)), shape: $0.shape, values: $0.values)
            }
            let path = directory + "/\(name).safetensors"
            try SafeTensors(tensors: weights).write(to: path)
            try model.importSafeTensors(path: path)
            let input = fixture.values("input")
            if name == "vae" {
                XCTAssertLessThanOrEqual(maxAbsoluteDifference(try model.encode(input), fixture.values("code")),
                                         Tolerance.goldenAbsolute, name)
            } else {
                XCTAssertLessThanOrEqual(maxAbsoluteDifference(try model.reconstruct(input), fixture.values("output")),
                                         Tolerance.goldenAbsolute, name)
            }
        }
    }

    func testRefusedImportsChangeNothing() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 4, 4], "hidden": [6], "latent": 3}"#)
        var random = RandomSource(seed: 3)
        let x = (0..<32).map { _ in random.uniform() }
        try m.trainStep(inputs: x)
        let before = ModelFile(model: m).encode()
        let good = m.exportSafeTensors()

        func refused(_ file: SafeTensors, _ status: Int32, mentioning word: String,
                     line: UInt = #line) {
            XCTAssertThrowsError(try m.importSafeTensors(file), line: line) { error in
                XCTAssertEqual((error as? AECVError)?.statusCode, status, "\(error)", line: line)
                XCTAssertTrue("\(error)".contains(word), "\(error)", line: line)
            }
            XCTAssertEqual(ModelFile(model: m).encode(), before, "model changed", line: line)
        }
        var extra = good
        extra.tensors.append(.init(name: "encoder.9.weight", shape: [1], values: [0]))
        refused(extra, 2, mentioning: "encoder.9.weight")
        var missing = good
        missing.tensors.removeLast()
        refused(missing, 2, mentioning: "decoder.2.bias")
        var reshaped = good
        reshaped.tensors[0].shape = [16, 6]   // same element count, transposed
        refused(reshaped, 2, mentioning: "[16, 6]")
        var nan = good
        nan.tensors[3].values[1] = .nan
        refused(nan, 4, mentioning: "encoder.2.bias")
        var infinite = good
        infinite.tensors[0].values[0] = -.infinity
        refused(infinite, 4, mentioning: "encoder.0.weight")

        // files: missing (IO), not safetensors (FORMAT), too large for any valid import (FORMAT)
        XCTAssertThrowsError(try m.importSafeTensors(path: directory + "/missing.safetensors")) {
            XCTAssertEqual(($0 as? AECVError)?.statusCode, 5)
        }
        let junk = directory + "/junk.safetensors"
        try FileIO.writeAtomically(path: junk, bytes: Array("not a safetensors file".utf8))
        XCTAssertThrowsError(try m.importSafeTensors(path: junk)) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 6) }
        XCTAssertEqual(ModelFile(model: m).encode(), before)
    }

    func testOtherDTypesAreConverted() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 2, 2], "hidden": [3], "latent": 2}"#)
        let good = m.exportSafeTensors()
        // Build a file by hand with every tensor stored as F64 (values exactly representable).
        var header: [String] = []
        var data: [UInt8] = []
        var expected: [Float] = []
        for (k, t) in good.tensors.enumerated() {
            let values = t.values.indices.map { Double(k * 10 + $0) / 4 }
            expected += values.map(Float.init)
            header.append("\"\(t.name)\":{\"dtype\":\"F64\",\"shape\":\(t.shape),\"data_offsets\":[\(data.count),\(data.count + 8 * values.count)]}")
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
        }
        var json = Array("{\(header.joined(separator: ","))}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
        try m.importSafeTensors(SafeTensors.decode(bytes: bytes + json + data))
        XCTAssertEqual(m.exportSafeTensors().tensors.flatMap(\.values), expected)
    }
}
