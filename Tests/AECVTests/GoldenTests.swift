import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Golden values from PyTorch (tools/make_golden.py): the same weights and inputs must give the
/// same outputs, loss, gradients and parameters after 3 Adam and 3 SGD steps.
final class GoldenTests: XCTestCase {
    private func model(_ fixture: Fixture, optimizer: String? = nil) throws -> Autoencoder {
        let model = try Autoencoder(spec: fixture.spec(optimizer: optimizer))
        try model.setParameters(fixture.tensors(prefix: "param."))
        return model
    }

    private func assertParameters(_ model: Autoencoder, _ fixture: Fixture, prefix: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        let expected = Dictionary(uniqueKeysWithValues: fixture.tensors(prefix: prefix).map { ($0.name, $0.tensor) })
        let actual = model.parameters()
        XCTAssertEqual(actual.count, expected.count, "\(fixture.name): tensor count", file: file, line: line)
        for (name, tensor) in actual {
            guard let want = expected[name] else { XCTFail("\(fixture.name): \(prefix)\(name) missing", file: file, line: line); continue }
            XCTAssertEqual(tensor.shape, want.shape, "\(name) shape", file: file, line: line)
            XCTAssertLessThan(maxAbsoluteDifference(tensor.values, want.values), Tolerance.goldenParameterAbsolute,
                              "\(fixture.name): \(prefix)\(name)", file: file, line: line)
        }
    }

    /// Gradients of the first forward/backward, per parameter tensor.
    private func assertGradients(_ model: Autoencoder, _ fixture: Fixture, epsilon: [Float]? = nil,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let input = fixture.values("input")
        let batch = fixture.shape("input")[0]
        model.store.zeroGradients()
        let loss: Float = input.withUnsafeBufferPointer { x in
            if let eps = epsilon, let vae = model.network as? VariationalAutoencoder {
                return vaeLossAndGradients(vae, input, eps, batch: batch)
            }
            return model.network.lossAndGradients(inputs: x.baseAddress!, targets: x.baseAddress!, batch: batch,
                                                  normalization: batch, noise: StepNoise(seed: 0, firstExample: 0))
        }
        XCTAssertEqual(loss, fixture.values("loss")[0], accuracy: 1e-5 * max(1, abs(loss)), "\(fixture.name): loss", file: file, line: line)
        for e in model.store.entries {
            let got = Array(UnsafeBufferPointer(start: model.store.gradients + e.offset, count: e.count))
            XCTAssertLessThan(maxRelativeDifference(got, fixture.values("grad." + e.name)), Tolerance.goldenGradientRelative,
                              "\(fixture.name): grad.\(e.name)", file: file, line: line)
        }
    }

    /// The VAE's training computation with PyTorch's ε; both given (N, features), as in the fixture.
    private func vaeLossAndGradients(_ vae: VariationalAutoencoder, _ input: [Float], _ eps: [Float], batch: Int) -> Float {
        let x = batchMinor(input, batch: batch), e = batchMinor(eps, batch: batch)
        return vae.lossAndGradients(batchMinorInputs: x, targets: x, batch: batch, epsilon: e)
    }

    private func checkDeterministic(_ name: String) throws {
        let fixture = try Fixture(name)
        let input = fixture.values("input")
        let m = try model(fixture)
        XCTAssertLessThan(maxAbsoluteDifference(try m.reconstruct(input), fixture.values("output")), Tolerance.goldenAbsolute, "\(name): output")
        XCTAssertLessThan(maxAbsoluteDifference(try m.encode(input), fixture.values("code")), Tolerance.goldenAbsolute, "\(name): code")
        XCTAssertEqual(try m.evaluate(inputs: input), fixture.values("loss")[0], accuracy: 1e-6, "\(name): loss")
        try assertGradients(m, fixture)

        for (optimizer, prefix) in [("{\"name\": \"adam\"}", "adam3."),
                                    ("{\"name\": \"sgd\", \"learning_rate\": 0.01, \"momentum\": 0.9}", "sgd3.")] {
            let trained = try model(fixture, optimizer: optimizer)
            var losses: [Float] = []
            for _ in 0..<3 { losses.append(try trained.trainStep(inputs: input)) }
            XCTAssertLessThan(maxAbsoluteDifference(losses, fixture.values(prefix + "losses")), 1e-6, "\(name): \(prefix)losses")
            assertParameters(trained, fixture, prefix: prefix)
        }
    }

