import XCTest
import AECV
import AECVData

/// Training on real data: Fashion-MNIST from Debian's dataset-fashion-mnist.
final class ConvergenceTests: XCTestCase {
    private func data() throws -> (train: ImageDataset, test: ImageDataset) {
        let path = ImageDataset.fashionMNISTDirectory + "/train-images-idx3-ubyte.gz"
        if access(path, R_OK) != 0 {
            throw XCTSkip("SKIPPED LOUDLY: Fashion-MNIST is missing at \(path); install dataset-fashion-mnist (make deps)")
        }
        return (try ImageDataset.fashionMNIST(train: true, limit: 6_000),
                try ImageDataset.fashionMNIST(train: false, limit: 1_000))
    }

    /// Mean per-pixel MSE of reconstructions over a dataset.
    private func testMSE(_ m: Autoencoder, _ test: ImageDataset) throws -> Float {
        let r = try m.reconstruct(test.floats())
        var s = 0.0
        let x = test.floats()
        for i in r.indices { s += Double((r[i] - x[i]) * (r[i] - x[i])) }
        return Float(s / Double(r.count))
    }

    private func train(_ m: Autoencoder, _ train: ImageDataset, epochs: Int, batch: Int = 64) throws {
        let size = train.exampleSize
        for _ in 0..<epochs {
            var start = 0
            while start + batch <= train.count {
                let slice = train.slice(start, count: batch)
                try m.trainStep(inputs: slice)
                start += batch
            }
        }
    }

    /// The conv preset, 2 epochs on 6,000 images, Adam 1e-3, batch 64, seed 0: measured 0.0203
    /// test MSE/pixel on 1,000 test images (from 0.173 untrained). Thresholds leave ~20% margin.
    func testConvPresetConvergesOnFashionMNIST() throws {
        let (trainSet, testSet) = try data()
        let m = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 28, 28]}"#)
        let before = try testMSE(m, testSet)
        try train(m, trainSet, epochs: 2)
        let after = try testMSE(m, testSet)
        print("conv: test MSE/pixel \(before) → \(after)")
        XCTAssertLessThan(after, 0.025)
        XCTAssertLessThan(after, before / 4)
    }

    /// Same recipe for the dense preset: measured 0.0284.
    func testDensePresetConvergesOnFashionMNIST() throws {
        let (trainSet, testSet) = try data()
        let m = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 28, 28]}"#)
        try train(m, trainSet, epochs: 2)
        let after = try testMSE(m, testSet)
        print("dense: test MSE/pixel \(after)")
        XCTAssertLessThan(after, 0.035)
    }
}

#if canImport(Glibc)
import Glibc
#endif
