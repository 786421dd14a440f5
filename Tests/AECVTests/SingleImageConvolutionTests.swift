import XCTest
@testable import AECVKernels
@testable import AECVNN
import AECV

/// The one-image gathers (Sources/CKernels/direct_conv_single.c) against im2col + GEMM, which
/// they replace for a batch of 1: Conv2d and ConvTranspose2d forward, with the bias and the fused
/// ReLU, over strides, paddings, kernels, tile widths (rows of 1 to 33 pixels) and channel counts
/// (1 to 6 blocks of 16, with partial blocks); backward at batch 1 after such a forward; and the
/// packed-weight cache, which must notice any change of the weight.
///
/// On a CPU without AVX-512 the one-image gathers never run, and these tests skip saying so.
final class SingleImageConvolutionTests: AVX512PathTestCase {
    override class var pathUnderTest: String { "the one-image gathers" }

    private struct Run { var y: [Float], yReLU: [Float], dx: [Float], gradients: [Float] }

    /// Forward, forwardThenReLU, then backward (after the plain forward) of one image.
    private func run(_ layer: Layer, parameters: [Float], x: [Float], dy: [Float]) -> Run {
        var p = parameters
        var g = [Float](repeating: 0, count: parameters.count)
        var r = Run(y: .init(repeating: .nan, count: layer.outputSize), yReLU: .init(repeating: .nan, count: layer.outputSize),
                    dx: .init(repeating: .nan, count: layer.inputSize), gradients: [])
        p.withUnsafeMutableBufferPointer { pp in
            g.withUnsafeMutableBufferPointer { gp in
                layer.bind(parameters: pp.baseAddress!, gradients: gp.baseAddress!)
                layer.forwardThenReLU(input: x, output: &r.yReLU, batch: 1)
                layer.forward(input: x, output: &r.y, batch: 1)
                layer.backward(input: x, output: r.y, outputGradient: dy, inputGradient: &r.dx, batch: 1)
            }
        }
        r.gradients = g
        return r
    }

    /// `make` builds a fresh layer for each path, so that no workspace left by the GEMM run (its
    /// im2col columns, which Conv2d's backward reuses) can stand in for what the one-image run
    /// must compute itself.
    private func assertPathsAgree(_ make: () -> Layer, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let layer = make()
        var random = RandomSource(seed: UInt64(layer.parameterCount) &* 7 &+ UInt64(layer.inputSize))
        let parameters = (0..<layer.parameterCount).map { _ in random.uniform(-1, 1) }
        let x = (0..<layer.inputSize).map { _ in random.uniform(-1, 1) }
        let dy = (0..<layer.outputSize).map { _ in random.uniform(-1, 1) }
        XCTAssertTrue(DirectConvolution.force(.gemm))
        let reference = run(layer, parameters: parameters, x: x, dy: dy)
        XCTAssertTrue(DirectConvolution.force(.avx512))
        let single = run(make(), parameters: parameters, x: x, dy: dy)
        let scale = { (v: [Float]) in max(1, v.map { abs($0) }.max() ?? 1) }
        for (name, a, b) in [("forward", single.y, reference.y), ("forward + ReLU", single.yReLU, reference.yReLU),
                             ("input gradient", single.dx, reference.dx), ("parameter gradients", single.gradients, reference.gradients)] {
            XCTAssertLessThan(maxAbsoluteDifference(a, b) / scale(b), 1e-5, "\(what): \(name)", file: file, line: line)
        }
        XCTAssertTrue(single.yReLU.contains(0) && single.yReLU.allSatisfy { $0 >= 0 }, "\(what): the ReLU ran",
                      file: file, line: line)
    }

    func testConv2dMatchesGEMMPath() {
        // (input shape, out channels, kernel, stride, padding)
        let cases: [([Int], Int, Int, Int, Int)] = [
            ([1, 28, 28], 16, 3, 2, 1),    // the seed encoder's three stages
            ([16, 14, 14], 32, 3, 2, 1),
            ([32, 7, 7], 64, 3, 2, 1),
            ([3, 64, 64], 16, 3, 2, 1),    // RGB in
            ([8, 7, 33], 8, 3, 1, 1),      // stride 1: 8-, 4-, 2- and 1-pixel tiles; 8 of 16 channels
            ([9, 6, 6], 20, 5, 3, 2),      // large kernel and stride; a partial second block
            ([8, 5, 5], 40, 2, 3, 0),      // stride > kernel
            ([8, 4, 4], 8, 3, 1, 4),       // padding > kernel: pixels no tap reaches
            ([12, 4, 5], 17, 1, 1, 0),     // 1×1
            ([6, 9, 11], 72, 3, 2, 1),     // 5 blocks: a group of 4, then 1
            ([4, 6, 6], 96, 3, 1, 1),      // 6 blocks
        ]
        for (shape, c, k, s, p) in cases {
            let make = { Conv2d(inputShape: shape, outputChannels: c, kernelSize: k, stride: s, padding: p) }
            let layer = make()
            let g = ConvGeometry(channels: shape[0], height: shape[1], width: shape[2], kernel: k, stride: s,
                                 padding: p, columnHeight: layer.outputShape[1], columnWidth: layer.outputShape[2])
            XCTAssertNotNil(SingleImageConvolution(g, columnChannels: c, toImage: false), "conv2d \(shape) c\(c) takes the one-image path")
            assertPathsAgree(make, "conv2d \(shape) c\(c) k\(k) s\(s) p\(p)")
        }
        assertPathsAgree({ Conv2d(inputShape: [8, 6, 6], outputChannels: 16, kernelSize: 3, stride: 1, padding: 1, bias: false) },
                         "conv2d without bias")
    }