    func testConvPreset() throws { try checkDeterministic("conv_mse") }
    func testDensePresetMSE() throws { try checkDeterministic("dense_mse") }
    func testDensePresetBCE() throws { try checkDeterministic("dense_bce") }

    func testVAE() throws {
        let fixture = try Fixture("vae")
        let input = fixture.values("input"), eps = fixture.values("eps")
        let m = try model(fixture)
        XCTAssertLessThan(maxAbsoluteDifference(try m.encode(input), fixture.values("code")), Tolerance.goldenAbsolute, "mu")
        try assertGradients(m, fixture, epsilon: eps)
        // 3 optimizer steps with PyTorch's ε, through the same transactional step as trainStep.
        for (optimizer, prefix) in [("{\"name\": \"adam\"}", "adam3."),
                                    ("{\"name\": \"sgd\", \"learning_rate\": 0.01, \"momentum\": 0.9}", "sgd3.")] {
            let trained = try model(fixture, optimizer: optimizer)
            let vae = trained.network as! VariationalAutoencoder
            var losses: [Float] = []
            for _ in 0..<3 {
                trained.store.zeroGradients()
                let loss = vaeLossAndGradients(vae, input, eps, batch: 4)
                losses.append(loss)
                XCTAssertTrue(trained.optimizer.prepare(parameters: trained.store.parameters, gradients: trained.store.gradients,
                                                        newParameters: trained.store.spare))
                trained.optimizer.commit(); trained.store.commit()
            }
            XCTAssertLessThan(maxRelativeDifference(losses, fixture.values(prefix + "losses")), 1e-6, "vae \(prefix)losses")
            assertParameters(trained, fixture, prefix: prefix)
        }
    }

    /// The conditional VAE: the vae's computation on [x; one-hot(y)] and [z; one-hot(y)], with
    /// PyTorch's ε, its gradients and 3 Adam / SGD steps (tools/make_golden_cvae.py).
    func testCVAE() throws { try checkConditional("cvae", plane: 1) }

    /// conv_vae with "classes": the one-hot broadcast as K constant 28×28 input planes after the
    /// image, and appended to z before decoder_input (tools/make_golden_cvae.py).
    func testConditionalConvVAE() throws { try checkConditional("cvae_conv", plane: 28 * 28) }

