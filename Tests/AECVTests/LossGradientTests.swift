import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Finite-difference checks of every loss and penalty, in Double against the float32 kernels.
final class LossGradientTests: XCTestCase {
    private func check(count: Int, output: [Float], value: ([Float]) -> Float,
                       gradient: ([Float]) -> [Float], _ what: String) {
        let analytic = gradient(output).map(Double.init)
        var numeric: [Double] = []
        let h: Float = 1e-3
        for i in 0..<count {
            var plus = output, minus = output
            plus[i] += h; minus[i] -= h
            numeric.append((Double(value(plus)) - Double(value(minus))) / Double(2 * h))
        }
        XCTAssertLessThan(relativeError(analytic, numeric), Tolerance.gradientRelative, what)
    }

    func testReconstructionLosses() {
        var random = RandomSource(seed: 3)
        let n = 24
        let target: [Float] = (0..<n).map { _ in random.uniform() }
        let probabilities: [Float] = (0..<n).map { _ in random.uniform(0.05, 0.95) }
        let logits: [Float] = (0..<n).map { _ in random.uniform(-4, 4) }
        let cases: [(ReconstructionLoss, [Float])] = [
            (.meanSquaredError, probabilities), (.binaryCrossEntropy, probabilities),
            (.binaryCrossEntropyWithLogits, logits),
        ]
        for (loss, output) in cases {
            for scale: Float in [1 / Float(n), 0.5] {
                check(count: n, output: output,
                      value: { loss.forward(output: $0, target: target, count: n, scale: scale) },
                      gradient: { y in
                          var g = [Float](repeating: 0, count: n)
                          loss.backward(output: y, target: target, gradient: &g, count: n, scale: scale)
                          return g
                      }, "\(loss) scale \(scale)")
            }
        }
    }

    /// The loss values themselves, against hand-computed ones.
    func testReconstructionLossValues() {
        let y: [Float] = [0.25, 0.75], t: [Float] = [0, 1]
        XCTAssertEqual(ReconstructionLoss.meanSquaredError.forward(output: y, target: t, count: 2, scale: 0.5),
                       0.0625, accuracy: 1e-7)
        XCTAssertEqual(ReconstructionLoss.binaryCrossEntropy.forward(output: y, target: t, count: 2, scale: 0.5),
                       Float(-log(0.75)), accuracy: 1e-6)
        let logits: [Float] = [0, 100]
        // BCE-with-logits at 0 is log 2; at a huge logit with target 1 it is ~0, without overflow.
        XCTAssertEqual(ReconstructionLoss.binaryCrossEntropyWithLogits.forward(output: logits, target: [1, 1], count: 2, scale: 1),
                       Float(log(2.0)), accuracy: 1e-6)
        // BCE clamps log(0) at −100 as PyTorch does.
        XCTAssertEqual(ReconstructionLoss.binaryCrossEntropy.forward(output: [0], target: [1], count: 1, scale: 1),
                       100, accuracy: 1e-4)
    }

    func testSparsityPenalties() {
        var random = RandomSource(seed: 5)
        let batch = 4, units = 6, n = batch * units
        let signed: [Float] = (0..<n).map { _ in
            let v = random.uniform(0.05, 1); return random.uniform() < 0.5 ? -v : v
        }
        let unit: [Float] = (0..<n).map { _ in random.uniform(0.1, 0.9) }
        let cases: [(SparsityPenalty, [Float])] = [
            (.l1(lambda: 0.3, perUnitMean: true), signed),
            (.l1(lambda: 0.3, perUnitMean: false), signed),
            (.kl(rho: 0.05, beta: 3), unit),
        ]
        for (penalty, z) in cases {
            check(count: n, output: z,
                  value: { penalty.value(code: $0, batch: batch, units: units, normalization: batch) },
                  gradient: { z in
                      var g = [Float](repeating: 0, count: n)
                      _ = penalty.forwardBackward(code: z, codeGradient: &g, batch: batch, units: units, normalization: batch)
                      return g
                  }, "\(penalty)")
        }
    }
}