    func testConvTranspose2dMatchesGEMMPath() {
        // (input shape, out channels, kernel, stride, padding, output padding)
        let cases: [([Int], Int, Int, Int, Int, (Int, Int))] = [
            ([64, 4, 4], 32, 3, 2, 1, (0, 0)),   // the seed decoder's stages (4 → 7 → 14)
            ([32, 7, 7], 16, 3, 2, 1, (1, 1)),
            ([8, 3, 5], 9, 3, 2, 1, (1, 0)),     // per-axis output padding
            ([10, 3, 3], 8, 4, 2, 1, (0, 0)),    // even kernel
            ([8, 3, 17], 12, 3, 1, 1, (0, 0)),   // stride 1: wide tiles
            ([8, 2, 2], 8, 5, 3, 2, (2, 1)),     // stride 3: three phases per row
            ([8, 6, 6], 8, 3, 1, 3, (0, 0)),     // padding = kernel
            ([5, 4, 4], 80, 3, 2, 1, (1, 1)),    // 5 blocks
        ]
        for (shape, c, k, s, p, op) in cases {
            let make = { ConvTranspose2d(inputShape: shape, outputChannels: c, kernelSize: k, stride: s,
                                         padding: p, outputPadding: op) }
            let layer = make()
            let g = ConvGeometry(channels: c, height: layer.outputShape[1], width: layer.outputShape[2], kernel: k,
                                 stride: s, padding: p, columnHeight: shape[1], columnWidth: shape[2])
            XCTAssertNotNil(SingleImageConvolution(g, columnChannels: shape[0], toImage: true),
                            "conv_transpose2d \(shape) c\(c) takes the one-image path")
            assertPathsAgree(make, "conv_transpose2d \(shape) c\(c) k\(k) s\(s) p\(p) op\(op)")
        }
    }

    /// Fewer than 8 output channels (a decoder's last layer to grey or RGB), or more than one
    /// image, keep the other paths.
    func testNarrowOutputsAndBatchesKeepTheirPaths() {
        let g = ConvGeometry(channels: 3, height: 8, width: 8, kernel: 3, stride: 2, padding: 1,
                             columnHeight: 4, columnWidth: 4)
        XCTAssertNotNil(SingleImageConvolution(g, columnChannels: 8, toImage: false))
        XCTAssertNil(SingleImageConvolution(g, columnChannels: 7, toImage: false))
        XCTAssertNil(SingleImageConvolution(g, columnChannels: 16, toImage: true), "3 image channels")
        XCTAssertTrue(DirectConvolution.force(.gemm))
        XCTAssertNil(SingleImageConvolution(g, columnChannels: 16, toImage: false))
    }

    /// The packed weight is reused only while the weight is bit-for-bit the one packed: changing
    /// one value (as a C API setter or an optimizer step would) must change the output.
    func testPackedWeightsFollowEveryChange() {
        let layer = Conv2d(inputShape: [16, 14, 14], outputChannels: 32, kernelSize: 3, stride: 2, padding: 1)
        var random = RandomSource(seed: 5)
        var parameters = (0..<layer.parameterCount).map { _ in random.uniform(-1, 1) }
        var gradients = [Float](repeating: 0, count: layer.parameterCount)
        let x = (0..<layer.inputSize).map { _ in random.uniform(-1, 1) }
        func forward(_ variant: DirectConvolution.Variant) -> [Float] {
            XCTAssertTrue(DirectConvolution.force(variant))
            var y = [Float](repeating: .nan, count: layer.outputSize)
            parameters.withUnsafeMutableBufferPointer { pp in
                gradients.withUnsafeMutableBufferPointer { gp in
                    layer.bind(parameters: pp.baseAddress!, gradients: gp.baseAddress!)
                    layer.forward(input: x, output: &y, batch: 1)
                }
            }
            return y
        }
        _ = forward(.avx512)
        let weights = 32 * 16 * 9
        for index in [0, weights / 2, weights - 1] {   // first, middle and last weight
            parameters[index] += 0.5
            let single = forward(.avx512), reference = forward(.gemm)
            XCTAssertLessThan(maxAbsoluteDifference(single, reference), 1e-5, "after changing weight \(index)")
        }
        // The same values in another buffer (a reload) are fine too.
        let copy = parameters
        parameters = copy.map { $0 }
        XCTAssertLessThan(maxAbsoluteDifference(forward(.avx512), forward(.gemm)), 1e-5, "after rebinding")
    }
}
