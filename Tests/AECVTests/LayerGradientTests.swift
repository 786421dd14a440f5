import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Finite-difference gradient checks for every layer type, over several geometries.
final class LayerGradientTests: XCTestCase {
    private func assertGradients(_ layer: Layer, batch: Int = 3, input: [Float]? = nil,
                                 _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let result = checkLayerGradients(layer, batch: batch, input: input)
        XCTAssertLessThan(result.parameterError, Tolerance.gradientRelative, "\(what): parameters", file: file, line: line)
        XCTAssertLessThan(result.inputError, Tolerance.gradientRelative, "\(what): input", file: file, line: line)
    }

    func testDense() {
        assertGradients(Dense(inputShape: [7], outputFeatures: 5), "dense 7→5")
        assertGradients(Dense(inputShape: [2, 3, 2], outputFeatures: 4), batch: 1, "dense on an image")
    }

    func testConv2dGeometries() {
        // (input shape, out channels, kernel, stride, padding)
        let cases: [([Int], Int, Int, Int, Int)] = [
            ([1, 8, 8], 4, 3, 2, 1),   // the preset's stage
            ([3, 5, 6], 2, 3, 1, 1),   // same padding, non-square
            ([2, 7, 7], 3, 5, 3, 2),   // large kernel and stride
            ([2, 4, 5], 2, 1, 1, 0),   // 1×1
            ([1, 6, 6], 2, 2, 2, 0),   // no padding, even kernel
        ]
        for (shape, c, k, s, p) in cases {
            assertGradients(Conv2d(inputShape: shape, outputChannels: c, kernelSize: k, stride: s, padding: p),
                            batch: 2, "conv2d \(shape) c\(c) k\(k) s\(s) p\(p)")
        }
    }

    func testConvTranspose2dGeometries() {
        // (input shape, out channels, kernel, stride, padding, output padding (h, w))
        let cases: [([Int], Int, Int, Int, Int, (Int, Int))] = [
            ([4, 4, 4], 2, 3, 2, 1, (0, 0)),   // 4 → 7, as the preset's first decoder stage
            ([2, 7, 7], 1, 3, 2, 1, (1, 1)),   // 7 → 14
            ([3, 3, 5], 2, 3, 2, 1, (1, 0)),   // per-axis output padding
            ([2, 3, 3], 3, 4, 2, 1, (0, 0)),   // even kernel
            ([2, 3, 4], 2, 3, 1, 1, (0, 0)),   // stride 1
            ([1, 2, 2], 2, 5, 3, 2, (2, 1)),   // stride 3, output padding 2
        ]
        for (shape, c, k, s, p, op) in cases {
            assertGradients(ConvTranspose2d(inputShape: shape, outputChannels: c, kernelSize: k, stride: s,
                                            padding: p, outputPadding: op),
                            batch: 2, "conv_transpose2d \(shape) c\(c) k\(k) s\(s) p\(p) op\(op)")
        }
    }

    /// Inputs kept at least 0.05 away from the kink, where the finite difference is exact.
    private func awayFromZero(_ count: Int) -> [Float] {
        var random = RandomSource(seed: 9)
        return (0..<count).map { _ in
            let v = random.uniform(0.05, 1)
            return random.uniform() < 0.5 ? -v : v
        }
    }

    func testActivations() {
        let shape = [2, 3, 3]
        assertGradients(Activation(.relu, shape: shape), input: awayFromZero(54), "relu")
        assertGradients(Activation(.leakyReLU(slope: 0.1), shape: shape), input: awayFromZero(54), "leaky relu")
        assertGradients(Activation(.sigmoid, shape: shape), "sigmoid")
        assertGradients(Activation(.tanh, shape: shape), "tanh")
    }

    /// At exactly 0, ReLU's gradient is 0 (PyTorch's convention), and LeakyReLU's is the slope.
    func testReLUKink() {
        let x: [Float] = [0, -0.0, 1e-30, -1e-30]
        let dy: [Float] = [1, 1, 1, 1]
        var dx = [Float](repeating: 9, count: 4)
        reluBackward(x, dy, &dx, count: 4)
        XCTAssertEqual(dx, [0, 0, 1, 0])
        leakyReLUBackward(x, dy, &dx, count: 4, slope: 0.25)
        XCTAssertEqual(dx, [0.25, 0.25, 1, 0.25])
    }

    func testReshape() {
        assertGradients(Reshape(from: [2, 3, 2], to: [12]), "flatten")
        assertGradients(Reshape(from: [12], to: [3, 2, 2]), "unflatten")
    }
}