    private func checkConditional(_ name: String, plane: Int) throws {
        let fixture = try Fixture(name)
        let input = fixture.values("input"), eps = fixture.values("eps")
        let labels = fixture.values("labels").map { Int32($0) }
        let batch = labels.count, classes = 3
        // (K·plane, N), batch-minor: class k's rows are 1 in the columns of its examples.
        var condition = [Float](repeating: 0, count: classes * plane * batch)
        for (n, y) in labels.enumerated() {
            for r in 0..<plane { condition[(Int(y) * plane + r) * batch + n] = 1 }
        }
        let x = batchMinor(input, batch: batch) + condition, e = batchMinor(eps, batch: batch)
        func step(_ m: Autoencoder) -> Float {
            (m.network as! VariationalAutoencoder).lossAndGradients(batchMinorInputs: x, targets: x, batch: batch, epsilon: e)
        }
        let m = try model(fixture)
        XCTAssertEqual(m.classCount, classes)
        m.store.zeroGradients()
        let loss = step(m)
        XCTAssertEqual(loss, fixture.values("loss")[0], accuracy: 1e-5 * max(1, abs(loss)), "\(name) loss")
        for entry in m.store.entries {
            let got = Array(UnsafeBufferPointer(start: m.store.gradients + entry.offset, count: entry.count))
            XCTAssertLessThan(maxRelativeDifference(got, fixture.values("grad." + entry.name)), Tolerance.goldenGradientRelative,
                              "\(name) grad.\(entry.name)")
        }
        for (optimizer, prefix) in [("{\"name\": \"adam\"}", "adam3."),
                                    ("{\"name\": \"sgd\", \"learning_rate\": 0.01, \"momentum\": 0.9}", "sgd3.")] {
            let trained = try model(fixture, optimizer: optimizer)
            var losses: [Float] = []
            for _ in 0..<3 {
                trained.store.zeroGradients()
                losses.append(step(trained))
                XCTAssertTrue(trained.optimizer.prepare(parameters: trained.store.parameters, gradients: trained.store.gradients,
                                                        newParameters: trained.store.spare))
                trained.optimizer.commit(); trained.store.commit()
            }
            XCTAssertLessThan(maxRelativeDifference(losses, fixture.values(prefix + "losses")), 1e-6, "\(name) \(prefix)losses")
            assertParameters(trained, fixture, prefix: prefix)
        }
    }

    /// Single layers with geometries the presets do not use.
    func testLayers() throws {
        let fixture = try Fixture("layers")
        let layers: [(String, Layer)] = [
            ("ct1", ConvTranspose2d(inputShape: [3, 5, 6], outputChannels: 2, kernelSize: 3, stride: 2, padding: 1, outputPadding: (1, 1))),
            ("ct2", ConvTranspose2d(inputShape: [2, 5, 6], outputChannels: 3, kernelSize: 4, stride: 2, padding: 1, outputPadding: (0, 0))),
            ("c1", Conv2d(inputShape: [2, 5, 6], outputChannels: 3, kernelSize: 3, stride: 1, padding: 1)),
            ("c2", Conv2d(inputShape: [3, 7, 8], outputChannels: 2, kernelSize: 5, stride: 3, padding: 2)),
        ]
        for (name, layer) in layers {
            XCTAssertEqual([2] + layer.outputShape, fixture.shape("\(name).output"), name)
            var parameters = fixture.values("\(name).weight") + fixture.values("\(name).bias")
            var gradients = [Float](repeating: 0, count: parameters.count)
            // The fixture is NCHW; layers work batch-minor (C, H, W, N).
            let x = batchMinor(fixture.values("\(name).input"), batch: 2), r = batchMinor(fixture.values("\(name).R"), batch: 2)
            var y = [Float](repeating: 0, count: r.count), dx = [Float](repeating: 0, count: x.count)
            parameters.withUnsafeMutableBufferPointer { p in
                gradients.withUnsafeMutableBufferPointer { g in
                    layer.bind(parameters: p.baseAddress!, gradients: g.baseAddress!)
                    layer.forward(input: x, output: &y, batch: 2)
                    layer.backward(input: x, output: y, outputGradient: r, inputGradient: &dx, batch: 2)
                }
            }
            let weightCount = fixture.values("\(name).weight").count
            XCTAssertLessThan(maxAbsoluteDifference(batchMajor(y, batch: 2), fixture.values("\(name).output")), Tolerance.goldenAbsolute, "\(name) output")
            XCTAssertLessThan(maxRelativeDifference(Array(gradients[..<weightCount]), fixture.values("\(name).grad.weight")), Tolerance.goldenGradientRelative, "\(name) dW")
            XCTAssertLessThan(maxRelativeDifference(Array(gradients[weightCount...]), fixture.values("\(name).grad.bias")), Tolerance.goldenGradientRelative, "\(name) db")
            XCTAssertLessThan(maxRelativeDifference(batchMajor(dx, batch: 2), fixture.values("\(name).grad.input")), Tolerance.goldenGradientRelative, "\(name) dx")
        }
    }
}
