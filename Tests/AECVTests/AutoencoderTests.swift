import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The public Swift API: presets' shapes, argument errors, the transactional step, sampling.
final class AutoencoderTests: XCTestCase {
    func testConvPresetMatchesTheSeedModel() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 28, 28]}"#)
        XCTAssertEqual(m.parameterCount, 46_529)
        XCTAssertEqual(m.latentSize, 64 * 4 * 4)
        let net = m.network as! FeedForwardAutoencoder
        XCTAssertEqual(net.encoder.layers.map(\.outputShape),
                       [[16, 14, 14], [16, 14, 14], [32, 7, 7], [32, 7, 7], [64, 4, 4], [64, 4, 4]])
        XCTAssertEqual(net.decoder.layers.map(\.outputShape),
                       [[32, 7, 7], [32, 7, 7], [16, 14, 14], [16, 14, 14], [1, 28, 28], [1, 28, 28]])
        XCTAssertEqual(m.parameters().map(\.name),
                       ["encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
                        "encoder.4.weight", "encoder.4.bias", "decoder.0.weight", "decoder.0.bias",
                        "decoder.2.weight", "decoder.2.bias", "decoder.4.weight", "decoder.4.bias"])
    }

    /// Output padding is chosen per axis so the decoder mirrors the encoder for any size.
    func testConvPresetMirrorsOddAndNonSquareInputs() throws {
        for shape in [[3, 32, 32], [1, 29, 17], [2, 5, 9], [1, 1, 1]] {
            let m = try Autoencoder(spec: ModelSpec(preset: .conv, input: shape))
            let x = [Float](repeating: 0.5, count: shape.reduce(1, *) * 2)
            XCTAssertEqual(try m.reconstruct(x).count, x.count, "\(shape)")
            XCTAssertEqual((m.network as! FeedForwardAutoencoder).decoder.outputShape, shape)
        }
    }

    func testDensePreset() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 28, 28]}"#)
        XCTAssertEqual(m.parameterCount, 784 * 256 + 256 + 256 * 64 + 64 + 64 * 256 + 256 + 256 * 784 + 784)
        XCTAssertEqual(m.latentSize, 64)
        let small = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 4, 4], "hidden": [8, 6], "latent": 3}"#)
        XCTAssertEqual(small.latentSize, 3)
        XCTAssertEqual(small.parameterCount, (16 * 8 + 8) + (8 * 6 + 6) + (6 * 3 + 3) + (3 * 6 + 6) + (6 * 8 + 8) + (8 * 16 + 16))
    }

    func testCustomArchitectureMustReproduceTheInput() throws {
        let good = #"{"preset": "custom", "input": [1, 8, 8], "encoder": [{"type": "conv2d", "out": 4, "kernel": 3, "stride": 2, "padding": 1}, {"type": "relu"}, {"type": "flatten"}, {"type": "dense", "out": 10}], "decoder": [{"type": "dense", "out": 64}, {"type": "unflatten", "shape": [4, 4, 4]}, {"type": "conv_transpose2d", "out": 1, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1}, {"type": "sigmoid"}]}"#
        let m = try Autoencoder(specJSON: good)
        XCTAssertEqual(m.latentSize, 10)
        let bad = good.replacingOccurrences(of: #""output_padding": 1"#, with: #""output_padding": 0"#)
        XCTAssertThrowsError(try Autoencoder(specJSON: bad)) { error in
            guard case AECVError.config(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("spec.decoder"), message)
        }
    }

    func testAbsurdSpecsAreConfigErrorsBeforeAllocation() {
        let specs = [
            #"{"preset": "conv", "input": [1, 4000000000, 4000000000]}"#,
            #"{"preset": "dense", "input": [1, 28, 28], "hidden": 100000000000}"#,
            #"{"preset": "dense", "input": [1, 4096, 4096], "hidden": [60000]}"#,  // 1e12 weights
            #"{"preset": "custom", "input": [1, 4, 4], "encoder": [{"type": "conv2d", "out": 2, "kernel": 9}], "decoder": [{"type": "relu"}]}"#,
        ]
        for spec in specs {
            XCTAssertThrowsError(try Autoencoder(specJSON: spec), spec) { error in
                guard case AECVError.config = error else { return XCTFail("\(spec): \(error)") }
            }
        }
    }

    func testWrongSizesAreShapeErrors() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 4, 4], "hidden": [8], "latent": 3}"#)
        let x = [Float](repeating: 0.5, count: 32)
        var small = [Float](repeating: 7, count: 5)
        XCTAssertThrowsError(try x.withUnsafeBufferPointer { xp in
            try small.withUnsafeMutableBufferPointer { try m.encode(inputs: xp, batch: 2, into: $0) }
        }) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 2) }
        XCTAssertEqual(small, [Float](repeating: 7, count: 5), "nothing written on a shape error")
        XCTAssertThrowsError(try x.withUnsafeBufferPointer { try m.trainStep(inputs: $0, targets: nil, batch: 3) })
        XCTAssertThrowsError(try x.withUnsafeBufferPointer { try m.trainStep(inputs: $0, targets: nil, batch: 0) }) {
            XCTAssertEqual(($0 as? AECVError)?.statusCode, 1)
        }
        XCTAssertThrowsError(try m.sample(count: 1, seed: 0)) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 8) }
        XCTAssertThrowsError(try m.setLearningRate(.nan))
        XCTAssertThrowsError(try m.setLearningRate(-1))
    }

    /// A rejected step leaves parameters, optimizer state and the generator bit-identical.
    func testNonFiniteStepLeavesTheModelBitIdentical() throws {
        for preset in ["dense", "denoising\", \"base\": \"dense", "vae"] {
            let m = try Autoencoder(specJSON: "{\"preset\": \"\(preset)\", \"input\": [1, 4, 4]}")
            var random = RandomSource(seed: 4)
            let x = (0..<64).map { _ in random.uniform() }
            try m.trainStep(inputs: x)   // non-trivial optimizer state first
            let before = ModelFile(model: m).encode()
            var bad = x
            bad[17] = .nan
            XCTAssertThrowsError(try m.trainStep(inputs: bad)) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 4) }
            bad[17] = .infinity
            XCTAssertThrowsError(try m.trainStep(inputs: x, targets: bad))
            // A learning rate so large the update overflows: caught in the optimizer pass.
            try m.setLearningRate(1e6)
            let huge = x.map { $0 * 1e30 }
            XCTAssertThrowsError(try m.trainStep(inputs: huge)) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 4, "\(preset)") }
            try m.setLearningRate(1e-3)
            XCTAssertEqual(ModelFile(model: m).encode(), before, "\(preset): model changed by a rejected step")
            XCTAssertNoThrow(try m.trainStep(inputs: x))
        }
    }

    func testTrainingReducesTheLossOnAFixedBatch() throws {
        for preset in ["conv", "dense", "vae", "conv_vae"] {
            let m = try Autoencoder(specJSON: "{\"preset\": \"\(preset)\", \"input\": [1, 12, 12], \"seed\": 3}")
            var random = RandomSource(seed: 8)
            let x = (0..<(8 * 144)).map { _ in random.uniform() < 0.3 ? random.uniform() : 0 }
            let first = try m.evaluate(inputs: x)
            for _ in 0..<60 { try m.trainStep(inputs: x) }
            XCTAssertLessThan(try m.evaluate(inputs: x), first * 0.9, preset)
        }
    }

    func testSampleIsReproducibleAndInUnitRange() throws {
        for preset in ["vae", "conv_vae"] {
            let m = try Autoencoder(specJSON: "{\"preset\": \"\(preset)\", \"input\": [1, 8, 8]}")
            let a = try m.sample(count: 3, seed: 42), b = try m.sample(count: 3, seed: 42)
            XCTAssertEqual(a, b)
            XCTAssertNotEqual(a, try m.sample(count: 3, seed: 43))
            XCTAssertTrue(a.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
    }

    func testSameSeedSameModel() throws {
        let spec = #"{"preset": "conv", "input": [1, 8, 8], "seed": 11}"#
        let a = try Autoencoder(specJSON: spec), b = try Autoencoder(specJSON: spec)
        XCTAssertEqual(a.parameters().map(\.tensor), b.parameters().map(\.tensor))
        let c = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 8, 8], "seed": 12}"#)
        XCTAssertNotEqual(a.parameters().map(\.tensor), c.parameters().map(\.tensor))
    }

    /// PyTorch's default init: U(−1/√fan_in, 1/√fan_in), with ConvTranspose's fan-in Cout·k·k.
    func testInitializationBounds() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 28, 28]}"#)
        let fanIn = ["encoder.0.weight": 9, "encoder.2.weight": 144, "decoder.0.weight": 288, "decoder.4.weight": 9]
        for (name, tensor) in m.parameters() {
            guard let f = fanIn[name] else { continue }
            let bound = 1 / Float(f).squareRoot()
            let largest = tensor.values.map { abs($0) }.max()!
            XCTAssertLessThanOrEqual(largest, bound, name)
            XCTAssertGreaterThan(largest, bound * 0.9, "\(name) spans its bound")
        }
    }
}

