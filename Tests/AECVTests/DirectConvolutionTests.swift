import XCTest
@testable import AECVKernels
@testable import AECVNN
import AECV

/// The direct convolutions (Sources/CKernels/direct_conv.c, AVX-512) against the im2col + GEMM
/// path they replace for batches of 8 or more lanes: forward, input gradient, weight and bias
/// gradients of Conv2d and ConvTranspose2d over strides, paddings, kernels, channel counts on
/// both sides of the 8-channel switch, and lane counts with and without 8-lane and masked tails. Then a
/// finite-difference check on the direct path itself.
///
/// On a CPU without AVX-512 the direct path never runs, and these tests skip saying so.
final class DirectConvolutionTests: AVX512PathTestCase {

    /// y, dx, and the parameter gradients of one forward + backward.
    private func run(_ layer: Layer, parameters: [Float], x: [Float], dy: [Float], batch: Int)
        -> (y: [Float], dx: [Float], gradients: [Float]) {
        var p = parameters
        var g = [Float](repeating: 0, count: parameters.count)
        var y = [Float](repeating: .nan, count: batch * layer.outputSize)
        var dx = [Float](repeating: .nan, count: batch * layer.inputSize)
        p.withUnsafeMutableBufferPointer { pp in
            g.withUnsafeMutableBufferPointer { gp in
                layer.bind(parameters: pp.baseAddress!, gradients: gp.baseAddress!)
                layer.forward(input: x, output: &y, batch: batch)
                layer.backward(input: x, output: y, outputGradient: dy, inputGradient: &dx, batch: batch)
            }
        }
        return (y, dx, g)
    }

    private func assertPathsAgree(_ layer: Layer, batch: Int, _ what: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        var random = RandomSource(seed: UInt64(batch) &* 31 &+ UInt64(layer.parameterCount))
        let parameters = (0..<layer.parameterCount).map { _ in random.uniform(-1, 1) }
        let x = (0..<(batch * layer.inputSize)).map { _ in random.uniform(-1, 1) }
        let dy = (0..<(batch * layer.outputSize)).map { _ in random.uniform(-1, 1) }
        XCTAssertTrue(DirectConvolution.force(.gemm))
        let reference = run(layer, parameters: parameters, x: x, dy: dy, batch: batch)
        XCTAssertTrue(DirectConvolution.force(.avx512))
        let direct = run(layer, parameters: parameters, x: x, dy: dy, batch: batch)
        // Sums of up to a few thousand products of values in [-1, 1], in another order.
        let scale = { (v: [Float]) in max(1, v.map { abs($0) }.max() ?? 1) }
        XCTAssertLessThan(maxAbsoluteDifference(direct.y, reference.y) / scale(reference.y), 1e-5,
                          "\(what): forward", file: file, line: line)
        XCTAssertLessThan(maxAbsoluteDifference(direct.dx, reference.dx) / scale(reference.dx), 1e-5,
                          "\(what): input gradient", file: file, line: line)
        XCTAssertLessThan(maxAbsoluteDifference(direct.gradients, reference.gradients) / scale(reference.gradients),
                          1e-5, "\(what): parameter gradients", file: file, line: line)
    }

    func testConv2dMatchesGEMMPath() {
        // (input shape, out channels, kernel, stride, padding)
        let cases: [([Int], Int, Int, Int, Int)] = [
            ([3, 16, 16], 16, 3, 2, 1),    // RGB in: the first stage (dx by the narrow to-image tiles)
            ([16, 8, 8], 32, 3, 2, 1),     // a middle stage
            ([8, 7, 9], 8, 3, 1, 1),       // stride 1, odd sizes
            ([9, 6, 6], 20, 5, 3, 2),      // large kernel and stride, channel blocks with a tail
            ([8, 5, 5], 3, 3, 1, 0),       // 3 out channels: the narrow forward tiles
            ([4, 12, 20], 1, 3, 1, 1),     // grey out: 8-pixel groups, borders one by one
            ([6, 9, 40], 2, 3, 2, 1),      // 2 out, stride 2: groups 2·8 floats apart
            ([8, 6, 30], 3, 3, 1, 1),      // RGB out: 6-pixel groups
            ([5, 10, 14], 4, 5, 1, 2),     // 4 out, 5×5 kernel
            ([16, 8, 8], 5, 3, 1, 1),      // 5 out: forward by GEMM
            ([12, 4, 5], 17, 1, 1, 0),     // 1×1
            ([8, 5, 5], 8, 2, 3, 0),       // stride > kernel: pixels no tap reaches in dx
            ([8, 4, 4], 8, 3, 1, 4),       // padding > kernel: output pixels that see only padding
        ]
        for (shape, c, k, s, p) in cases {
            let layer = Conv2d(inputShape: shape, outputChannels: c, kernelSize: k, stride: s, padding: p)
            for batch in [8, 11, 16, 21, 24, 33, 40, 47] {
                assertPathsAgree(layer, batch: batch, "conv2d \(shape) c\(c) k\(k) s\(s) p\(p) batch \(batch)")
            }
        }
        let noBias = Conv2d(inputShape: [8, 6, 6], outputChannels: 16, kernelSize: 3, stride: 1, padding: 1, bias: false)
        assertPathsAgree(noBias, batch: 16, "conv2d without bias")
    }

