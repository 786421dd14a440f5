import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Finite-difference checks of the VAE's loss pieces (Losses/GaussianKL.swift,
/// Losses/SigmoidSquaredError.swift) and of the scalar BCE and column softmax CE that detection
/// uses, in Double against the Float analytic gradients.
final class VAELossGradientTests: XCTestCase {
    private let h: Float = 1e-2

    /// L = Σ w_z·z + weight · KL, so ∂L/∂z = w_z; compare ∂L/∂μ and ∂L/∂logσ² with differences.
    func testGaussianKL() {
        var random = RandomSource(seed: 11)
        let n = 12
        var mu = (0..<n).map { _ in random.uniform(-1, 1) }
        var logvar = (0..<n).map { _ in random.uniform(-1, 1) }
        let eps = (0..<n).map { _ in random.normal() }
        let wz = (0..<n).map { _ in random.uniform(-1, 1) }
        let weight: Float = 0.7
        func objective(_ mu: [Float], _ logvar: [Float]) -> Double {
            var z = [Float](repeating: 0, count: n)
            let kl = GaussianKL.forward(mean: mu, logVariance: logvar, noise: eps, code: &z, count: n)
            return zip(z, wz).reduce(0) { $0 + Double($1.0 * $1.1) } + Double(weight) * kl
        }
        var dmu = [Float](repeating: 0, count: n), dlogvar = [Float](repeating: 0, count: n)
        GaussianKL.backward(mean: mu, logVariance: logvar, noise: eps, codeGradient: wz, weight: weight,
                            meanGradient: &dmu, logVarianceGradient: &dlogvar, count: n)
        for i in 0..<n {
            let m0 = mu[i]
            mu[i] = m0 + h; let up = objective(mu, logvar)
            mu[i] = m0 - h; let down = objective(mu, logvar)
            mu[i] = m0
            XCTAssertEqual(Double(dmu[i]), (up - down) / Double(2 * h), accuracy: 2e-3, "dmu[\(i)]")
            let l0 = logvar[i]
            logvar[i] = l0 + h; let up2 = objective(mu, logvar)
            logvar[i] = l0 - h; let down2 = objective(mu, logvar)
            logvar[i] = l0
            XCTAssertEqual(Double(dlogvar[i]), (up2 - down2) / Double(2 * h), accuracy: 2e-3, "dlogvar[\(i)]")
        }
        // KL of the prior itself is zero, and positive elsewhere.
        var z = [Float](repeating: 0, count: 2)
        XCTAssertEqual(GaussianKL.forward(mean: [0, 0], logVariance: [0, 0], noise: [0, 0], code: &z, count: 2), 0)
        XCTAssertGreaterThan(GaussianKL.forward(mean: [0.5, 0], logVariance: [0, 0.3], noise: [0, 0], code: &z, count: 2), 0)
    }

    func testSigmoidSquaredError() {
        var random = RandomSource(seed: 12)
        let n = 10
        var a = (0..<n).map { _ in random.uniform(-3, 3) }
        let t = (0..<n).map { _ in random.uniform(0, 1) }
        var y = [Float](repeating: 0, count: n), da = [Float](repeating: 0, count: n)
        let scale: Float = 0.5
        _ = SigmoidSquaredError.forward(logits: a, target: t, output: &y, count: n, scale: scale)
        SigmoidSquaredError.backward(output: y, target: t, gradient: &da, count: n, scale: scale)
        for i in 0..<n {
            let a0 = a[i]
            a[i] = a0 + h; let up = Double(SigmoidSquaredError.forward(logits: a, target: t, output: &y, count: n, scale: scale))
            a[i] = a0 - h; let down = Double(SigmoidSquaredError.forward(logits: a, target: t, output: &y, count: n, scale: scale))
            a[i] = a0
            XCTAssertEqual(Double(da[i]), (up - down) / Double(2 * h), accuracy: 1e-3, "da[\(i)]")
        }
    }

    func testScalarBinaryCrossEntropyWithLogits() {
        for z: Float in [-30, -2.5, -0.1, 0, 0.7, 3, 40] {
            for (target, loss) in [(Float(0), BinaryCrossEntropyWithLogits.negative), (Float(1), BinaryCrossEntropyWithLogits.positive)] {
                let numeric = (Double(loss(z + h)) - Double(loss(z - h))) / Double(2 * h)
                XCTAssertEqual(Double(BinaryCrossEntropyWithLogits.gradient(z, target: target)), numeric, accuracy: 2e-3, "z \(z) t \(target)")
                XCTAssertTrue(loss(z).isFinite)
            }
        }
        // The vector kernel agrees with the scalar form.
        let zs: [Float] = [-4, -1, 0, 0.5, 2, 9, -7, 3, 1.5]
        let ts: [Float] = [0, 1, 0, 1, 1, 0, 1, 0, 1]
        let vector = binaryCrossEntropyWithLogitsSum(zs, ts, count: zs.count)
        let scalar = zip(zs, ts).reduce(0.0) { $0 + Double($1.1 == 1 ? BinaryCrossEntropyWithLogits.positive($1.0) : BinaryCrossEntropyWithLogits.negative($1.0)) }
        XCTAssertEqual(vector, scalar, accuracy: 1e-4)
    }

    /// The strided column form equals the batch form's loss and gradient on one example.
    func testSoftmaxColumnMatchesBatchForm() {
        let z: [Float] = [0.3, -1.2, 2.0, 0.1]   // 4 classes, stride 1
        var columnGradient = [Float](repeating: 0, count: 4)
        let loss = SoftmaxCrossEntropy.column(logits: z, stride: 1, classes: 4, label: 2, weight: 1, scale: 1,
                                              gradient: &columnGradient)
        var p = [Float](repeating: 0, count: 4), dz = [Float](repeating: 0, count: 4)
        SoftmaxCrossEntropy.softmax(z, classes: 4, batch: 1, into: &p)
        let batchLoss = SoftmaxCrossEntropy.lossAndGradient(probabilities: p, labels: [2], classes: 4, batch: 1, gradient: &dz)
        XCTAssertEqual(loss, batchLoss, accuracy: 1e-5)
        for c in 0..<4 { XCTAssertEqual(columnGradient[c], dz[c], accuracy: 1e-6) }
        // Finite differences of the column form.
        var zz = z
        for c in 0..<4 {
            var scratch = [Float](repeating: 0, count: 4)
            zz[c] = z[c] + h; let up = SoftmaxCrossEntropy.column(logits: zz, stride: 1, classes: 4, label: 2, weight: 1, scale: 1, gradient: &scratch)
            zz[c] = z[c] - h; let down = SoftmaxCrossEntropy.column(logits: zz, stride: 1, classes: 4, label: 2, weight: 1, scale: 1, gradient: &scratch)
            zz[c] = z[c]
            XCTAssertEqual(Double(columnGradient[c]), Double(up - down) / Double(2 * h), accuracy: 2e-3)
        }
    }
}
