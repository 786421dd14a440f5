import XCTest
import AECV
import AECVData

/// Every kind of the family trains on real data: a Fashion-MNIST subset, Adam 1e-3, batch 64.
/// 2 epochs on 4,096 images (128 steps each). Thresholds are the measured values (in the
/// comments) plus about 25% margin.
final class FamilyConvergenceTests: XCTestCase {
    private static var cache: (train: ImageDataset, test: ImageDataset)?

    private func data() throws -> (train: ImageDataset, test: ImageDataset) {
        if let cached = FamilyConvergenceTests.cache { return cached }
        let path = ImageDataset.fashionMNISTDirectory + "/train-images-idx3-ubyte.gz"
        if access(path, R_OK) != 0 {
            throw XCTSkip("SKIPPED LOUDLY: Fashion-MNIST is missing at \(path); install dataset-fashion-mnist (make deps)")
        }
        let loaded = (try ImageDataset.fashionMNIST(train: true, limit: 4_096),
                      try ImageDataset.fashionMNIST(train: false, limit: 1_000))
        FamilyConvergenceTests.cache = loaded
        return loaded
    }

    private func train(_ spec: String, epochs: Int = 2) throws -> (Autoencoder, ImageDataset) {
        let (trainSet, testSet) = try data()
        let m = try Autoencoder(specJSON: spec)
        let size = trainSet.exampleSize, batch = 64
        for _ in 0..<epochs {
            for start in stride(from: 0, to: trainSet.count - batch + 1, by: batch) {
                try m.trainStep(inputs: trainSet.slice(start, count: batch))
            }
        }
        return (m, testSet)
    }

    private func mse(_ a: [Float], _ b: [Float]) -> Float {
        var s = 0.0
        for i in a.indices { s += Double((a[i] - b[i]) * (a[i] - b[i])) }
        return Float(s / Double(a.count))
    }

    func testSparseL1() throws {
        let (m, test) = try train(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {"l1": 0.001}}"#)
        let error = mse(try m.reconstruct(test.floats()), test.floats())
        let sparsity = try m.codeSparsity(test.floats())
        print("sparse l1: test MSE \(error), zero codes \(sparsity)")
        XCTAssertLessThan(error, 0.046)          // measured 0.0366
        XCTAssertGreaterThan(sparsity, 0.3)      // measured 0.64 of the ReLU codes are exactly 0
    }

    func testSparseKL() throws {
        let (m, test) = try train(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {"kl": {"rho": 0.05, "beta": 3}}}"#)
        let error = mse(try m.reconstruct(test.floats()), test.floats())
        let codes = try m.encode(test.floats())
        let meanActivation = codes.reduce(0, +) / Float(codes.count)
        print("sparse kl: test MSE \(error), mean code activation \(meanActivation)")
        XCTAssertLessThan(error, 0.086)          // measured 0.069
        XCTAssertLessThan(meanActivation, 0.1, "the KL penalty pulls mean activations toward rho = 0.05")  // measured 0.056
    }

    func testDenoisingKinds() throws {
        for (noise, corrupt) in [("{\"gaussian\": 0.3}", "gaussian"), ("{\"masking\": 0.25}", "masking"),
                                 ("{\"salt_pepper\": 0.1}", "salt_pepper")] {
            let (m, test) = try train("{\"preset\": \"denoising\", \"input\": [1, 28, 28], \"noise\": \(noise)}")
            // Corrupt the test set the same way (with a generator of our own) and denoise it.
            var random = LCG(seed: 7)
            let noisy: [Float] = test.floats().map { x in
                switch corrupt {
                case "gaussian": return min(max(x + 0.3 * random.normal(), 0), 1)
                case "masking": return random.uniform() < 0.25 ? 0 : x
                default:
                    let u = random.uniform()
                    return u < 0.1 ? (u < 0.05 ? 0 : 1) : x
                }
            }
            let before = mse(noisy, test.floats())
            let after = mse(try m.reconstruct(noisy), test.floats())
            print("denoising \(corrupt): noisy→clean MSE \(before) → \(after)")
            // measured: gaussian 0.0527 → 0.0274, masking 0.0527 → 0.0282, salt_pepper 0.0421 → 0.0265
            XCTAssertLessThan(after, before * 0.7, corrupt)
            XCTAssertLessThan(after, 0.035, corrupt)
        }
    }

    func testVAE() throws {
        let (m, test) = try train(#"{"preset": "vae", "input": [1, 28, 28]}"#)
        let elbo = -(try m.evaluate(inputs: test.floats()))
        let error = mse(try m.reconstruct(test.floats()), test.floats())
        print("vae: test ELBO \(elbo) nats, MSE of the decoded mean \(error)")
        XCTAssertGreaterThan(elbo, -320)         // measured −291
        XCTAssertLessThan(error, 0.046)          // measured 0.0369
    }

    func testConvVAE() throws {
        let (m, test) = try train(#"{"preset": "conv_vae", "input": [1, 28, 28]}"#)
        let elbo = -(try m.evaluate(inputs: test.floats()))
        let error = mse(try m.reconstruct(test.floats()), test.floats())
        print("conv_vae: test ELBO \(elbo) nats, MSE of the decoded mean \(error)")
        XCTAssertGreaterThan(elbo, -360)         // measured −319
        XCTAssertLessThan(error, 0.064)          // measured 0.0507
    }
}

/// A small generator for test-side noise, independent of the library's.
struct LCG {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1 }
    mutating func uniform() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24)
    }
    mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}

#if canImport(Glibc)
import Glibc
#endif