    func testConvTranspose2dMatchesGEMMPath() {
        // (input shape, out channels, kernel, stride, padding, output padding)
        let cases: [([Int], Int, Int, Int, Int, (Int, Int))] = [
            ([64, 4, 4], 32, 3, 2, 1, (1, 1)),   // the preset's decoder stage
            ([16, 8, 8], 3, 3, 2, 1, (1, 1)),    // to RGB: the narrow to-image tiles, 6 pixels of a phase
            ([16, 6, 7], 1, 3, 2, 1, (1, 1)),    // to grey: 8-pixel tiles, odd width
            ([8, 4, 5], 2, 3, 2, 1, (1, 0)),     // 2 channels, per-axis output padding
            ([8, 3, 4], 4, 5, 3, 2, (2, 1)),     // 4 channels, stride 3: three phases
            ([8, 5, 5], 3, 3, 1, 1, (0, 0)),     // stride 1: one phase
            ([8, 6, 6], 6, 3, 2, 1, (1, 1)),     // 6 channels: forward by GEMM
            ([8, 3, 5], 9, 3, 2, 1, (1, 0)),     // per-axis output padding
            ([10, 3, 3], 8, 4, 2, 1, (0, 0)),    // even kernel
            ([8, 3, 4], 12, 3, 1, 1, (0, 0)),    // stride 1
            ([8, 2, 2], 8, 5, 3, 2, (2, 1)),     // stride 3, output padding 2
            ([5, 4, 4], 16, 3, 2, 1, (1, 1)),    // 5 in channels: dx by GEMM
            ([8, 6, 6], 8, 3, 1, 3, (0, 0)),     // padding = kernel: 6×6 in, 2×2 out
        ]
        for (shape, c, k, s, p, op) in cases {
            let layer = ConvTranspose2d(inputShape: shape, outputChannels: c, kernelSize: k, stride: s,
                                        padding: p, outputPadding: op)
            for batch in [8, 11, 16, 21, 24, 33, 40, 47] {
                assertPathsAgree(layer, batch: batch, "conv_transpose2d \(shape) c\(c) k\(k) s\(s) p\(p) op\(op) batch \(batch)")
            }
        }
    }

    /// Dense layers run as 1×1 convolutions of a 1×1 image: forward and input gradient by the
    /// gathers (dW stays sgemm), across the 8-feature switches on both sides (5–7 outputs keep
    /// GEMM, 1–4 take the narrow tiles, fewer than 8 inputs keep the GEMM input gradient).
    func testDenseMatchesGEMMPath() {
        for (inputs, outputs) in [(784, 256), (256, 64), (64, 784), (20, 17), (9, 5), (16, 3), (5, 24), (33, 1), (3, 40)] {
            let layer = Dense(inputShape: [inputs], outputFeatures: outputs)
            for batch in [8, 11, 32, 47, 64] {
                assertPathsAgree(layer, batch: batch, "dense \(inputs) → \(outputs) batch \(batch)")
            }
        }
        // The fused ReLU of the gather against the GEMM path's separate pass.
        let layer = Dense(inputShape: [96], outputFeatures: 40)
        var random = RandomSource(seed: 3)
        var p = (0..<layer.parameterCount).map { _ in random.uniform(-1, 1) }
        var g = [Float](repeating: 0, count: p.count)
        let batch = 24
        let x = (0..<(batch * 96)).map { _ in random.uniform(-1, 1) }
        var fused = [Float](repeating: .nan, count: batch * 40), plain = fused
        p.withUnsafeMutableBufferPointer { pp in
            g.withUnsafeMutableBufferPointer { gp in
                layer.bind(parameters: pp.baseAddress!, gradients: gp.baseAddress!)
                XCTAssertTrue(DirectConvolution.force(.avx512))
                layer.forwardThenReLU(input: x, output: &fused, batch: batch)
                XCTAssertTrue(DirectConvolution.force(.gemm))
                layer.forward(input: x, output: &plain, batch: batch)
            }
        }
        XCTAssertLessThan(maxAbsoluteDifference(fused, plain.map { max(0, $0) }), 1e-5, "dense fused ReLU")
        XCTAssertTrue(fused.contains(0) && plain.contains { $0 < 0 }, "the ReLU had something to clip")
    }