final class AnalysisTests: XCTestCase {
    func testInterpolationEndsAtTheReconstructions() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 4, 4], "hidden": [8], "latent": 3}"#)
        var random = RandomSource(seed: 2)
        let a = (0..<16).map { _ in random.uniform() }, b = (0..<16).map { _ in random.uniform() }
        let path = try m.interpolate(from: a, to: b, steps: 5)
        XCTAssertEqual(path.count, 5 * 16)
        // Up to float rounding: a batch of 5 and a batch of 1 may take different BLAS paths.
        XCTAssertLessThan(maxAbsoluteDifference(Array(path[0..<16]), try m.reconstruct(a)), 1e-6)
        XCTAssertLessThan(maxAbsoluteDifference(Array(path[64..<80]), try m.reconstruct(b)), 1e-6)
        // The midpoint decodes the mean code.
        let za = try m.encode(a), zb = try m.encode(b)
        let mid = try m.decode(zip(za, zb).map { 0.5 * $0 + 0.5 * $1 })
        XCTAssertLessThan(maxAbsoluteDifference(Array(path[32..<48]), mid), 1e-6)
        XCTAssertThrowsError(try m.interpolate(from: a, to: b, steps: 1))
    }

    func testCodeSparsityCountsZeros() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 4, 4], "hidden": [8], "latent": 3}"#)
        var random = RandomSource(seed: 3)
        let x = (0..<(16 * 10)).map { _ in random.uniform() }
        let codes = try m.encode(x)
        let zeros = Float(codes.filter { $0 == 0 }.count) / Float(codes.count)
        XCTAssertEqual(try m.codeSparsity(x, threshold: 0), zeros)
        XCTAssertEqual(try m.codeSparsity(x, threshold: 1e9), 1)
        XCTAssertThrowsError(try m.codeSparsity(x, threshold: .nan))
    }
}

