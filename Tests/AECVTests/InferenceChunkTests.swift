import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Inference over a batch larger than `Autoencoder.inferenceChunk` runs chunk by chunk (bounded
/// workspaces): the results must equal those of the same examples run in small batches.
final class InferenceChunkTests: XCTestCase {
    func testChunkSizeFollowsTheExampleSize() {
        XCTAssertEqual(Autoencoder.inferenceChunk(exampleFloats: 784), 1024)
        XCTAssertEqual(Autoencoder.inferenceChunk(exampleFloats: 3 * 128 * 128), 85)
        XCTAssertEqual(Autoencoder.inferenceChunk(exampleFloats: 3 * 1024 * 1024), 32, "at least 32")
    }

    func testLargeBatchesGiveWhatSmallBatchesGive() throws {
        for preset in ["dense", "conv"] {
            let m = try Autoencoder(specJSON: #"{"preset": "\#(preset)", "input": [1, 28, 28], "seed": 3}"#)
            let n = 2 * 1024 + 37  // three chunks, the last one short
            var random = RandomSource(seed: 9)
            let x = (0..<(n * 784)).map { _ in random.uniform() }
            let codes = try m.encode(x), images = try m.reconstruct(x)
            XCTAssertEqual(try m.decode(codes).count, n * 784)
            for i in [0, 1023, 1024, 2047, 2048, n - 1] {
                let one = Array(x[(i * 784)..<((i + 1) * 784)])
                let l = m.latentSize
                XCTAssertLessThan(maxAbsoluteDifference(try m.encode(one), Array(codes[(i * l)..<((i + 1) * l)])), 1e-5,
                                  "\(preset) example \(i): codes")
                XCTAssertLessThan(maxAbsoluteDifference(try m.reconstruct(one), Array(images[(i * 784)..<((i + 1) * 784)])), 1e-5,
                                  "\(preset) example \(i): reconstruction")
            }
        }
    }
}