    /// Sources larger than the threshold (by default a quarter of the L3) are prefetched, smaller
    /// ones not; the prefetching gathers give the same results (run here on small shapes with the
    /// threshold at 1 byte, every pixel at the borders and inside, strides 1 to 3).
    func testPrefetchingGathersMatchTheGEMMPath() {
        // The default depends on the machine's L3 (32 MB on one host, 260 MB on another): set the
        // threshold of a 32 MB one, and give the default back to the tests that follow.
        DirectConvolution.setPrefetchThreshold(bytes: 8 << 20)
        defer { DirectConvolution.setPrefetchThreshold(bytes: nil) }
        let seed256 = ConvGeometry(channels: 3, height: 256, width: 256, kernel: 3, stride: 2, padding: 1,
                                   columnHeight: 128, columnWidth: 128)
        let seed28 = ConvGeometry(channels: 3, height: 28, width: 28, kernel: 3, stride: 2, padding: 1,
                                  columnHeight: 14, columnWidth: 14)
        XCTAssertEqual(DirectConvolution(seed256, columnChannels: 16, batch: 16)?.prefetches, true,
                       "the 3×256² first layer at 16 lanes (12.6 MB) should prefetch")
        XCTAssertEqual(DirectConvolution(seed28, columnChannels: 16, batch: 32)?.prefetches, false)
        DirectConvolution.setPrefetchThreshold(bytes: 1)
        XCTAssertEqual(DirectConvolution(seed28, columnChannels: 16, batch: 32)?.prefetches, true)
        let cases: [([Int], Int, Int, Int, Int)] = [
            ([3, 16, 16], 16, 3, 2, 1), ([8, 7, 9], 8, 3, 1, 1), ([9, 6, 6], 20, 5, 3, 2),
            ([4, 12, 20], 1, 3, 1, 1), ([8, 6, 30], 3, 3, 1, 1), ([8, 4, 4], 8, 3, 1, 4),
        ]
        for (shape, c, k, s, p) in cases {
            let layer = Conv2d(inputShape: shape, outputChannels: c, kernelSize: k, stride: s, padding: p)
            for batch in [8, 21, 32] {
                assertPathsAgree(layer, batch: batch, "prefetching conv2d \(shape) c\(c) k\(k) s\(s) p\(p) batch \(batch)")
            }
        }
        let decoder = ConvTranspose2d(inputShape: [16, 8, 8], outputChannels: 3, kernelSize: 3, stride: 2,
                                      padding: 1, outputPadding: (1, 1))
        assertPathsAgree(decoder, batch: 16, "prefetching conv_transpose2d dx")
    }

    /// Fewer than 8 lanes keep the GEMM path (`DirectConvolution` is nil); 8 or more, masked
    /// past the last whole vector, take the direct one.
    func testSmallBatchesKeepTheGEMMPath() {
        let g = ConvGeometry(channels: 8, height: 6, width: 6, kernel: 3, stride: 2, padding: 1,
                             columnHeight: 3, columnWidth: 3)
        XCTAssertNotNil(DirectConvolution(g, columnChannels: 8, batch: 16))
        XCTAssertNotNil(DirectConvolution(g, columnChannels: 8, batch: 8))
        XCTAssertNotNil(DirectConvolution(g, columnChannels: 8, batch: 13))
        XCTAssertNil(DirectConvolution(g, columnChannels: 8, batch: 7))
        XCTAssertNil(DirectConvolution(g, columnChannels: 8, batch: 1))
        XCTAssertTrue(DirectConvolution.force(.gemm))
        XCTAssertNil(DirectConvolution(g, columnChannels: 8, batch: 16))
    }

    /// The direct path's gradients against finite differences (not only against the GEMM path).
    func testFiniteDifferencesOnTheDirectPath() {
        let layers: [(Layer, String)] = [
            (Conv2d(inputShape: [8, 5, 5], outputChannels: 8, kernelSize: 3, stride: 2, padding: 1), "conv2d"),
            (Dense(inputShape: [12], outputFeatures: 20), "dense"),
            (ConvTranspose2d(inputShape: [8, 3, 3], outputChannels: 8, kernelSize: 3, stride: 2, padding: 1,
                             outputPadding: (1, 0)), "conv_transpose2d"),
        ]
        for (layer, what) in layers {
            for batch in [8, 13] {
                let result = checkLayerGradients(layer, batch: batch)
                XCTAssertLessThan(result.parameterError, Tolerance.gradientRelative, "\(what) batch \(batch): parameters")
                XCTAssertLessThan(result.inputError, Tolerance.gradientRelative, "\(what) batch \(batch): input")
            }
        }
    }
}
