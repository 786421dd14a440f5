import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The cvae preset: spec, argument checks, transactional labeled steps, per-class sampling,
/// a finite-difference check of its objective and a small convergence test.
final class ConditionalVAETests: XCTestCase {
    private let spec = #"{"preset": "cvae", "input": [1, 4, 4], "hidden": [8], "latent": 3, "classes": 2, "seed": 5}"#

    private func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    func testSpec() throws {
        let m = try Autoencoder(specJSON: spec)
        XCTAssertEqual(m.classCount, 2)
        XCTAssertTrue(m.isGenerative)
        // fc1 sees 16 pixels + 2 one-hot; fc3 sees 3 code units + 2 one-hot.
        let shapes = Dictionary(uniqueKeysWithValues: m.parameters().map { ($0.name, $0.tensor.shape) })
        XCTAssertEqual(shapes["fc1.weight"], [8, 18])
        XCTAssertEqual(shapes["fc3.weight"], [8, 5])
        let nested = try Autoencoder(specJSON: #"{"preset": "cvae", "input": [1, 4, 4], "hidden": [8], "latent": 3, "conditional": {"classes": 2}, "seed": 5}"#)
        XCTAssertEqual(nested.spec, m.spec)
        XCTAssertTrue(m.specJSON.contains(#""classes":2"#), m.specJSON)
        XCTAssertTrue(message { _ = try ModelSpec(json: #"{"preset": "cvae", "input": [1, 4, 4]}"#) }.contains("spec.classes: required by the cvae preset"))
        XCTAssertTrue(message { _ = try ModelSpec(json: #"{"preset": "vae", "input": [1, 4, 4], "classes": 3}"#) }.contains("spec.classes: only applies to the conv_vae and cvae presets, not vae"))
        XCTAssertTrue(message { _ = try ModelSpec(json: #"{"preset": "cvae", "input": [1, 4, 4], "classes": 1}"#) }.contains("spec.classes: must be in 2..."))
    }

    func testArgumentChecksAndTransactionalStep() throws {
        let m = try Autoencoder(specJSON: spec)
        let x = [Float](repeating: 0.5, count: 2 * 16)
        XCTAssertTrue(message { try m.trainStep(inputs: x) }.contains("train_step: a conditional cvae model (2 classes) trains on labeled batches"))
        XCTAssertTrue(message { try m.trainStep(inputs: x, labels: [0, 2]) }.contains("labels[1] = 2 is out of range 0..<2"))
        XCTAssertTrue(message { try m.trainStep(inputs: x, labels: [0]) }.contains("labels holds 1 values"))
        XCTAssertTrue(message { _ = try m.sample(classIndex: 2, count: 1, seed: 0) }.contains("class 2 is out of range 0..<2"))
        let vae = try Autoencoder(specJSON: #"{"preset": "vae", "input": [1, 4, 4], "hidden": [8], "latent": 3}"#)
        XCTAssertTrue(message { try vae.trainStep(inputs: x, labels: [0, 1]) }.contains("not conditional"))
        XCTAssertTrue(message { _ = try Classifier(autoencoder: m, spec: ClassifierSpec(classes: 2)) }.contains("cvae"))

        let before = m.parameters().flatMap(\.tensor.values), step = m.step
        var bad = x; bad[3] = .nan
        XCTAssertThrowsError(try m.trainStep(inputs: bad, labels: [0, 1]))
        XCTAssertEqual(m.parameters().flatMap(\.tensor.values), before, "a refused step leaves the parameters")
        XCTAssertEqual(m.step, step)
        let loss = try m.trainStep(inputs: x, labels: [0, 1])
        XCTAssertTrue(loss.isFinite && loss > 0)
        XCTAssertNotEqual(m.parameters().flatMap(\.tensor.values), before)
    }

    /// d(loss)/d(parameter) of the labeled objective against central differences (fixed ε), in
    /// the network's own computation: the one-hot rows must reach both fc1 and fc3.
    func testObjectiveGradient() throws {
        let m = try Autoencoder(specJSON: spec)
        let analytic = try checkObjectiveGradient(m, pixels: 16, plane: 1)
        // The one-hot columns of fc1 (16, 17) get gradient only from examples of their class.
        let fc1 = m.store.entries.first { $0.name == "fc1.weight" }!
        XCTAssertNotEqual(analytic[fc1.offset + 16], 0)
        XCTAssertNotEqual(analytic[fc1.offset + 17], 0)
    }

    /// The conditional conv_vae: the class enters the first conv as K constant input planes, and
    /// the decoder's dense layer as K one-hot entries after the code.
    private let convSpec = #"{"preset": "conv_vae", "input": [1, 8, 8], "hidden": [3, 4], "latent": 3, "classes": 2, "seed": 5}"#

    func testConvSpec() throws {
        let m = try Autoencoder(specJSON: convSpec)
        XCTAssertEqual(m.classCount, 2)
        XCTAssertEqual(m.inputSize, 64, "the caller still gives 1×8×8 images; the planes are the library's")
        let shapes = Dictionary(uniqueKeysWithValues: m.parameters().map { ($0.name, $0.tensor.shape) })
        XCTAssertEqual(shapes["encoder.0.weight"], [3, 1 + 2, 3, 3])
        XCTAssertEqual(shapes["decoder_input.weight"], [4 * 2 * 2, 3 + 2])
        XCTAssertTrue(message { try m.trainStep(inputs: [Float](repeating: 0.5, count: 2 * 64)) }
            .contains("a conditional conv_vae model (2 classes) trains on labeled batches"))
        XCTAssertTrue(message { _ = try ModelSpec(json: #"{"preset": "conv", "input": [1, 8, 8], "classes": 3}"#) }
            .contains("spec.classes: only applies to"))
        // Without classes conv_vae is the plain model: C input channels, latent-wide decoder.
        let plain = try Autoencoder(specJSON: #"{"preset": "conv_vae", "input": [1, 8, 8], "hidden": [3, 4], "latent": 3, "seed": 5}"#)
        let plainShapes = Dictionary(uniqueKeysWithValues: plain.parameters().map { ($0.name, $0.tensor.shape) })
        XCTAssertEqual(plainShapes["encoder.0.weight"], [3, 1, 3, 3])
        XCTAssertNil(plain.classCount)
    }

    func testConvObjectiveGradient() throws {
        let m = try Autoencoder(specJSON: convSpec)
        let analytic = try checkObjectiveGradient(m, pixels: 64, plane: 64)
        // encoder.0.weight (3, 3, 3, 3): the class channels' filters (input channels 1 and 2)
        // learn from the examples of their class.
        let conv = m.store.entries.first { $0.name == "encoder.0.weight" }!
        for channel in 1...2 {
            let taps = (0..<3).flatMap { o in (0..<9).map { conv.offset + o * 27 + channel * 9 + $0 } }
            XCTAssertTrue(taps.contains { analytic[$0] != 0 }, "class channel \(channel) gets no gradient")
        }
    }

    /// Central differences of the labeled objective (fixed ε) in the network's own computation;
    /// x = the pixels batch-minor, then K condition blocks of `plane` rows (1 in the columns of
    /// the block's class). Returns the analytic gradient.
    private func checkObjectiveGradient(_ m: Autoencoder, pixels count: Int, plane: Int) throws -> [Double] {
        let vae = m.network as! VariationalAutoencoder
        var random = RandomSource(seed: 9)
        let batch = 3, k = 2
        let pixels = (0..<(count * batch)).map { _ in random.uniform(0.05, 0.95) }
        var condition = [Float](repeating: 0, count: k * plane * batch)
        for (n, y) in [1, 0, 1].enumerated() {
            for r in 0..<plane { condition[(y * plane + r) * batch + n] = 1 }
        }
        let x = batchMinor(pixels, batch: batch) + condition
        let eps = (0..<(3 * batch)).map { _ in random.normal() }
        let p = m.store.parameters
        for i in 0..<m.parameterCount { p[i] = random.uniform(-0.8, 0.8) }
        func objective() -> Double {
            m.store.zeroGradients()
            return Double(vae.lossAndGradients(batchMinorInputs: x, targets: x, batch: batch, epsilon: eps))
        }
        _ = objective()
        let analytic = Array(UnsafeBufferPointer(start: m.store.gradients, count: m.parameterCount)).map(Double.init)
        var numeric = [Double](repeating: 0, count: m.parameterCount)
        let h: Float = 1e-2
        for i in 0..<m.parameterCount {
            let p0 = p[i]
            p[i] = p0 + h; let up = objective()
            p[i] = p0 - h; let down = objective()
            p[i] = p0
            numeric[i] = (up - down) / Double(2 * h)
        }
        XCTAssertLessThan(relativeError(analytic, numeric), 1e-2)
        return analytic
    }

    /// Class 0 is bright on the top half, class 1 on the bottom half: after training, samples of
    /// each class must be brighter where its class is, and the file round trip keeps them.
    func testLearnsClassConditionalImages() throws {
        try checkLearnsHalves(#"{"preset": "cvae", "input": [1, 4, 4], "hidden": [32], "latent": 2, "classes": 2, "seed": 1, "optimizer": {"name": "adam", "learning_rate": 0.01}}"#,
                              side: 4, steps: 300)
    }

    func testConvLearnsClassConditionalImages() throws {
        try checkLearnsHalves(#"{"preset": "conv_vae", "input": [1, 8, 8], "hidden": [8, 16], "latent": 2, "classes": 2, "seed": 1, "optimizer": {"name": "adam", "learning_rate": 0.01}}"#,
                              side: 8, steps: 300)
    }

    private func checkLearnsHalves(_ json: String, side: Int, steps: Int) throws {
        let m = try Autoencoder(specJSON: json)
        let pixels = side * side
        var random = RandomSource(seed: 3)
        for _ in 0..<steps {
            var x: [Float] = [], y: [Int32] = []
            for n in 0..<16 {
                let c = Int32(n % 2)
                y.append(c)
                for i in 0..<pixels {
                    let top = i < pixels / 2
                    x.append((top == (c == 0) ? 0.9 : 0.1) + random.uniform(-0.05, 0.05))
                }
            }
            try m.trainStep(inputs: x, labels: y)
        }
        func halves(_ images: [Float]) -> (top: Float, bottom: Float) {
            var t: Float = 0, b: Float = 0
            for (i, v) in images.enumerated() { if i % pixels < pixels / 2 { t += v } else { b += v } }
            return (t / Float(images.count / 2), b / Float(images.count / 2))
        }
        let zero = halves(try m.sample(classIndex: 0, count: 50, seed: 7))
        let one = halves(try m.sample(classIndex: 1, count: 50, seed: 7))
        XCTAssertGreaterThan(zero.top, 0.7); XCTAssertLessThan(zero.bottom, 0.3)
        XCTAssertGreaterThan(one.bottom, 0.7); XCTAssertLessThan(one.top, 0.3)
        let path = NSTemporaryDirectory() + "cvae-\(getpid()).aecv"
        defer { unlink(path) }
        try m.save(to: path)
        let loaded = try Autoencoder(contentsOf: path)
        XCTAssertEqual(loaded.classCount, 2)
        XCTAssertEqual(try loaded.sample(classIndex: 1, count: 5, seed: 7), try m.sample(classIndex: 1, count: 5, seed: 7))
    }
}
