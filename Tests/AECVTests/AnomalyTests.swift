import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV
import AECVData

/// SSIM values against Double references: the kernel accumulates in Double and rounds once to
/// float32 (~6e-8 for values near 1), so 1e-6 is tight yet safe.
private enum AnomalyTolerance {
    static let ssim: Float = 1e-6
}

/// Anomaly scores and maps (Autoencoder+Anomaly.swift, AnomalyMetric.swift, the SSIM kernel):
/// consistency of scores with maps, SSIM against a direct reference and against closed forms,
/// argument errors, and a short one-class convergence check on Fashion-MNIST.
final class AnomalyTests: XCTestCase {
    /// Pixels in [0, 1) from a fixed generator.
    private func randomImages(_ count: Int, seed: UInt64) -> [Float] {
        var random = RandomSource(seed: seed)
        return (0..<count).map { _ in random.uniform() }
    }

    private func smallDense() throws -> Autoencoder {
        try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 8, 8], "hidden": [16], "latent": 4}"#)
    }

    // MARK: - Scores and maps agree

    /// MSE map = (x − x̂)² per pixel; score = mean of the map. 300 examples: two chunks.
    func testMSEMapIsSquaredErrorAndScoreIsItsMean() throws {
        let m = try smallDense()
        let x = randomImages(300 * 64, seed: 1)
        let r = try m.reconstruct(x)
        let maps = try m.anomalyMaps(x, metric: .mse)
        let scores = try m.anomalyScores(x, metric: .mse)
        XCTAssertEqual(scores.count, 300)
        XCTAssertEqual(maps.count, x.count)
        XCTAssertLessThan(maxAbsoluteDifference(maps, zip(x, r).map { ($0 - $1) * ($0 - $1) }), 1e-6)
        for i in 0..<300 {
            let mean = maps[(i * 64)..<((i + 1) * 64)].reduce(0, +) / 64
            XCTAssertEqual(scores[i], mean, accuracy: 1e-6 * max(1, mean), "example \(i)")
        }
    }

    /// Chunking does not change the answer: scoring 300 at once equals scoring one at a time.
    func testScoresDoNotDependOnTheBatching() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 12, 12]}"#)
        let x = randomImages(300 * 144, seed: 2)
        for metric in AnomalyMetric.allCases {
            let all = try m.anomalyScores(x, metric: metric)
            for i in [0, 255, 256, 299] {
                let one = try m.anomalyScores(Array(x[(i * 144)..<((i + 1) * 144)]), metric: metric)
                XCTAssertEqual(all[i], one[0], accuracy: 1e-5, "\(metric) example \(i)")
            }
        }
    }

    /// SSIM score = mean of the SSIM map, maps in [0, 2]; several channels are mapped one by one.
    func testSSIMScoreIsTheMeanOfItsMapPerChannel() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "conv", "input": [3, 9, 13]}"#)
        let size = 3 * 9 * 13
        let x = randomImages(5 * size, seed: 3)
        let r = try m.reconstruct(x)
        let maps = try m.anomalyMaps(x, metric: .ssim)
        let scores = try m.anomalyScores(x, metric: .ssim)
        XCTAssertTrue(maps.allSatisfy { $0 >= 0 && $0 <= 2 })
        for i in 0..<5 {
            let map = Array(maps[(i * size)..<((i + 1) * size)])
            XCTAssertEqual(scores[i], map.reduce(0, +) / Float(size), accuracy: 1e-5)
            for c in 0..<3 {
                let o = i * size + c * 117
                let reference = referenceSSIM(Array(x[o..<(o + 117)]), Array(r[o..<(o + 117)]), height: 9, width: 13)
                XCTAssertLessThan(maxAbsoluteDifference(Array(map[(c * 117)..<((c + 1) * 117)]),
                                                        reference.map { Float(1 - $0) }), AnomalyTolerance.ssim)
            }
        }
    }

    // MARK: - SSIM against a reference and closed forms

    /// The SSIM of Wang et al. written directly: for each pixel, the 11×11 Gaussian window
    /// (σ = 1.5) over the pixels inside the image, renormalized; moments in Double.
    private func referenceSSIM(_ x: [Float], _ y: [Float], height: Int, width: Int) -> [Double] {
        let c1 = 0.01 * 0.01, c2 = 0.03 * 0.03
        var out = [Double](repeating: 0, count: height * width)
        for r in 0..<height {
            for c in 0..<width {
                var (wsum, mx, my, mxx, myy, mxy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
                for dr in -5...5 {
                    for dc in -5...5 {
                        let (rr, cc) = (r + dr, c + dc)
                        if rr < 0 || rr >= height || cc < 0 || cc >= width { continue }
                        let g = exp(-Double(dr * dr + dc * dc) / (2 * 1.5 * 1.5))
                        let p = Double(x[rr * width + cc]), q = Double(y[rr * width + cc])
                        wsum += g; mx += g * p; my += g * q; mxx += g * p * p; myy += g * q * q; mxy += g * p * q
                    }
                }
                mx /= wsum; my /= wsum; mxx /= wsum; myy /= wsum; mxy /= wsum
                let vx = mxx - mx * mx, vy = myy - my * my, cxy = mxy - mx * my
                out[r * width + c] = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
            }
        }
        return out
    }

    private func kernelSSIM(_ x: [Float], _ y: [Float], height: Int, width: Int) -> [Float] {
        var map = [Float](repeating: 0, count: height * width)
        var scratch = [Double](repeating: 0, count: ssimScratchCount(height: height, width: width))
        let weights = gaussianWeights(radius: ssimWindowRadius, sigma: ssimWindowSigma)
        ssimMap(x, y, height: height, width: width, weights: weights, scratch: &scratch, into: &map)
        return map
    }

    func testSSIMKernelMatchesTheDirectReference() {
        for (height, width) in [(28, 28), (12, 17), (3, 5), (1, 1), (40, 7)] {
            let x = randomImages(height * width, seed: 4)
            // A related image, so SSIM spans more than the near-zero of unrelated noise.
            let noise = randomImages(height * width, seed: 5)
            let y = zip(x, noise).map { min(1, max(0, 0.7 * $0 + 0.3 * $1)) }
            let got = kernelSSIM(x, y, height: height, width: width)
            let want = referenceSSIM(x, y, height: height, width: width)
            XCTAssertLessThan(maxAbsoluteDifference(got, want.map { Float($0) }), AnomalyTolerance.ssim, "\(height)×\(width)")
        }
    }

    /// Identical images: SSIM = 1 everywhere, so the map and the score are 0.
    func testSSIMOfIdenticalImagesIsZeroAnomaly() {
        let x = randomImages(28 * 28, seed: 6)
        var mapper = AnomalyMapper(metric: .ssim, shape: [1, 28, 28])
        var map = [Float](repeating: -1, count: 28 * 28)
        mapper.map(x, x, into: &map)
        XCTAssertLessThan(map.map(abs).max()!, AnomalyTolerance.ssim)
        // Also for a flat image (zero variance): only the luminance term is left, and it is 1.
        let flat = [Float](repeating: 0.25, count: 28 * 28)
        mapper.map(flat, flat, into: &map)
        XCTAssertLessThan(map.map(abs).max()!, AnomalyTolerance.ssim)
    }

    /// y = x + d: σy = σx and σxy = σx², so the contrast-structure factor is exactly 1 and
    /// SSIM = (2 μx (μx + d) + C1) / (μx² + (μx + d)² + C1) with μx the local mean.
    func testSSIMOfAConstantShiftIsTheLuminanceTerm() {
        let c1 = 0.01 * 0.01
        // A constant image: μx = c everywhere.
        for (c, d) in [(0.2, 0.1), (0.5, -0.3), (0.0, 0.05), (0.9, 0.1)] {
            let x = [Float](repeating: Float(c), count: 20 * 20)
            let y = x.map { $0 + Float(d) }
            let want = (2 * c * (c + d) + c1) / (c * c + (c + d) * (c + d) + c1)
            let got = kernelSSIM(x, y, height: 20, width: 20)
            XCTAssertLessThan(got.map { abs(Double($0) - want) }.max()!, Double(AnomalyTolerance.ssim), "c \(c), d \(d)")
        }
        // A textured image: μx varies, the formula holds pixel by pixel.
        let x = randomImages(16 * 16, seed: 7).map { 0.5 * $0 }
        let d = 0.2
        let y = x.map { $0 + Float(d) }
        let got = kernelSSIM(x, y, height: 16, width: 16)
        let localMeans = localMean(x, height: 16, width: 16)
        for i in 0..<256 {
            let m = localMeans[i]
            let want = (2 * m * (m + d) + c1) / (m * m + (m + d) * (m + d) + c1)
            XCTAssertEqual(Double(got[i]), want, accuracy: Double(AnomalyTolerance.ssim), "pixel \(i)")
        }
    }

    /// The window-weighted mean around each pixel (same window as referenceSSIM).
    private func localMean(_ x: [Float], height: Int, width: Int) -> [Double] {
        var out = [Double](repeating: 0, count: height * width)
        for r in 0..<height {
            for c in 0..<width {
                var (wsum, s) = (0.0, 0.0)
                for dr in -5...5 {
                    for dc in -5...5 where (0..<height).contains(r + dr) && (0..<width).contains(c + dc) {
                        let g = exp(-Double(dr * dr + dc * dc) / (2 * 1.5 * 1.5))
                        wsum += g
                        s += g * Double(x[(r + dr) * width + c + dc])
                    }
                }
                out[r * width + c] = s / wsum
            }
        }
        return out
    }

    // MARK: - Blurred MSE against a reference

    /// map = (G ∗ (x − x̂))², G the 9×9 Gaussian (σ = 1) over the pixels inside the image,
    /// renormalized: written directly in 2-D, in Double.
    func testBlurredMSEMatchesTheDirectReference() {
        for (channels, height, width) in [(1, 28, 28), (2, 6, 11), (1, 1, 3)] {
            let size = channels * height * width
            let x = randomImages(size, seed: 9), r = randomImages(size, seed: 10)
            var mapper = AnomalyMapper(metric: .blurredMSE, shape: [channels, height, width])
            var map = [Float](repeating: -1, count: size)
            mapper.map(x, r, into: &map)
            var want = [Float](repeating: 0, count: size)
            for c in 0..<channels {
                for i in 0..<height {
                    for j in 0..<width {
                        var (wsum, s) = (0.0, 0.0)
                        for di in -4...4 {
                            for dj in -4...4 where (0..<height).contains(i + di) && (0..<width).contains(j + dj) {
                                let g = exp(-Double(di * di + dj * dj) / 2)
                                let o = c * height * width + (i + di) * width + j + dj
                                wsum += g
                                s += g * (Double(x[o]) - Double(r[o]))
                            }
                        }
                        want[c * height * width + i * width + j] = Float((s / wsum) * (s / wsum))
                    }
                }
            }
            XCTAssertLessThan(maxAbsoluteDifference(map, want), 1e-6, "\(channels)×\(height)×\(width)")
        }
        // A constant difference d stays d after the blur: map = d² everywhere.
        var mapper = AnomalyMapper(metric: .blurredMSE, shape: [1, 7, 5])
        var map = [Float](repeating: 0, count: 35)
        mapper.map([Float](repeating: 0.75, count: 35), [Float](repeating: 0.5, count: 35), into: &map)
        XCTAssertLessThan(map.map { abs($0 - 0.0625) }.max()!, 1e-6)
    }

    // MARK: - Errors

    func testMetricValuesAndNames() throws {
        XCTAssertEqual(AnomalyMetric.mse.rawValue, 0)
        XCTAssertEqual(AnomalyMetric.ssim.rawValue, 1)
        for metric in AnomalyMetric.allCases {
            XCTAssertEqual(AnomalyMetric(name: metric.name), metric)
            XCTAssertEqual(try AnomalyMetric(validating: metric.rawValue), metric)
        }
        XCTAssertNil(AnomalyMetric(name: "MSE "))
        XCTAssertThrowsError(try AnomalyMetric(validating: 42)) { error in
            guard case AECVError.invalidArgument(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("metric") && message.contains("42"), message)
        }
    }

    func testArgumentErrorsWriteNothing() throws {
        let m = try smallDense()
        var x = randomImages(3 * 64, seed: 8)
        var out = [Float](repeating: -7, count: 3 * 64)
        func status(_ body: () throws -> Void) -> AECVError? {
            do { try body(); return nil } catch { return error as? AECVError }
        }
        let scoresTooSmall = status {
            try x.withUnsafeBufferPointer { xs in
                try out.withUnsafeMutableBufferPointer {
                    try m.anomalyScores(inputs: xs, batch: 3, metric: .mse, into: UnsafeMutableBufferPointer(rebasing: $0[0..<2]))
                }
            }
        }
        guard case .shape(let message)? = scoresTooSmall else { return XCTFail("\(String(describing: scoresTooSmall))") }
        XCTAssertTrue(message.contains("scores"), message)
        let mapsTooSmall = status {
            try x.withUnsafeBufferPointer { xs in
                try out.withUnsafeMutableBufferPointer {
                    try m.anomalyMaps(inputs: xs, batch: 3, metric: .ssim, into: UnsafeMutableBufferPointer(rebasing: $0[0..<(3 * 64 - 1)]))
                }
            }
        }
        guard case .shape? = mapsTooSmall else { return XCTFail("\(String(describing: mapsTooSmall))") }
        let wrongBatch = status {
            try x.withUnsafeBufferPointer { xs in
                try out.withUnsafeMutableBufferPointer { try m.anomalyScores(inputs: xs, batch: 2, metric: .mse, into: $0) }
            }
        }
        guard case .shape? = wrongBatch else { return XCTFail("\(String(describing: wrongBatch))") }
        let zeroBatch = status {
            try x.withUnsafeBufferPointer { xs in
                try out.withUnsafeMutableBufferPointer { try m.anomalyScores(inputs: xs, batch: 0, metric: .mse, into: $0) }
            }
        }
        guard case .invalidArgument? = zeroBatch else { return XCTFail("\(String(describing: zeroBatch))") }
        x[2 * 64 + 5] = .nan
        let nonFinite = status { _ = try m.anomalyMaps(x, metric: .ssim) }
        guard case .nonFinite? = nonFinite else { return XCTFail("\(String(describing: nonFinite))") }
        XCTAssertTrue(out.allSatisfy { $0 == -7 })
        XCTAssertThrowsError(try m.anomalyScores([Float](repeating: 0, count: 65)))
        XCTAssertThrowsError(try m.anomalyScores([]))
    }

    /// Values of numpy's np.quantile (linear) on the same data.
    func testThresholdIsNumpysLinearQuantile() throws {
        let scores: [Float] = [0.5, 0.1, 0.4, 0.2, 0.3]
        XCTAssertEqual(try anomalyThreshold(scores: scores, quantile: 0), 0.1)
        XCTAssertEqual(try anomalyThreshold(scores: scores, quantile: 1), 0.5)
        XCTAssertEqual(try anomalyThreshold(scores: scores, quantile: 0.5), 0.3)
        XCTAssertEqual(try anomalyThreshold(scores: scores, quantile: 0.99), 0.496, accuracy: 1e-7)  // np: 0.496
        XCTAssertEqual(try anomalyThreshold(scores: [2], quantile: 0.3), 2)
        XCTAssertThrowsError(try anomalyThreshold(scores: [], quantile: 0.5))
        XCTAssertThrowsError(try anomalyThreshold(scores: scores, quantile: 1.5))
        XCTAssertThrowsError(try anomalyThreshold(scores: [0, .nan], quantile: 0.5))
    }

    // MARK: - One-class convergence on Fashion-MNIST

    /// The conv preset trained for 5 epochs on 1,000 trousers (class 1) scores 500 held-out
    /// trousers lower than 500 bags (class 8) on average, with every metric. Measured (seed 0):
    /// mean-score ratios normal/anomalous 0.29 (mse), 0.39 (ssim), 0.14 (blurred_mse), AUROC
    /// 0.985, 0.990, 0.991; the thresholds (ratio < 0.6, AUROC > 0.9) leave a wide margin.
    func testOneClassConvAutoencoderScoresItsClassLower() throws {
        let path = ImageDataset.fashionMNISTDirectory + "/train-images-idx3-ubyte.gz"
        if access(path, R_OK) != 0 {
            throw XCTSkip("SKIPPED LOUDLY: Fashion-MNIST is missing at \(path); install dataset-fashion-mnist (make deps)")
        }
        // The first 12,000 training images hold 1,185 trousers; the first 6,000 test images ~600
        // of each class.
        let train = try ImageDataset.fashionMNIST(train: true, limit: 12_000)
        let test = try ImageDataset.fashionMNIST(train: false, limit: 6_000)
        func examples(_ set: ImageDataset, label: Int32, count: Int) -> [Float] {
            var out: [Float] = []
            for i in 0..<set.count where set.labels[i] == label && out.count < count * 784 {
                out += set.slice(i, count: 1)
            }
            return out
        }
        let normalTrain = examples(train, label: 1, count: 1_000)
        let normalTest = examples(test, label: 1, count: 500)
        let anomalous = examples(test, label: 8, count: 500)
        guard normalTrain.count == 1_000 * 784, normalTest.count == 500 * 784, anomalous.count == 500 * 784 else {
            return XCTFail("too few examples: \(normalTrain.count / 784), \(normalTest.count / 784), \(anomalous.count / 784)")
        }
        let m = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 28, 28], "seed": 0}"#)
        for _ in 0..<5 {
            for start in stride(from: 0, to: 1_000, by: 50) {
                try m.trainStep(inputs: Array(normalTrain[(start * 784)..<((start + 50) * 784)]))
            }
        }
        for metric in AnomalyMetric.allCases {
            let normal = try m.anomalyScores(normalTest, metric: metric)
            let other = try m.anomalyScores(anomalous, metric: metric)
            let meanNormal = normal.reduce(0, +) / Float(normal.count)
            let meanOther = other.reduce(0, +) / Float(other.count)
            // AUROC by pair counting (ties count 1/2).
            var wins = 0.0
            for a in other { for n in normal { wins += a > n ? 1 : (a == n ? 0.5 : 0) } }
            let auroc = wins / Double(normal.count * other.count)
            print("anomaly \(metric.name): mean score trousers \(meanNormal), bags \(meanOther), AUROC \(auroc)")
            XCTAssertLessThan(meanNormal, 0.6 * meanOther, metric.name)
            XCTAssertGreaterThan(auroc, 0.9, metric.name)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
