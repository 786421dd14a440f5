import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The Adam update kernel (C, split among threads for large models) against the scalar formula
/// written out in Swift, bit for bit, and its finiteness flag in every part.
final class OptimizerTests: XCTestCase {
    override func tearDown() { ComputeThreads.set(2) }

    /// One Adam step of `count` parameters with the given thread count; returns (ok, p', m', v').
    private func adamStep(count: Int, threads: Int, weightDecay: Float, poison: Int? = nil)
        -> (ok: Bool, p: [Float], state: [Float], reference: (p: [Float], m: [Float], v: [Float])) {
        ComputeThreads.set(threads)
        var random = RandomSource(seed: 5)
        var p = (0..<count).map { _ in random.uniform(-1, 1) }
        let g = (0..<count).map { _ in random.uniform(-0.1, 0.1) }
        if let poison { p[poison] = .infinity }
        let adam = try! Adam(count: count, learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: weightDecay)
        // A first step so m and v are not zero, then the step under test.
        var pNew = [Float](repeating: 0, count: count)
        _ = adam.prepare(parameters: p, gradients: g, newParameters: &pNew)
        adam.commit()
        let (m1, v1) = (Array(UnsafeBufferPointer(start: adam.stateBuffers[0].pointer, count: count)),
                        Array(UnsafeBufferPointer(start: adam.stateBuffers[1].pointer, count: count)))
        let p1 = pNew
        let g2 = g.map { -0.5 * $0 }
        let ok = adam.prepare(parameters: p1, gradients: g2, newParameters: &pNew)
        adam.commit()
        let state = Array(UnsafeBufferPointer(start: adam.stateBuffers[0].pointer, count: count))
            + Array(UnsafeBufferPointer(start: adam.stateBuffers[1].pointer, count: count))
        // The formula, scalar, same operation order (Swift does not contract into FMA).
        // As Adam computes them: Float hyperparameters widened to Double, t = 2.
        let stepSize = Float(Double(Float(1e-3)) / (1 - pow(Double(Float(0.9)), 2)))
        let root = Float((1 - pow(Double(Float(0.999)), 2)).squareRoot())
        var rp = [Float](), rm = [Float](), rv = [Float]()
        for i in 0..<count {
            let gi = weightDecay == 0 ? g2[i] : g2[i] + weightDecay * p1[i]
            let mi = 0.9 * m1[i] + (1 - 0.9) * gi
            let vi = 0.999 * v1[i] + (1 - 0.999) * gi * gi
            rm.append(mi); rv.append(vi)
            rp.append(p1[i] - stepSize * mi / (vi.squareRoot() / root + 1e-8))
        }
        return (ok, pNew, state, (rp, rm, rv))
    }

    /// Elements whose bit patterns differ (a count, not a 100,000-element failure message).
    private func mismatches(_ a: [Float], _ b: [Float]) -> Int {
        a.count != b.count ? max(a.count, b.count) : zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
    }

    func testAdamKernelMatchesTheFormulaBitForBit() {
        for (count, threads, wd) in [(1_003, 1, Float(0)), (70_001, 2, 0), (70_001, 2, 0.01), (200_000, 3, 0)] {
            let r = adamStep(count: count, threads: threads, weightDecay: wd)
            XCTAssertTrue(r.ok)
            XCTAssertEqual(mismatches(r.p, r.reference.p), 0, "parameters, count \(count), \(threads) threads, wd \(wd)")
            XCTAssertEqual(mismatches(r.state, r.reference.m + r.reference.v), 0, "moments, count \(count), \(threads) threads")
        }
    }

    /// The split among threads gives exactly the single-thread result.
    func testThreadsDoNotChangeTheUpdate() {
        let one = adamStep(count: 100_000, threads: 1, weightDecay: 0.001)
        let two = adamStep(count: 100_000, threads: 2, weightDecay: 0.001)
        XCTAssertEqual(mismatches(one.p, two.p), 0)
        XCTAssertEqual(mismatches(one.state, two.state), 0)
    }

    /// A non-finite value anywhere (first part, last part, the scalar tail) is reported.
    func testNonFiniteIsReportedInEveryPart() {
        for poison in [0, 40_000, 99_998, 100_002] {
            XCTAssertFalse(adamStep(count: 100_003, threads: 2, weightDecay: 0, poison: poison).ok, "Inf at \(poison)")
        }
        XCTAssertTrue(adamStep(count: 100_003, threads: 2, weightDecay: 0).ok)
    }
}
