import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Finite-difference gradient checks for the vision layers (pooling, upsampling, BatchNorm,
/// dropout, residual blocks, GELU/SiLU/ELU, conv2d without bias), input and parameter gradients.
final class VisionLayerGradientTests: XCTestCase {
    private func assertGradients(_ layer: Layer, batch: Int = 3, input: [Float]? = nil, mode: LayerMode = .training,
                                 _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        layer.setMode(mode)
        let result = checkLayerGradients(layer, batch: batch, input: input)
        XCTAssertLessThan(result.parameterError, Tolerance.gradientRelative, "\(what): parameters", file: file, line: line)
        XCTAssertLessThan(result.inputError, Tolerance.gradientRelative, "\(what): input", file: file, line: line)
    }

    /// Distinct values on a grid of spacing 0.1 (shuffled): a max-pool window never has two
    /// values closer than the finite-difference step, so the argmax does not flip.
    private func distinct(_ count: Int, seed: UInt64 = 3) -> [Float] {
        var values = (0..<count).map { Float($0) * 0.1 - Float(count) * 0.05 }
        var random = RandomSource(seed: seed)
        for i in stride(from: count - 1, to: 0, by: -1) { values.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        return values
    }

    func testMaxPool2d() {
        // (shape, kernel, stride, padding)
        for (shape, k, s, p) in [([2, 6, 6], 2, 2, 0), ([1, 7, 5], 3, 2, 1), ([2, 5, 5], 3, 1, 1)] {
            let layer = MaxPool2d(inputShape: shape, kernel: k, stride: s, padding: p)
            assertGradients(layer, batch: 2, input: distinct(2 * shape.reduce(1, *)), "max_pool2d \(shape) k\(k) s\(s) p\(p)")
            // 11 examples: eight run in SIMD lanes, three in the scalar tail.
            assertGradients(layer, batch: 11, input: distinct(11 * shape.reduce(1, *)), "max_pool2d batch 11 \(shape) k\(k) s\(s) p\(p)")
        }
    }

    /// The SIMD lanes keep PyTorch's rules: ties go to the first element, NaN wins (and the
    /// last NaN of the window takes the gradient, as `val > max || isnan(val)` scanning gives).
    func testMaxPoolLanesTieAndNaN() {
        let n = 9
        let layer = MaxPool2d(inputShape: [1, 2, 2], kernel: 2, stride: 2, padding: 0)
        // (C, H, W, N): window elements 0...3, example e in lane e.
        var x = [Float](repeating: 0, count: 4 * n)
        for e in 0..<n { x[0 * n + e] = 1; x[1 * n + e] = 3; x[2 * n + e] = 3; x[3 * n + e] = 2 }
        x[2 * n + 4] = .nan; x[3 * n + 4] = .nan   // lane 4: NaN at elements 2 and 3
        var y = [Float](repeating: 0, count: n), dx = [Float](repeating: 9, count: 4 * n)
        layer.forward(input: x, output: &y, batch: n)
        layer.backward(input: x, output: y, outputGradient: [Float](repeating: 5, count: n), inputGradient: &dx, batch: n)
        for e in 0..<n where e != 4 {
            XCTAssertEqual(y[e], 3, "lane \(e)")
            XCTAssertEqual((0..<4).map { dx[$0 * n + e] }, [0, 5, 0, 0], "lane \(e): the first 3 takes the gradient")
        }
        XCTAssertTrue(y[4].isNaN)
        XCTAssertEqual((0..<4).map { dx[$0 * n + 4] }, [0, 0, 0, 5], "lane 4: the last NaN")
    }

    /// Ties go to the first element of the window in row-major order (PyTorch's rule).
    func testMaxPoolTieGoesToFirstElement() {
        let layer = MaxPool2d(inputShape: [1, 2, 2], kernel: 2, stride: 2, padding: 0)
        let x: [Float] = [1, 3, 3, 2]   // batch 1: (0,1) and (1,0) tie
        var y: [Float] = [0], dx = [Float](repeating: 9, count: 4)
        layer.forward(input: x, output: &y, batch: 1)
        layer.backward(input: x, output: y, outputGradient: [5], inputGradient: &dx, batch: 1)
        XCTAssertEqual(y, [3])
        XCTAssertEqual(dx, [0, 5, 0, 0])
    }

    func testAvgPool2d() {
        for include in [true, false] {
            for (shape, k, s, p) in [([2, 6, 6], 2, 2, 0), ([1, 7, 5], 3, 2, 1), ([2, 4, 4], 3, 1, 1)] {
                assertGradients(AvgPool2d(inputShape: shape, kernel: k, stride: s, padding: p, countIncludePad: include),
                                batch: 2, "avg_pool2d \(shape) k\(k) s\(s) p\(p) include_pad \(include)")
            }
        }
    }

    func testGlobalAvgPool() {
        assertGradients(GlobalAvgPool(inputShape: [3, 4, 5]), "global_avg_pool")
    }

    func testUpsample() {
        for mode in Upsample.Mode.allCases {
            for (shape, s) in [([2, 3, 4], 2), ([1, 2, 3], 3), ([1, 1, 1], 2)] {
                assertGradients(Upsample(inputShape: shape, scale: s, mode: mode), batch: 2, "upsample \(mode) \(shape) ×\(s)")
            }
        }
    }

    func testBatchNormTrainingThroughBatchStatistics() {
        assertGradients(BatchNorm(inputShape: [3, 3, 4], epsilon: 1e-5, momentum: 0.1, affine: true), batch: 4, "batch_norm2d train")
        assertGradients(BatchNorm(inputShape: [5], epsilon: 1e-5, momentum: 0.1, affine: true), batch: 6, "batch_norm1d train")
        assertGradients(BatchNorm(inputShape: [2, 2, 3], epsilon: 1e-3, momentum: 0.1, affine: false), batch: 3, "batch_norm2d no affine")
    }

    func testBatchNormEvaluation() {
        assertGradients(BatchNorm(inputShape: [3, 3, 4], epsilon: 1e-5, momentum: 0.1, affine: true), batch: 2,
                        mode: .evaluation, "batch_norm2d eval")
    }

    func testDropoutWithAFixedMask() {
        for channelwise in [false, true] {
            let layer = Dropout(inputShape: [3, 4, 4], probability: 0.4, channelwise: channelwise)
            layer.setNoise(StepNoise(seed: 11, firstExample: 0))
            assertGradients(layer, "dropout channelwise \(channelwise)")
            assertGradients(layer, mode: .evaluation, "dropout eval")
        }
    }

    func testResidual() throws {
        func block(_ input: [Int], _ layers: [LayerSpec]) throws -> Layer {
            var b = NetworkBuilder(inputShape: input, field: "test")
            try b.add(.residual(layers), at: "test[0]")
            return b.layers[0]
        }
        let same = try block([2, 5, 5], [.conv2d(outputChannels: 2, kernelSize: 3, stride: 1, padding: 1), .tanh])
        assertGradients(same, batch: 2, "residual identity")
        let projected = try block([2, 6, 6], [.conv2d(outputChannels: 3, kernelSize: 3, stride: 2, padding: 1),
                                              .batchNorm2d(), .tanh])
        XCTAssertEqual(projected.outputShape, [3, 3, 3])
        XCTAssertEqual(projected.parameterShapes.map(\.name),
                       ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias", "projection.weight", "projection.bias"])
        XCTAssertEqual(projected.bufferShapes.map(\.name),
                       ["body.1.running_mean", "body.1.running_var", "body.1.num_batches_tracked"])
        assertGradients(projected, batch: 3, "residual conv projection + BN")
        let dense = try block([4], [.dense(outputs: 3), .tanh])
        assertGradients(dense, batch: 2, "residual dense projection")
    }

    func testActivations() {
        assertGradients(Activation(GELU(), shape: [2, 3, 3]), "gelu")
        assertGradients(Activation(SiLU(), shape: [2, 3, 3]), "silu")
        var random = RandomSource(seed: 2)
        let away = (0..<54).map { _ -> Float in let v = random.uniform(0.05, 1); return random.uniform() < 0.5 ? -v : v }
        assertGradients(Activation(ELU(alpha: 0.7), shape: [2, 3, 3]), input: away, "elu")
    }

    func testConv2dWithoutBias() {
        let layer = Conv2d(inputShape: [2, 5, 5], outputChannels: 3, kernelSize: 3, stride: 2, padding: 1, bias: false)
        XCTAssertEqual(layer.parameterShapes.map(\.name), ["weight"])
        XCTAssertEqual(layer.parameterCount, 3 * 2 * 9)
        assertGradients(layer, batch: 2, "conv2d bias false")
    }
}
