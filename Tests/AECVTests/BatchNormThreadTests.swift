import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
import AECV

/// BatchNorm on a training batch split among threads: the parts combine their statistics
/// (`BatchPartition`, `PartRendezvous`), so gradients, running statistics and trained weights
/// do not depend on the thread count beyond float rounding; and the split falls back to one part
/// when the threads cannot run together.
final class BatchNormThreadTests: XCTestCase {
    override func tearDown() { ComputeThreads.set(2) }

    /// BN2d after a conv, BN2d inside a residual block, BN1d on the code: every kind of place.
    /// SGD, because Adam would turn the rounding noise in the gradient of a bias before a
    /// BatchNorm (zero in exact arithmetic) into full-size steps of either sign.
    private let spec = #"""
    {"preset": "custom", "input": [2, 8, 8], "seed": 11, "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
     "encoder": [{"type": "conv2d", "out": 6, "kernel": 3, "padding": 1, "bias": false}, {"type": "batch_norm2d", "momentum": 0.3},
                 {"type": "relu"}, {"type": "max_pool2d", "kernel": 2},
                 {"type": "residual", "layers": [{"type": "conv2d", "out": 6, "kernel": 3, "padding": 1}, {"type": "batch_norm2d"}, {"type": "silu"}]},
                 {"type": "flatten"}, {"type": "dense", "out": 12}, {"type": "batch_norm1d"}],
     "decoder": [{"type": "dense", "out": 128}, {"type": "unflatten", "shape": [2, 8, 8]}, {"type": "sigmoid"}]}
    """#

    private func batch(_ n: Int) -> [Float] {
        var random = RandomSource(seed: 21)
        // Channels with different offsets and spreads, so a part's statistics differ from the batch's.
        return (0..<(n * 128)).map { i in random.uniform() * Float(1 + i % 3) + Float(i % 128 < 64 ? 0 : 2) }
    }

    /// One training step's gradient and next running statistics at 1, 2 and 3 threads, on an
    /// uneven batch (49 = 16 + 16 + 17); then 3 SGD steps.
    func testSplitBatchMatchesTheWholeBatch() throws {
        let x = batch(49)
        var gradients: [[Float]] = [], trained: [[Float]] = []
        for threads in [1, 2, 3] {
            ComputeThreads.set(threads)
            let m = try Autoencoder(specJSON: spec)
            _ = try x.withUnsafeBufferPointer { try m.computeGradients(inputs: $0, targets: nil, batch: 49) }
            XCTAssertEqual(m.replicas.count, threads - 1, "the batch was split in \(threads) parts")
            gradients.append(Array(UnsafeBufferPointer(start: m.store.gradients, count: m.store.count))
                             + Array(UnsafeBufferPointer(start: m.store.nextBuffers, count: m.store.bufferCount)))
            try m.applyGradients()
            for _ in 0..<2 { try m.trainStep(inputs: x) }
            trained.append(m.parameters().flatMap(\.tensor.values) + m.buffers().flatMap(\.tensor.values)
                           + (try m.reconstruct(x)))
        }
        for k in 1...2 {
            XCTAssertLessThan(maxRelativeDifference(gradients[k], gradients[0]), 2e-5, "\(k + 1) threads: gradient")
            XCTAssertLessThan(maxRelativeDifference(trained[k], trained[0]), 1e-4, "\(k + 1) threads: after 3 steps")
        }
        // It can fail: per-part statistics (what a split without the rendezvous would give) differ.
        ComputeThreads.set(1)
        let whole = try Autoencoder(specJSON: spec)
        _ = try x.withUnsafeBufferPointer { try whole.computeGradients(inputs: UnsafeBufferPointer(rebasing: $0[0..<(16 * 128)]), targets: nil, batch: 16) }
        let partOnly = Array(UnsafeBufferPointer(start: whole.store.nextBuffers, count: whole.store.bufferCount))
        XCTAssertGreaterThan(maxRelativeDifference(partOnly, Array(gradients[0].suffix(whole.store.bufferCount))), 1e-3)
    }

    /// A pool busy with another caller cannot give the parts their threads: runTogether runs
    /// nothing and says so, and training falls back to one part with the same result.
    func testBusyPoolFallsBackToOnePart() throws {
        ComputeThreads.set(2)
        let x = batch(32)
        let reference = try Autoencoder(specJSON: spec)
        let expected = try reference.trainStep(inputs: x)
        XCTAssertEqual(reference.replicas.count, 1)
        var refused = false, ran = false, loss: Float = .nan, replicas = -1
        WorkerPool.shared.run(2) { part in
            guard part == 0 else { return }
            refused = !WorkerPool.shared.runTogether(2) { _ in ran = true }
            let m = try! Autoencoder(specJSON: spec)
            loss = try! m.trainStep(inputs: x)
            replicas = m.replicas.count
        }
        XCTAssertTrue(refused)
        XCTAssertFalse(ran)
        XCTAssertEqual(replicas, 1, "a replica was made for the split")
        XCTAssertEqual(loss, expected, accuracy: 1e-5 * abs(expected), "one part gives the same loss")
    }

    /// Three threads exchange 2,000 times in a row, each value written to alternating buffers as
    /// the contract says: every part reads every other part's value of the same episode.
    func testRendezvousPartsSeeEachOthersValues() {
        ComputeThreads.set(3)
        let parts = 3, episodes = 2000
        let meeting = PartRendezvous(parts: parts)
        let buffers = UnsafeMutablePointer<Double>.allocate(capacity: parts * 2)
        defer { buffers.deallocate() }
        let wrong = UnsafeMutablePointer<Int>.allocate(capacity: parts)
        wrong.initialize(repeating: 0, count: parts)
        defer { wrong.deallocate() }
        let together = WorkerPool.shared.runTogether(parts) { part in
            for e in 0..<episodes {
                let mine = buffers + part * 2 + (e & 1)
                mine.pointee = Double(e * 10 + part)
                let table = meeting.exchange(part: part, mine)
                for p in 0..<parts where table[p]!.pointee != Double(e * 10 + p) { wrong[part] += 1 }
            }
        }
        XCTAssertTrue(together, "the pool has 3 threads")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: wrong, count: parts)), [0, 0, 0])
    }
}