/// Splitting a batch among threads changes nothing but float rounding.
final class ParallelTests: XCTestCase {
    override func tearDown() { ComputeThreads.set(2) }

    func testThreadCountDoesNotChangeTraining() throws {
        for preset in ["conv", "dense", "vae", "denoising", "sparse"] {
            var results: [[Float]] = []
            for threads in [1, 2, 3] {
                ComputeThreads.set(threads)
                let m = try Autoencoder(specJSON: "{\"preset\": \"\(preset)\", \"input\": [1, 8, 8], \"seed\": 4}")
                var random = RandomSource(seed: 5)
                let x = (0..<(64 * 64)).map { _ in random.uniform() }
                var losses: [Float] = []
                for _ in 0..<5 { losses.append(try m.trainStep(inputs: x)) }
                XCTAssertEqual(m.replicas.count, min(threads, 4) - 1, "\(preset): one replica per extra thread")
                results.append(losses + (try m.reconstruct(Array(x[0..<(48 * 64)]))))
            }
            for r in results.dropFirst() {
                XCTAssertLessThan(maxRelativeDifference(r, results[0]), 1e-4, preset)
            }
        }
    }

    /// The conditional kinds split labeled batches the same way: each part conditions its own
    /// examples (the labels travel with the offset), so 1, 2 and 3 threads agree.
    func testThreadCountDoesNotChangeLabeledTraining() throws {
        for json in [#"{"preset": "cvae", "input": [1, 8, 8], "hidden": [32], "latent": 4, "classes": 3, "seed": 4}"#,
                     #"{"preset": "conv_vae", "input": [1, 8, 8], "hidden": [4, 8], "latent": 4, "classes": 3, "seed": 4}"#] {
            var results: [[Float]] = []
            for threads in [1, 2, 3] {
                ComputeThreads.set(threads)
                let m = try Autoencoder(specJSON: json)
                var random = RandomSource(seed: 5)
                let x = (0..<(64 * 64)).map { _ in random.uniform() }
                let labels = (0..<64).map { Int32(($0 * 7) % 3) }
                var losses: [Float] = []
                for _ in 0..<5 { losses.append(try m.trainStep(inputs: x, labels: labels)) }
                XCTAssertEqual(m.replicas.count, threads - 1, "\(json): the labeled batch was split")
                results.append(losses + (try m.sample(classIndex: 1, count: 4, seed: 2)))
            }
            for r in results.dropFirst() {
                XCTAssertLessThan(maxRelativeDifference(r, results[0]), 1e-4, json)
            }
        }
    }

    /// A child forked after the workers started must not wait for threads it does not have.
    func testForkedChildCanTrain() throws {
        ComputeThreads.set(2)
        let m = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 8, 8]}"#)
        let x = [Float](repeating: 0.5, count: 64 * 64)
        try m.trainStep(inputs: x)
        let pid = fork()
        if pid == 0 {
            let ok = (try? m.trainStep(inputs: x)) != nil && ComputeThreads.current == 2
            _exit(ok ? 0 : 1)
        }
        var status: Int32 = 0
        for _ in 0..<200 {   // up to 20 s
            if waitpid(pid, &status, WNOHANG) == pid { break }
            usleep(100_000)
        }
        if waitpid(pid, &status, WNOHANG) == 0 {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            return XCTFail("the forked child hung in a training step")
        }
        XCTAssertEqual(status, 0, "the forked child's training step failed")
    }

    /// KL sparsity couples the examples of a batch (batch means), so it never splits.
    func testKLSparseModelsDoNotSplit() throws {
        ComputeThreads.set(2)
        let m = try Autoencoder(specJSON: #"{"preset": "sparse", "input": [1, 8, 8], "sparsity": {"kl": {"rho": 0.05, "beta": 3}}}"#)
        try m.trainStep(inputs: [Float](repeating: 0.5, count: 64 * 64))
        XCTAssertEqual(m.replicas.count, 0)
    }
}

#if canImport(Glibc)
import Glibc
#endif
