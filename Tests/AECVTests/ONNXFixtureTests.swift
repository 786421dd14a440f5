import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

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

    /// BatchNorm2d (running statistics carried), MaxPool, AvgPool (torch 1.13 writes it as
    /// Pad + AveragePool), an identity and a projected residual block, nearest and bilinear
    /// Resize; the 3 steps run BatchNorm in training mode on both sides.
    func testVisionLayersFromPyTorch() throws { try check("torch_vision_ae", latent: 16 * 2 * 2) }
    func testVisionLayersFromPyTorch2() throws { try check("torch2_vision_ae", latent: 16 * 2 * 2) }
    /// GlobalAveragePool + Flatten, BatchNorm1d, Reshape.
    func testPooledAutoencoderFromPyTorch() throws { try check("torch_pooled_ae", latent: 8) }
    func testPooledAutoencoderFromPyTorch2() throws { try check("torch2_pooled_ae", latent: 8) }

    /// The imported layers are the spec's own types (trainable as such), not just numbers that
    /// happen to agree: BatchNorm stays a batch_norm2d with PyTorch's momentum, the two
    /// residual blocks are residual layers (the second with its 1×1 projection's weights).
    func testImportedVisionSpecHoldsTheLayers() throws {
        let model = try Autoencoder.importONNX(path: Fixture.directory + "/onnx/torch2_vision_ae.onnx", overridesJSON: nil)
        let types = (model.spec.encoder ?? []).map(\.type)
        XCTAssertEqual(types, ["conv2d", "relu", "batch_norm2d", "max_pool2d", "residual", "avg_pool2d", "residual"])
        XCTAssertEqual((model.spec.decoder ?? []).map(\.type), ["upsample", "conv2d", "relu", "upsample", "conv2d", "elu",
                                                          "upsample", "conv2d", "sigmoid"])
        let json = model.spec.encoder![2].jsonValue().serialized()
        XCTAssertTrue(json.contains("\"momentum\":0.1"), json)
        let names = model.store.entries.map(\.name)
        XCTAssertTrue(names.contains("encoder.6.projection.weight") && names.contains("encoder.4.body.2.weight"), "\(names)")
    }
}
