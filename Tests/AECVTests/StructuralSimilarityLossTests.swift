import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV
import AECVData

/// The SSIM losses (`"loss": "ssim"`, `"mse_ssim"`): finite differences of the analytic
/// gradient, the value against the anomaly map's SSIM, the spec, and training on real data.
final class StructuralSimilarityLossTests: XCTestCase {
    /// (shape, batch): a plane smaller than the window with odd sides, a multi-channel one wider
    /// than the window (interior and border pixels), a single row.
    private let cases: [([Int], Int)] = [([1, 7, 5], 2), ([3, 13, 12], 2), ([2, 1, 9], 3)]

    /// Targets in [0, 1] and outputs near them (as a reconstruction is) or independent.
    private func images(_ count: Int, seed: UInt64) -> (y: [Float], t: [Float]) {
        var random = RandomSource(seed: seed)
        let t = (0..<count).map { _ in random.uniform(0.05, 0.95) }
        let y = t.enumerated().map { i, v in i % 3 == 0 ? random.uniform(0.05, 0.95) : v + 0.1 * random.normal() }
        return (y, t)
    }

    /// The kernel in Double: S(y) = Σ SSIM against central differences of S, per pixel.
    func testKernelGradientAgainstFiniteDifferences() {
        let weights = gaussianWeights(radius: ssimWindowRadius, sigma: ssimWindowSigma)
        for (height, width) in [(7, 5), (13, 12), (1, 9), (16, 17)] {
            let plane = height * width
            let (y, x) = images(plane, seed: UInt64(plane))
            var scratch = [Double](repeating: 0, count: ssimGradientScratchCount(height: height, width: width))
            func sum(_ y: [Float]) -> Double {
                ssimSumAndGradient(x, y, height: height, width: width, weights: weights, scratch: &scratch,
                                   gradient: nil, scale: 1)
            }
            var gradient = [Float](repeating: 0, count: plane)
            _ = ssimSumAndGradient(x, y, height: height, width: width, weights: weights, scratch: &scratch,
                                   gradient: &gradient, scale: 1)
            var numeric: [Double] = []
            for i in 0..<plane {
                var plus = y, minus = y
                plus[i] += 1e-3; minus[i] -= 1e-3
                // the loss is Σ (1 − SSIM): its derivative is −∂S/∂y
                numeric.append(-(sum(plus) - sum(minus)) / Double(plus[i] - minus[i]))
            }
            let error = relativeError(gradient.map(Double.init), numeric)
            XCTAssertLessThan(error, 1e-4, "\(height)×\(width)")
        }
    }

    /// The losses as the networks call them: batch-minor buffers, split-batch scale, float32.
    func testLossGradientsAgainstFiniteDifferences() {
        for (shape, batch) in cases {
            let features = shape.reduce(1, *), count = batch * features
            let (y, t) = images(count, seed: UInt64(count))
            for loss in [ModelSpec.Loss.ssim, .mseSSIM] {
                let spec = ModelSpec(preset: .conv, input: shape, loss: loss)
                let objective = NetworkFactory.reconstructionLoss(spec)
                let scale = 1 / Float(features)  // a per-example mean; 1/(batch·features) in training
                func value(_ y: [Float]) -> Double {
                    Double(objective.forward(output: y, target: t, batch: batch, features: features, scale: scale))
                }
                var gradient = [Float](repeating: .nan, count: count)
                let l = objective.forwardBackward(output: y, target: t, gradient: &gradient, batch: batch,
                                                  features: features, scale: scale)
                XCTAssertEqual(Double(l), value(y), accuracy: 1e-6, "forward and forwardBackward agree")
                var numeric: [Double] = []
                for i in 0..<count {
                    var plus = y, minus = y
                    plus[i] += Tolerance.gradientStep; minus[i] -= Tolerance.gradientStep
                    numeric.append((value(plus) - value(minus)) / Double(plus[i] - minus[i]))
                }
                XCTAssertLessThan(relativeError(gradient.map(Double.init), numeric), Tolerance.gradientRelative,
                                  "\(loss) \(shape) batch \(batch)")
            }
        }
    }

