import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV
import AECVData

final class ClassifierTests: XCTestCase {
    private let denseSpec = #"{"preset": "dense", "input": [1, 4, 4], "hidden": [8], "latent": 5, "seed": 1}"#

    private func batch(_ n: Int, seed: UInt64) -> ([Float], [Int32]) {
        var random = RandomSource(seed: seed)
        let x = (0..<(n * 16)).map { _ in random.uniform() }
        let y = (0..<n).map { _ in Int32(random.next() % 3) }
        return (x, y)
    }

    /// Cross-entropy's gradient against finite differences, in Double.
    func testSoftmaxCrossEntropyGradient() {
        var random = RandomSource(seed: 4)
        let classes = 4, n = 3
        let z: [Float] = (0..<(classes * n)).map { _ in random.uniform(-3, 3) }
        let labels: [Int32] = [2, 0, 3]
        func loss(_ z: [Float]) -> Double {
            var p = [Float](repeating: 0, count: z.count), g = p
            SoftmaxCrossEntropy.softmax(z, classes: classes, batch: n, into: &p)
            return Double(SoftmaxCrossEntropy.lossAndGradient(probabilities: p, labels: labels, classes: classes, batch: n, gradient: &g))
        }
        var p = [Float](repeating: 0, count: z.count), g = p
        SoftmaxCrossEntropy.softmax(z, classes: classes, batch: n, into: &p)
        _ = SoftmaxCrossEntropy.lossAndGradient(probabilities: p, labels: labels, classes: classes, batch: n, gradient: &g)
        var numeric: [Double] = []
        for i in z.indices {
            var plus = z, minus = z
            plus[i] += 1e-2; minus[i] -= 1e-2
            numeric.append((loss(plus) - loss(minus)) / 2e-2)
        }
        XCTAssertLessThan(relativeError(g.map(Double.init), numeric), Tolerance.gradientRelative)
        // Huge logits do not overflow.
        XCTAssertTrue(loss([1000, 0, 0, 0, 0, 1000, 0, 0, 0, 0, 0, 1000]).isFinite)
    }

