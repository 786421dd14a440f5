import XCTest
@testable import AECV

/// PyTorch autoencoders exported with torch.onnx.export (tools/make_onnx_fixtures.py; torch_* by
/// Debian's torch 1.13, torch2_* by PyTorch 2.13)
/// import as custom models that reproduce PyTorch's outputs, and 3 Adam steps after the import
/// match PyTorch's 3 steps on the same weights.
final class ONNXFixtureTests: XCTestCase {
    private func floats(_ path: String) throws -> [Float] {
        let bytes = try FileIO.readAll(path: path, maxBytes: 1 << 24)
        return ProtobufReader(bytes, context: path).littleEndianFloats(0..<(bytes.count / 4 * 4))
    }

    private func check(_ name: String, latent: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let base = Fixture.directory + "/onnx/" + name
        let model = try Autoencoder.importONNX(
            path: base + ".onnx", overridesJSON: #"{"optimizer":{"name":"adam","learning_rate":0.001}}"#)
        XCTAssertEqual(model.latentSize, latent, file: file, line: line)
        let x = try floats(base + ".input.f32")
        let expected = try floats(base + ".expected.f32")
        XCTAssertLessThanOrEqual(maxAbsoluteDifference(try model.reconstruct(x), expected), Tolerance.goldenAbsolute,
                                 "\(name): reconstruction vs PyTorch", file: file, line: line)
        for _ in 0..<3 { _ = try model.trainStep(inputs: x) }
        let after = try floats(base + ".after3.f32")
        XCTAssertLessThanOrEqual(maxAbsoluteDifference(try model.reconstruct(x), after), Tolerance.goldenParameterAbsolute * 2,
                                 "\(name): after 3 Adam steps vs PyTorch", file: file, line: line)
    }

    func testConvAutoencoderFromPyTorch() throws { try check("torch_conv_ae", latent: 16 * 4 * 4) }
    func testDenseAutoencoderFromPyTorch() throws { try check("torch_dense_ae", latent: 8) }
    func testConvAutoencoderFromPyTorch2() throws { try check("torch2_conv_ae", latent: 16 * 4 * 4) }
    func testDenseAutoencoderFromPyTorch2() throws { try check("torch2_dense_ae", latent: 8) }
}