    /// Second oracle: the loss is 1 − the mean of the anomaly maps' SSIM (`ssimMap`), and mse_ssim
    /// adds the MSE to it.
    func testValueIsOneMinusTheMapsMeanSSIM() {
        let weights = gaussianWeights(radius: ssimWindowRadius, sigma: ssimWindowSigma)
        for (shape, batch) in cases {
            let (channels, height, width) = (shape[0], shape[1], shape[2])
            let features = shape.reduce(1, *), plane = height * width, count = batch * features
            let (y, t) = images(count, seed: 11)
            var mapSum = 0.0, squares = 0.0
            var scratch = [Double](repeating: 0, count: ssimScratchCount(height: height, width: width))
            var map = [Float](repeating: 0, count: plane)
            for n in 0..<batch {
                for c in 0..<channels {
                    let o = n * features + c * plane
                    ssimMap(Array(t[o..<(o + plane)]), Array(y[o..<(o + plane)]), height: height, width: width,
                            weights: weights, scratch: &scratch, into: &map)
                    mapSum += map.reduce(0.0) { $0 + Double($1) }
                }
            }
            for i in 0..<count { squares += Double((y[i] - t[i]) * (y[i] - t[i])) }
            let expected = 1 - mapSum / Double(count), mse = squares / Double(count)
            // the networks hold batch-minor buffers
            let ym = batchMinor(y, batch: batch), tm = batchMinor(t, batch: batch)
            for (loss, want) in [(ModelSpec.Loss.ssim, expected), (.mseSSIM, expected + mse)] {
                let objective = NetworkFactory.reconstructionLoss(ModelSpec(preset: .conv, input: shape, loss: loss))
                let got = objective.forward(output: ym, target: tm, batch: batch, features: features, scale: 1 / Float(count))
                XCTAssertEqual(Double(got), want, accuracy: 1e-6, "\(loss) \(shape)")
            }
        }
        // Identical images: SSIM 1 everywhere, loss 0.
        let objective = NetworkFactory.reconstructionLoss(ModelSpec(preset: .conv, input: [1, 4, 4], loss: .ssim))
        let x: [Float] = (0..<16).map { Float($0) / 16 }
        XCTAssertEqual(objective.forward(output: x, target: x, batch: 1, features: 16, scale: 1 / 16), 0, accuracy: 1e-6)
    }

    func testSpec() throws {
        for loss in ["ssim", "mse_ssim"] {
            for preset in ["conv", "dense", "sparse", "denoising"] {
                let s = try ModelSpec(json: "{\"preset\": \"\(preset)\", \"input\": [1, 8, 8], \"loss\": \"\(loss)\"}").filled()
                XCTAssertEqual(s.loss?.rawValue, loss)
                XCTAssertEqual(try ModelSpec(json: s.jsonString()), s)
            }
            for preset in ["vae", "conv_vae"] {
                XCTAssertThrowsError(try ModelSpec(json: "{\"preset\": \"\(preset)\", \"input\": [1, 8, 8], \"loss\": \"\(loss)\"}")) { error in
                    guard case AECVError.config(let message) = error else { return XCTFail("\(error)") }
                    XCTAssertTrue(message.hasPrefix("spec.loss: \"\(loss)\" only applies to the conv, dense, sparse, denoising and custom presets, not \(preset)"), message)
                }
            }
        }
        let custom = try Autoencoder(specJSON: #"{"preset": "custom", "input": [1, 6, 6], "loss": "mse_ssim", "encoder": [{"type": "dense", "out": 8}], "decoder": [{"type": "dense", "out": 36}, {"type": "sigmoid"}]}"#)
        var random = RandomSource(seed: 2)
        let x = (0..<(4 * 36)).map { _ in random.uniform() }
        let first = try custom.trainStep(inputs: x)
        XCTAssertTrue(first.isFinite && first > 0)
    }

    /// A conv model trained with 1 − SSIM on Fashion-MNIST: its test 1 − SSIM (its `evaluate`)
    /// falls well below the value at initialization.
    func testConvSSIMConvergesOnFashionMNIST() throws {
        let path = ImageDataset.fashionMNISTDirectory + "/train-images-idx3-ubyte.gz"
        if access(path, R_OK) != 0 {
            throw XCTSkip("SKIPPED LOUDLY: Fashion-MNIST is missing at \(path); install dataset-fashion-mnist (make deps)")
        }
        let trainSet = try ImageDataset.fashionMNIST(train: true, limit: 4_096)
        let test = try ImageDataset.fashionMNIST(train: false, limit: 500)
        let m = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 28, 28], "loss": "ssim", "seed": 1}"#)
        let initial = try m.evaluate(inputs: test.floats())
        let size = trainSet.exampleSize, batch = 64
        for _ in 0..<4 {  // 256 steps
            for start in stride(from: 0, to: trainSet.count - batch + 1, by: batch) {
                try m.trainStep(inputs: trainSet.slice(start, count: batch))
            }
        }
        let final = try m.evaluate(inputs: test.floats())
        print("conv ssim: test 1 − SSIM \(initial) → \(final)")
        XCTAssertLessThan(final, initial / 2.5)  // measured 0.962 → 0.252
    }
}