    /// Gradients of the whole classifier (MLP head and fine-tuned encoder) by finite differences.
    /// For the VAE the head is linear and the trunk (fc1) is not probed: the trunk's ReLUs sit
    /// within a step of their kinks on such a small net, and the trunk's backward is already
    /// checked against PyTorch (GoldenTests.testVAE); what is new here is μ's gradient path.
    func testClassifierGradients() throws {
        let cases: [(spec: String, hidden: [Int], skip: String?)] = [
            (denseSpec, [4], nil),
            (#"{"preset": "vae", "input": [1, 4, 4], "hidden": [6], "latent": 3}"#, [], "fc1."),
        ]
        for (preset, hidden, skip) in cases {
            let ae = try Autoencoder(specJSON: preset)
            var spec = ClassifierSpec(classes: 3, hidden: hidden, freezeEncoder: false)
            spec.standardize = false
            let c = try Classifier(autoencoder: ae, spec: spec)
            let (x, y) = batch(5, seed: 2)
            let xt = batchMinor(x, batch: 5)
            _ = c.lossAndGradients(xt, labels: y, batch: 5)
            for store in [c.store] {
                let analytic = Array(UnsafeBufferPointer(start: store.gradients, count: store.count)).map(Double.init)
                let candidates = store.entries.filter { skip == nil || !$0.name.hasPrefix(skip!) }
                    .flatMap { $0.offset..<($0.offset + $0.count) }
                var random = RandomSource(seed: 3)
                let probes = (0..<30).map { _ in candidates[Int(random.next() % UInt64(candidates.count))] }
                let h = Tolerance.gradientStep
                var numeric: [Double] = []
                for i in probes {
                    let saved = store.parameters[i]
                    store.parameters[i] = saved + h
                    let plus = Double(c.lossAndGradients(xt, labels: y, batch: 5).loss)
                    store.parameters[i] = saved - h
                    let minus = Double(c.lossAndGradients(xt, labels: y, batch: 5).loss)
                    store.parameters[i] = saved
                    numeric.append((plus - minus) / Double(2 * h))
                }
                XCTAssertLessThan(relativeError(probes.map { analytic[$0] }, numeric), Tolerance.gradientRelative, preset)
            }
        }
    }

    func testLabelsOutOfRangeAndCopySemantics() throws {
        let ae = try Autoencoder(specJSON: denseSpec)
        let before = ae.parameters().map(\.tensor)
        let c = try Classifier(autoencoder: ae, specJSON: #"{"classes": 3, "freeze_encoder": false}"#)
        var (x, y) = batch(4, seed: 5)
        y[2] = 3
        XCTAssertThrowsError(try c.trainStep(inputs: x, labels: y)) { error in
            guard case AECVError.invalidArgument(let m) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(m.contains("labels[2]"), m)
        }
        y[2] = -1
        XCTAssertThrowsError(try c.trainStep(inputs: x, labels: y))
        y[2] = 1
        for _ in 0..<5 { try c.trainStep(inputs: x, labels: y) }
        XCTAssertEqual(ae.parameters().map(\.tensor), before, "fine-tuning must not touch the autoencoder")
        XCTAssertThrowsError(try Classifier(autoencoder: ae, specJSON: #"{"classes": 1}"#))
        XCTAssertThrowsError(try Classifier(autoencoder: ae, specJSON: #"{"classes": 3, "encoder_learning_rate": 0.1}"#))
        XCTAssertThrowsError(try Classifier(autoencoder: ae, specJSON: #"{"classes": 3, "clases": 3}"#))
    }

    func testSaveLoadRoundTrip() throws {
        let ae = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 8, 8]}"#)
        let c = try Classifier(autoencoder: ae, specJSON: #"{"classes": 3, "hidden": [6], "freeze_encoder": false}"#)
        var random = RandomSource(seed: 1)
        let x = (0..<(6 * 64)).map { _ in random.uniform() }
        for _ in 0..<3 { try c.trainStep(inputs: x, labels: [0, 1, 2, 0, 1, 2]) }
        let path = "/tmp/aecv-classifier-\(getpid()).aecvc"
        defer { unlink(path) }
        try c.save(to: path)
        let loaded = try Classifier(contentsOf: path)
        XCTAssertEqual(try loaded.predict(x), try c.predict(x))
        XCTAssertEqual(loaded.spec, c.spec)
        var bytes = try FileIO.readAll(path: path, maxBytes: 1 << 24)
        bytes[bytes.count / 2] ^= 0x40
        try FileIO.writeAtomically(path: path, bytes: bytes)
        XCTAssertThrowsError(try Classifier(contentsOf: path)) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 6) }
    }

    /// A linear probe and fine-tuning on a briefly pretrained conv AE, on a Fashion-MNIST subset.
    func testLinearProbeAndFineTuningLearn() throws {
        let path = ImageDataset.fashionMNISTDirectory + "/train-images-idx3-ubyte.gz"
        if access(path, R_OK) != 0 {
            throw XCTSkip("SKIPPED LOUDLY: Fashion-MNIST is missing at \(path); install dataset-fashion-mnist (make deps)")
        }
        let train = try ImageDataset.fashionMNIST(train: true, limit: 3_072)
        let test = try ImageDataset.fashionMNIST(train: false, limit: 1_000)
        let ae = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 28, 28]}"#)
        let size = 784, b = 64
        for start in stride(from: 0, to: train.count, by: b) {
            try ae.trainStep(inputs: train.slice(start, count: b))
        }
        func accuracy(_ c: Classifier) throws -> Float {
            let predicted = try c.predictClasses(test.floats())
            return Float(zip(predicted, test.labels).filter { $0 == $1 }.count) / Float(test.count)
        }
        var results: [String: Float] = [:]
        for (name, spec) in [("probe", #"{"classes": 10}"#), ("finetune", #"{"classes": 10, "freeze_encoder": false}"#)] {
            let c = try Classifier(autoencoder: ae, specJSON: spec)
            for _ in 0..<3 {
                for start in stride(from: 0, to: train.count, by: b) {
                    try c.trainStep(inputs: train.slice(start, count: b),
                                    labels: Array(train.labels[start..<(start + b)]))
                }
            }
            results[name] = try accuracy(c)
        }
        print("classifier on 3,072 images: \(results)")
        XCTAssertGreaterThan(results["probe"]!, 0.62)     // measured 0.731
        XCTAssertGreaterThan(results["finetune"]!, 0.62)  // measured 0.719
    }
}

#if canImport(Glibc)
import Glibc
#endif
