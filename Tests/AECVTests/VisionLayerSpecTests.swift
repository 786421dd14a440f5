import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The vision layers in specs and models: defaults, shape inference, clear errors, JSON round
/// trips, BatchNorm's whole-batch statistics and transactional running statistics, dropout's
/// seeded masks, evaluation mode.
final class VisionLayerSpecTests: XCTestCase {
    override func tearDown() { ComputeThreads.set(2) }

    private func custom(_ encoder: String, _ decoder: String, input: String = "[1, 8, 8]", seed: Int = 3) -> String {
        #"{"preset": "custom", "input": \#(input), "seed": \#(seed), "encoder": [\#(encoder)], "decoder": [\#(decoder)]}"#
    }

    /// A conv AE with every new layer: pool, BN, dropout, residual, upsample.
    private var fullSpec: String {
        custom(#"""
        {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1, "bias": false}, {"type": "batch_norm2d"}, {"type": "relu"},
        {"type": "max_pool2d", "kernel": 2},
        {"type": "residual", "layers": [{"type": "conv2d", "out": 6, "kernel": 3, "stride": 2, "padding": 1}, {"type": "gelu"}]},
        {"type": "dropout2d", "p": 0.2}, {"type": "avg_pool2d", "kernel": 3, "stride": 1, "padding": 1, "count_include_pad": false}
        """#, #"""
        {"type": "upsample", "scale": 2, "mode": "bilinear"}, {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
        {"type": "silu"}, {"type": "upsample", "scale": 2}, {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1},
        {"type": "elu", "alpha": 0.5}, {"type": "sigmoid"}
        """#)
    }

    private func message(_ body: () throws -> Void) -> String {
        do { try body(); return "accepted" } catch let e as AECVError { return e.message } catch { return "\(error)" }
    }

    func testShapesNamesAndRoundTrip() throws {
        let spec = try ModelSpec(json: fullSpec)
        XCTAssertEqual(try ModelSpec(json: spec.jsonString()), spec)
        XCTAssertEqual(try ModelSpec(json: spec.jsonString()).jsonString(), spec.jsonString())
        let m = try Autoencoder(spec: spec)
        XCTAssertEqual(m.latentSize, 6 * 2 * 2, "8 → pool 4 → stride-2 residual 2")
        let names = m.parameters().map(\.name)
        XCTAssertEqual(Array(names.prefix(3)), ["encoder.0.weight", "encoder.1.weight", "encoder.1.bias"])
        XCTAssertTrue(names.contains("encoder.4.body.0.weight") && names.contains("encoder.4.projection.weight"), "\(names)")
        XCTAssertEqual(m.buffers().map(\.name), ["encoder.1.running_mean", "encoder.1.running_var", "encoder.1.num_batches_tracked"])
        // Global average pooling and BatchNorm1d on vectors.
        let v = try Autoencoder(specJSON: custom(#"{"type": "conv2d", "out": 5, "kernel": 3}, {"type": "global_avg_pool"}, {"type": "batch_norm1d"}"#,
                                                 #"{"type": "dense", "out": 64}"#))
        XCTAssertEqual(v.latentSize, 5)
    }

    func testSpecErrorsNameTheField() {
        let layer = { (l: String) in self.custom(l, #"{"type": "relu"}"#) }
        XCTAssertEqual(message { _ = try ModelSpec(json: layer(#"{"type": "max_pool2d", "kernel": 2, "size": 3}"#)) },
                       #"spec.encoder[0]: unknown key "size" for max_pool2d (allowed: kernel, stride, padding)"#)
        XCTAssertEqual(message { _ = try ModelSpec(json: layer(#"{"type": "batch_norm2d", "momentun": 0.1}"#)) },
                       #"spec.encoder[0]: unknown key "momentun" for batch_norm2d (allowed: eps, momentum, affine) (did you mean "momentum"?)"#)
        let cases: [(String, String)] = [
            (#"{"type": "max_pool2d"}"#, "spec.encoder[0].kernel: required for max_pool2d"),
            (#"{"type": "max_pool2d", "kernel": 2, "padding": 2}"#, "spec.encoder[0].padding: must be at most half the kernel (1), got 2"),
            (#"{"type": "avg_pool2d", "kernel": 2, "count_include_pad": 1}"#, "spec.encoder[0].count_include_pad: expected true or false"),
            (#"{"type": "upsample", "scale": 0}"#, "spec.encoder[0].scale: must be in 1...16, got 0"),
            (#"{"type": "upsample", "mode": "bicubic"}"#, #"spec.encoder[0].mode: expected one of "nearest", "bilinear""#),
            (#"{"type": "dropout", "p": 1.5}"#, "spec.encoder[0].p: must be a probability in [0, 1], got 1.5"),
            (#"{"type": "batch_norm2d", "eps": 0}"#, "spec.encoder[0].eps: must be a positive finite number, got 0"),
            (#"{"type": "batch_norm1d", "momentum": -1}"#, "spec.encoder[0].momentum: must be a probability"),
            (#"{"type": "residual"}"#, "spec.encoder[0].layers: required for residual"),
            (#"{"type": "residual", "layers": []}"#, "spec.encoder[0].layers: must contain at least one layer"),
            (#"{"type": "residual", "layers": [{"type": "elu", "alpha": "x"}]}"#, "spec.encoder[0].layers[0].alpha"),
            (#"{"type": "conv2d", "out": 2, "kernel": 3, "bias": "no"}"#, "spec.encoder[0].bias: expected true or false"),
        ]
        for (l, expected) in cases {
            let m = message { _ = try ModelSpec(json: layer(l)) }
            XCTAssertTrue(m.hasPrefix(expected), "\(l): \(m)")
        }
        // Shape errors when the model is built.
        let built: [(String, String)] = [
            (#"{"type": "flatten"}, {"type": "max_pool2d", "kernel": 2}"#, "max_pool2d needs a [C, H, W] input, got [64]"),
            (#"{"type": "max_pool2d", "kernel": 9}"#, "kernel 9 with padding 0 does not fit a 8×8 input"),
            (#"{"type": "batch_norm1d"}"#, "batch_norm1d needs a [C] input, got [1, 8, 8]"),
            (#"{"type": "flatten"}, {"type": "batch_norm2d"}"#, "batch_norm2d needs a [C, H, W] input"),
            (#"{"type": "flatten"}, {"type": "dropout2d"}"#, "dropout2d needs a [C, H, W] input"),
            (#"{"type": "residual", "layers": [{"type": "conv2d", "out": 2, "kernel": 3}]}"#, "the block maps [1, 8, 8] to [2, 6, 6]"),
            (#"{"type": "residual", "layers": [{"type": "max_pool2d", "kernel": 9}]}"#, "spec.encoder[0].layers[0]: kernel 9"),
        ]
        for (l, expected) in built {
            let m = message { _ = try Autoencoder(specJSON: layer(l)) }
            XCTAssertTrue(m.contains(expected), "\(l): \(m)")
        }
    }

    private func batch(_ n: Int, _ size: Int = 64, seed: UInt64 = 5) -> [Float] {
        var random = RandomSource(seed: seed)
        return (0..<(n * size)).map { _ in random.uniform() }
    }

    /// BatchNorm normalizes with the statistics of the whole batch and dropout masks are drawn per
    /// example: 1, 2 and 3 threads train the same model up to float rounding.
    func testThreadCountDoesNotChangeBatchNormOrDropout() throws {
        let x = batch(48)
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            ComputeThreads.set(threads)
            let m = try Autoencoder(specJSON: fullSpec)
            var losses: [Float] = []
            for _ in 0..<4 { losses.append(try m.trainStep(inputs: x)) }
            // The batch really was split: one replica per extra thread ran a part.
            XCTAssertEqual(m.replicas.count, threads - 1, "\(threads) threads")
            results.append(losses + m.buffers().flatMap(\.tensor.values) + (try m.reconstruct(x)))
        }
        for r in results.dropFirst() { XCTAssertLessThan(maxRelativeDifference(r, results[0]), 1e-4) }
    }

    /// "decoder": [] is the identity: a DnCNN-style denoiser x + f(x) is one residual block in the
    /// encoder, its code is its output, and it trains on (noisy, clean) pairs.
    func testEmptyDecoderIsTheIdentity() throws {
        let spec = custom(#"{"type": "residual", "layers": [{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1}, {"type": "batch_norm2d"}, {"type": "relu"}, {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}]}"#, "")
        let m = try Autoencoder(specJSON: spec)
        XCTAssertEqual(m.latentSize, m.inputSize)
        let clean = batch(16)
        var random = RandomSource(seed: 9)
        let noisy = clean.map { $0 + 0.2 * (random.uniform() - 0.5) }
        XCTAssertEqual(try m.reconstruct(noisy), try m.encode(noisy), "reconstruct = encode")
        XCTAssertEqual(try m.decode(clean), clean, "decode is the identity")
        let first = try m.trainStep(inputs: noisy, targets: clean)
        var last = first
        for _ in 0..<30 { last = try m.trainStep(inputs: noisy, targets: clean) }
        XCTAssertLessThan(last, 0.5 * first, "the residual learns to remove the noise")
        XCTAssertEqual(try ModelSpec(json: ModelSpec(json: spec).jsonString()), try ModelSpec(json: spec))
        // The encoder must then reproduce the input shape itself.
        let wrong = custom(#"{"type": "conv2d", "out": 2, "kernel": 3, "padding": 1}"#, "")
        XCTAssertTrue(message { _ = try Autoencoder(specJSON: wrong) }.contains("spec.encoder (the decoder is empty): outputs [2, 8, 8]"))
    }

    /// A nearly constant channel (1000 + k·2⁻¹³, variance 6e-8 on a mean of 1000) keeps its exact
    /// variance: the SIMD two-pass sums lose nothing to the mean's size.
    func testNearlyConstantChannelKeepsItsVariance() throws {
        let spec = custom(#"{"type": "batch_norm2d", "momentum": 1}"#, #"{"type": "flatten"}, {"type": "dense", "out": 64}"#)
        let m = try Autoencoder(specJSON: spec)
        let x = (0..<(13 * 64)).map { 1000 + Float($0 % 7) * 0x1p-13 }
        try m.trainStep(inputs: x)
        let values = x.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let unbiased = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
        let b = Dictionary(uniqueKeysWithValues: m.buffers().map { ($0.name, $0.tensor.values) })
        XCTAssertEqual(Double(b["encoder.0.running_var"]![0]), unbiased, accuracy: 1e-4 * unbiased)
        XCTAssertEqual(Double(b["encoder.0.running_mean"]![0]), mean, accuracy: 1e-4)
    }

    /// Running statistics follow PyTorch's update and commit with the step; eval uses them.
    func testRunningStatisticsAndEvaluationMode() throws {
        let spec = custom(#"{"type": "flatten"}, {"type": "batch_norm1d", "momentum": 0.5}"#, #"{"type": "dense", "out": 64}"#)
        let m = try Autoencoder(specJSON: spec)
        let x = batch(4)
        try m.trainStep(inputs: x)
        let b = Dictionary(uniqueKeysWithValues: m.buffers().map { ($0.name, $0.tensor.values) })
        for f in [0, 17, 63] {
            let column = (0..<4).map { Double(x[$0 * 64 + f]) }
            let mean = column.reduce(0, +) / 4
            let unbiased = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3
            XCTAssertEqual(Double(b["encoder.1.running_mean"]![f]), 0.5 * mean, accuracy: 1e-6)
            XCTAssertEqual(Double(b["encoder.1.running_var"]![f]), 0.5 + 0.5 * unbiased, accuracy: 1e-6)
        }
        XCTAssertEqual(b["encoder.1.num_batches_tracked"], [1])
        // Evaluation mode: the codes are γ(x − running_mean)/√(running_var + ε) + β, example by example.
        let p = Dictionary(uniqueKeysWithValues: m.parameters().map { ($0.name, $0.tensor.values) })
        let codes = try m.encode(Array(x[0..<64]))
        let normalized = (x[17] - b["encoder.1.running_mean"]![17]) / (b["encoder.1.running_var"]![17] + 1e-5).squareRoot()
        XCTAssertEqual(codes[17], p["encoder.1.weight"]![17] * normalized + p["encoder.1.bias"]![17], accuracy: 1e-5)
        XCTAssertEqual(try m.encode(Array(x[0..<64])), codes, "evaluation is deterministic")
        // A batch of one has no variance per feature: refused, model unchanged.
        XCTAssertTrue(message { try m.trainStep(inputs: Array(x[0..<64])) }.contains("training batch of at least 2, got 1"))
        XCTAssertEqual(m.buffers().map(\.tensor.values), m.buffers().map(\.tensor.values))
        XCTAssertEqual(m.step, 1)
    }

    /// A model file keeps the running statistics (scalar num_batches_tracked included): the loaded
    /// model reconstructs bit-identically.
    func testModelFileKeepsRunningStatistics() throws {
        let m = try Autoencoder(specJSON: fullSpec)
        let x = batch(8)
        for _ in 0..<2 { try m.trainStep(inputs: x) }
        let path = "/tmp/aecv-vision-\(getpid()).aecv"
        defer { unlink(path) }
        try m.save(to: path)
        let loaded = try Autoencoder(contentsOf: path)
        XCTAssertEqual(loaded.buffers().map(\.name), m.buffers().map(\.name))
        XCTAssertEqual(loaded.buffers().map(\.tensor.values), m.buffers().map(\.tensor.values))
        XCTAssertEqual(loaded.buffers()[2].tensor.values, [2], "num_batches_tracked after 2 steps")
        XCTAssertEqual(try loaded.reconstruct(x).map(\.bitPattern), try m.reconstruct(x).map(\.bitPattern))
    }

    /// A step rejected for a non-finite update leaves the running statistics bit-identical.
    func testRejectedStepLeavesRunningStatistics() throws {
        let m = try Autoencoder(specJSON: custom(#"{"type": "conv2d", "out": 2, "kernel": 3}, {"type": "batch_norm2d"}"#,
                                                 #"{"type": "flatten"}, {"type": "dense", "out": 64}"#))
        let x = batch(4)
        try m.trainStep(inputs: x)
        let before = m.buffers().flatMap(\.tensor.values).map(\.bitPattern)
        let name = "decoder.1.weight"
        let shape = m.parameters().first { $0.name == name }!.tensor.shape
        try m.setParameters([(name, Tensor(shape: shape, values: [Float](repeating: 3e38, count: shape.reduce(1, *))))])
        XCTAssertThrowsError(try m.trainStep(inputs: x))
        XCTAssertEqual(m.buffers().flatMap(\.tensor.values).map(\.bitPattern), before)
    }

    /// Dropout is active in training (seeded: the same seed trains the same model) and the
    /// identity in evaluation.
    func testDropoutTrainOnlyAndSeeded() throws {
        let spec = custom(#"{"type": "flatten"}, {"type": "dropout", "p": 0.5}"#, #"{"type": "dense", "out": 64}"#)
        let x = batch(8)
        func run(seed: Int) throws -> (Autoencoder, [Float]) {
            let m = try Autoencoder(specJSON: spec.replacingSeed(seed))
            return (m, [try m.trainStep(inputs: x), try m.trainStep(inputs: x)])
        }
        let (a, la) = try run(seed: 3), (_, lb) = try run(seed: 3), (_, lc) = try run(seed: 4)
        XCTAssertEqual(la, lb)
        XCTAssertNotEqual(la, lc)
        XCTAssertEqual(try a.encode(x), x, "identity in evaluation")
        // Training loss with dropout differs from the evaluation loss on the same parameters.
        XCTAssertNotEqual(try a.evaluate(inputs: x), try a.computeGradients(x))
    }
}

private extension String {
    func replacingSeed(_ seed: Int) -> String {
        var s = self
        if let r = s.range(of: #""seed": 3"#) { s.replaceSubrange(r, with: "\"seed\": \(seed)") }
        return s
    }
}

private extension Autoencoder {
    func computeGradients(_ x: [Float]) throws -> Float {
        try x.withUnsafeBufferPointer { try computeGradients(inputs: $0, targets: nil, batch: x.count / inputSize) }
    }
}
