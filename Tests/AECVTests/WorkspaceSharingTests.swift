import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
import AECV

/// The memory savings of a training step must not change a single value:
/// - in-place activations (`Layer.runsInPlace`): a chain against the same layers run with a
///   buffer each;
/// - an encoder and decoder sharing one pair of gradient buffers;
/// - the convolutions' GEMM paths producing and consuming their columns a band of rows at a time
///   (forward and backward, Conv2d and ConvTranspose2d).
final class WorkspaceSharingTests: XCTestCase {
    /// Runs `layers` one by one, each output in its own array: the reference for `Sequential`.
    private func runSeparately(_ layers: [Layer], x: [Float], dy: [Float], batch: Int)
        -> (output: [Float], inputGradient: [Float]) {
        var outputs: [[Float]] = []
        var input = x
        for layer in layers {
            var y = [Float](repeating: 0, count: batch * layer.outputSize)
            layer.forward(input: input, output: &y, batch: batch)
            outputs.append(y)
            input = y
        }
        var gradient = dy
        for index in layers.indices.reversed() {
            let layer = layers[index]
            var dx = [Float](repeating: 0, count: batch * layer.inputSize)
            layer.backward(input: index == 0 ? x : outputs[index - 1], output: outputs[index],
                           outputGradient: gradient, inputGradient: &dx, batch: batch)
            gradient = dx
        }
        return (outputs.last!, gradient)
    }

    /// Batch 5 takes the GEMM paths; batch 11 the direct gathers (where the CPU has AVX-512),
    /// whose stores add the bias and apply a fused ReLU, with an 8 + 3-lane masked tail. The
    /// 1×1 stride-2 conv with padding 1 has border pixels no tap reaches (the empty sum: bias,
    /// then ReLU). Backward, the chain takes each fused ReLU into the layer before
    /// (`backwardThroughReLU`: the convolutions' one pass with the bias sums, with and without a
    /// bias, and the default for the dense layer) except the last, whose gradient is the
    /// caller's unless the caller gives it as scratch; the reference runs every ReLU's backward
    /// on its own.
    func testInPlaceActivationsGiveTheValuesOfSeparateBuffers() {
        let layers: [Layer] = [
            Conv2d(inputShape: [2, 9, 8], outputChannels: 4, kernelSize: 3, stride: 1, padding: 1),
            Activation(ReLU(), shape: [4, 9, 8]),                      // in place, fused into the conv
            Conv2d(inputShape: [4, 9, 8], outputChannels: 8, kernelSize: 1, stride: 2, padding: 1),
            Activation(ReLU(), shape: [8, 6, 5]),                      // fused; empty sums at the border
            Conv2d(inputShape: [8, 6, 5], outputChannels: 3, kernelSize: 3, stride: 2, padding: 1),
            Activation(LeakyReLU(slope: -0.5), shape: [3, 3, 3]),      // not in place: x < 0 gives y > 0
            Conv2d(inputShape: [3, 3, 3], outputChannels: 3, kernelSize: 1, stride: 1, padding: 0),
            Activation(Tanh(), shape: [3, 3, 3]),                      // in place over the conv
            Activation(Sigmoid(), shape: [3, 3, 3]),                   // not: tanh's backward reads y
            ConvTranspose2d(inputShape: [3, 3, 3], outputChannels: 8, kernelSize: 3, stride: 2, padding: 1,
                            outputPadding: (1, 1)),
            Activation(ReLU(), shape: [8, 6, 6]),                      // fused into the transposed conv
            Reshape(from: [8, 6, 6], to: [288]),
            Dense(inputShape: [288], outputFeatures: 7),
            Activation(LeakyReLU(slope: 0.1), shape: [7]),             // in place over the dense
            Dense(inputShape: [7], outputFeatures: 6),
            Activation(ReLU(), shape: [6]),                            // fused; the default backwardThroughReLU
            Reshape(from: [6], to: [1, 2, 3]),
            Conv2d(inputShape: [1, 2, 3], outputChannels: 4, kernelSize: 3, stride: 1, padding: 1, bias: false),
            Activation(ReLU(), shape: [4, 2, 3]),                      // fused into a conv without bias
            // Padding 1 gives a border of bias-only pixels, so the last ReLU has zeros to mask.
            Conv2d(inputShape: [4, 2, 3], outputChannels: 2, kernelSize: 1, stride: 1, padding: 1),
            Activation(ReLU(), shape: [2, 4, 5]),                      // fused, but last: dy is the caller's
        ]
        let chain = Sequential(layers: layers, inputShape: [2, 9, 8])
        // The layers that keep an output buffer of their own.
        let own = [0, 2, 4, 5, 6, 8, 9, 11, 12, 14, 16, 17, 19]
        XCTAssertEqual(chain.activationFloatsPerExample,
                       layers.reduce(0) { $0 + $1.scratchFloatsPerExample } + own.reduce(0) { $0 + layers[$1].outputSize })

        for batch in [5, 11] {
            var random = RandomSource(seed: 4)
            // The layers keep these pointers: raw allocations, not arrays that copy on write.
            let count = chain.parameterCount
            let parameters = UnsafeMutablePointer<Float>.allocate(capacity: count)
            let gradients = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { parameters.deallocate(); gradients.deallocate() }
            for i in 0..<count { parameters[i] = random.uniform(-0.7, 0.7) }
            parameters[count - 1] = -0.3   // the last conv's last bias: its border pixels ReLU to 0
            gradients.initialize(repeating: 0, count: count)
            chain.bind(parameters: parameters, gradients: gradients)
            let x = (0..<(batch * chain.inputSize)).map { _ in random.uniform(-1, 1) }
            let dy = (0..<(batch * chain.outputSize)).map { _ in random.uniform(-1, 1) }
            let output = Array(UnsafeBufferPointer(start: chain.forward(x, batch: batch), count: batch * chain.outputSize))
            var dx = [Float](repeating: 0, count: batch * chain.inputSize)
            chain.backward(input: x, outputGradient: dy, inputGradient: &dx, batch: batch)
            let chainGradients = Array(UnsafeBufferPointer(start: gradients, count: count))
            gradients.update(repeating: 0, count: count)
            // Again with the caller's gradient as scratch: the last ReLU is fused too.
            var scratch = dy, scratchDx = [Float](repeating: 0, count: batch * chain.inputSize)
            scratch.withUnsafeMutableBufferPointer { g in
                chain.backward(input: x, outputGradient: UnsafePointer(g.baseAddress!), inputGradient: &scratchDx,
                               batch: batch, mayOverwriteOutputGradient: true)
            }
            let scratchGradients = Array(UnsafeBufferPointer(start: gradients, count: count))
            XCTAssertEqual(scratch, zip(output, dy).map { $0 > 0 ? $1 : 0 }, "the last ReLU masked the caller's scratch")
            XCTAssertTrue(output.contains(0), "the last ReLU had something to mask")
            gradients.update(repeating: 0, count: count)
            let reference = runSeparately(layers, x: x, dy: dy, batch: batch)
            let referenceGradients = Array(UnsafeBufferPointer(start: gradients, count: count))
            XCTAssertEqual(output, reference.output, "forward, batch \(batch)")
            XCTAssertEqual(dx, reference.inputGradient, "input gradient, batch \(batch)")
            XCTAssertEqual(chainGradients, referenceGradients, "parameter gradients, batch \(batch)")
            XCTAssertEqual(scratchDx, reference.inputGradient, "input gradient, scratch dy, batch \(batch)")
            XCTAssertEqual(scratchGradients, referenceGradients, "parameter gradients, scratch dy, batch \(batch)")
            XCTAssertGreaterThan(referenceGradients.filter { $0 != 0 }.count, count / 2)
        }
    }

    /// BatchNorm's fused forward + ReLU (a DnCNN stage: conv, BN, ReLU) equals its forward then
    /// the ReLU, in training mode (batch statistics) and evaluation mode (running statistics),
    /// over a length with a scalar tail.
    func testBatchNormThenReLUEqualsTheTwoPasses() {
        let layer = BatchNorm(inputShape: [3, 5, 3], epsilon: 1e-5, momentum: 0.1, affine: true)
        let batch = 3   // 45 values per channel: 5 vectors and a tail of 5
        var random = RandomSource(seed: 9)
        let parameters = UnsafeMutablePointer<Float>.allocate(capacity: layer.parameterCount)
        let gradients = UnsafeMutablePointer<Float>.allocate(capacity: layer.parameterCount)
        let current = UnsafeMutablePointer<Float>.allocate(capacity: layer.bufferCount)
        let next = UnsafeMutablePointer<Float>.allocate(capacity: layer.bufferCount)
        defer { parameters.deallocate(); gradients.deallocate(); current.deallocate(); next.deallocate() }
        for i in 0..<layer.parameterCount { parameters[i] = random.uniform(-1, 1) }
        for i in 0..<layer.bufferCount { current[i] = random.uniform(0.5, 1.5) }
        layer.bind(parameters: parameters, gradients: gradients)
        layer.bind(buffers: current, next: next)
        let x = (0..<(batch * layer.inputSize)).map { _ in random.uniform(-2, 2) }
        for mode in [LayerMode.training, .evaluation] {
            layer.setMode(mode)
            var separate = [Float](repeating: 0, count: x.count), fused = separate
            layer.forward(input: x, output: &separate, batch: batch)
            reluForward(separate, &separate, count: separate.count)
            layer.forwardThenReLU(input: x, output: &fused, batch: batch)
            XCTAssertEqual(fused, separate, "\(mode)")
            XCTAssertTrue(fused.contains(0) && fused.contains { $0 > 0 }, "\(mode): both sides of the kink")
        }
    }

    /// The encoder and decoder of the feed-forward and variational kinds backpropagate through
    /// one pair of gradient buffers, and the memory probe counts that pair once.
    func testChainsOfAnAutoencoderShareTheirGradientBuffers() throws {
        for preset in ["conv", "conv_vae", "dense"] {
            let model = try Autoencoder(specJSON: #"{"preset": "\#(preset)", "input": [3, 32, 32]}"#)
            let pair = try XCTUnwrap(model.network as? ChainPair, preset)
            let (first, second) = (pair.firstChain, pair.secondChain)
            XCTAssertTrue(second.sharesGradientBuffers(with: first), preset)
            XCTAssertEqual(model.network.trainingFloatsPerExample,
                           first.activationFloatsPerExample + second.activationFloatsPerExample
                               + max(first.gradientFloatsPerExample, second.gradientFloatsPerExample), preset)
        }
    }

    /// After the decoder has sized the shared pair, the encoder's backward starts its ping-pong
    /// in the buffer that keeps both at their widest: the seed conv model at 3×32² holds
    /// 16·16² + 32·8² floats per example (decoder: 4,096 in A, 2,048 in B; encoder 2,048 then
    /// 4,096, so from B). Starting in A, as before, would grow B to 4,096 too.
    func testTheEncoderStartsItsGradientsWhereTheyFit() throws {
        ComputeThreads.set(1)
        defer { ComputeThreads.set(2) }
        let model = try Autoencoder(specJSON: #"{"preset": "conv", "input": [3, 32, 32], "seed": 1}"#)
        let pair = try XCTUnwrap(model.network as? ChainPair)
        let batch = 4
        var random = RandomSource(seed: 2)
        _ = try model.trainStep(inputs: (0..<(batch * 3 * 32 * 32)).map { _ in random.uniform() })
        XCTAssertEqual(pair.firstChain.gradientBufferFloats, batch * (16 * 16 * 16 + 32 * 8 * 8))
    }

    /// col2im of bands of position rows, one after another, is col2im of the whole (integer
    /// values, so the different order of the sums is exact).
    func testBandedCol2ImEqualsWhole() {
        var random = RandomSource(seed: 12)
        for (channels, height, width, kernel, stride, padding, batch) in
            [(3, 9, 7, 3, 2, 1, 4), (2, 8, 8, 3, 1, 1, 1), (1, 11, 5, 5, 3, 2, 3), (4, 6, 6, 1, 1, 0, 9)] {
            let oh = (height + 2 * padding - kernel) / stride + 1, ow = (width + 2 * padding - kernel) / stride + 1
            let g = ConvGeometry(channels: channels, height: height, width: width, kernel: kernel, stride: stride,
                                 padding: padding, columnHeight: oh, columnWidth: ow)
            let cols = (0..<(g.rows * g.positions * batch)).map { _ in Float(Int(random.next() % 9) - 4) }
            var whole = [Float](repeating: 0, count: g.imageSize * batch)
            col2im(cols, &whole, batch: batch, g)
            let line = ow * batch
            for band in [1, 2, 3] {
                var banded = [Float](repeating: 0, count: g.imageSize * batch)
                var first = 0
                while first < oh {
                    let last = min(first + band, oh)
                    // the band's columns: rows of (last − first)·OW·N floats
                    var part: [Float] = []
                    for r in 0..<g.rows { part += cols[(r * oh + first) * line ..< (r * oh + last) * line] }
                    col2im(part, &banded, batch: batch, g, positionRows: first..<last)
                    first = last
                }
                XCTAssertEqual(banded, whole, "C\(channels) \(height)×\(width) k\(kernel) s\(stride) p\(padding) N\(batch), bands of \(band)")
            }
        }
    }

    /// im2col of bands of position rows, laid side by side, is the whole im2col's rows.
    func testBandedIm2ColEqualsTheWholeColumns() {
        var random = RandomSource(seed: 13)
        for (channels, height, width, kernel, stride, padding, batch) in
            [(3, 9, 7, 3, 2, 1, 4), (2, 8, 8, 3, 1, 1, 1), (1, 11, 5, 5, 3, 2, 3), (4, 6, 6, 1, 1, 0, 9), (2, 5, 9, 3, 1, 3, 2)] {
            let oh = (height + 2 * padding - kernel) / stride + 1, ow = (width + 2 * padding - kernel) / stride + 1
            let g = ConvGeometry(channels: channels, height: height, width: width, kernel: kernel, stride: stride,
                                 padding: padding, columnHeight: oh, columnWidth: ow)
            let x = (0..<(g.imageSize * batch)).map { _ in random.uniform(-1, 1) }
            var whole = [Float](repeating: .nan, count: g.rows * g.positions * batch)
            im2col(x, &whole, batch: batch, g)
            let line = ow * batch
            for first in 0..<oh { for last in (first + 1)...oh {
                var part = [Float](repeating: .nan, count: g.rows * (last - first) * line)
                im2col(x, &part, batch: batch, g, positionRows: first..<last)
                var expected: [Float] = []
                for r in 0..<g.rows { expected += whole[(r * oh + first) * line ..< (r * oh + last) * line] }
                XCTAssertEqual(part, expected, "C\(channels) \(height)×\(width) k\(kernel) s\(stride) p\(padding) N\(batch), rows \(first)..<\(last)")
            } }
        }
    }

    /// Conv2d and ConvTranspose2d on the GEMM path, with shapes whose columns come in several
    /// bands (`ConvGeometry.bandRows`), against the definitions in Double: forward, the input
    /// gradient, and the weight and bias gradients summed over the bands.
    func testBandedConvolutionsMatchTheDefinitionsForwardAndBackward() {
        DirectConvolution.force(.gemm)
        defer { DirectConvolution.force(nil) }
        // (transposed, column channels, image channels, column H×W, image H×W, k, s, p, batch)
        let cases = [(false, 5, 16, 20, 22, 20, 22, 3, 1, 1, 9),     // bands of 4 rows: 5
                     (false, 4, 32, 12, 16, 23, 31, 3, 2, 1, 9),     // bands of 3 rows: 4
                     (true, 16, 32, 10, 12, 20, 24, 3, 2, 1, 9),     // bands of 4 rows: 4, 4, 2
                     (true, 16, 32, 10, 12, 30, 36, 2, 3, 0, 9),     // bands of 9 + 1; rows no input reaches
                     (false, 3, 64, 6, 16, 22, 63, 2, 4, 1, 9)]      // bands of 3 rows: 2; stride above the kernel
        for (transposed, co, ci, ch, cw, ih, iw, k, s, p, batch) in cases {
            let g = ConvGeometry(channels: ci, height: ih, width: iw, kernel: k, stride: s, padding: p,
                                 columnHeight: ch, columnWidth: cw)
            XCTAssertLessThan(g.bandRows(batch: batch), ch, "the case must take several bands")
            let layer: Layer = transposed
                ? ConvTranspose2d(inputShape: [co, ch, cw], outputChannels: ci, kernelSize: k, stride: s, padding: p,
                                  outputPadding: (ih - ((ch - 1) * s - 2 * p + k), iw - ((cw - 1) * s - 2 * p + k)))
                : Conv2d(inputShape: [ci, ih, iw], outputChannels: co, kernelSize: k, stride: s, padding: p)
            let (columnSize, imageSize) = (co * ch * cw * batch, ci * ih * iw * batch)
            XCTAssertEqual(batch * layer.outputSize, transposed ? imageSize : columnSize)
            var random = RandomSource(seed: 21)
            var parameters = (0..<layer.parameterCount).map { _ in random.uniform(-1, 1) }
            var gradients = [Float](repeating: 0, count: parameters.count)
            let x = (0..<(batch * layer.inputSize)).map { _ in random.uniform(-1, 1) }
            let dy = (0..<(batch * layer.outputSize)).map { _ in random.uniform(-1, 1) }
            var y = [Float](repeating: 0, count: dy.count), dx = [Float](repeating: 0, count: x.count)
            var activated = [Float](repeating: .nan, count: dy.count)
            parameters.withUnsafeMutableBufferPointer { pp in gradients.withUnsafeMutableBufferPointer { gp in
                layer.bind(parameters: pp.baseAddress!, gradients: gp.baseAddress!)
                layer.forwardThenReLU(input: x, output: &activated, batch: batch)
                layer.forward(input: x, output: &y, batch: batch)
                layer.backward(input: x, output: y, outputGradient: dy, inputGradient: &dx, batch: batch)
            } }
            // Both layers link column (o, oh, ow) with image (c, oh·s − p + i, ow·s − p + j)
            // through w[o, c, i, j]; Conv2d maps image → columns, ConvTranspose2d columns → image.
            let weights = co * ci * k * k
            var ey = [Double](repeating: 0, count: y.count), edx = [Double](repeating: 0, count: x.count)
            var edw = [Double](repeating: 0, count: weights), edb = [Double](repeating: 0, count: parameters.count - weights)
            let outputPlane = transposed ? ih * iw * batch : ch * cw * batch
            for b in edb.indices {
                for i in 0..<outputPlane { ey[b * outputPlane + i] = Double(parameters[weights + b]); edb[b] += Double(dy[b * outputPlane + i]) }
            }
            for o in 0..<co { for c in 0..<ci { for i in 0..<k { for j in 0..<k {
                let wi = ((o * ci + c) * k + i) * k + j
                let w = Double(parameters[wi])
                for oy in 0..<ch { for ox in 0..<cw {
                    let (yy, xx) = (oy * s - p + i, ox * s - p + j)
                    guard yy >= 0, yy < ih, xx >= 0, xx < iw else { continue }
                    for n in 0..<batch {
                        let column = ((o * ch + oy) * cw + ox) * batch + n, image = ((c * ih + yy) * iw + xx) * batch + n
                        let (input, output) = transposed ? (column, image) : (image, column)
                        ey[output] += w * Double(x[input])
                        edx[input] += w * Double(dy[output])
                        edw[wi] += Double(dy[output]) * Double(x[input])
                    }
                } }
            } } } }
            func worst(_ a: ArraySlice<Float>, _ b: [Double]) -> Double {
                zip(a, b).reduce(0.0) { max($0, abs(Double($1.0) - $1.1) / max(1, abs($1.1))) }
            }
            let what = transposed ? "ConvTranspose2d" : "Conv2d"
            XCTAssertLessThan(worst(y[...], ey), 1e-5, "\(what) forward")
            XCTAssertEqual(activated, y.map { $0 > 0 ? $0 : 0 }, "\(what) forward with the ReLU applied band by band")
            XCTAssertLessThan(worst(dx[...], edx), 1e-5, "\(what) input gradient")
            // dW and db sum 3,000–4,000 products each in float, band by band.
            XCTAssertLessThan(worst(gradients[..<weights], edw), 1e-4, "\(what) weight gradient")
            XCTAssertLessThan(worst(gradients[weights...], edb), 1e-4, "\(what) bias gradient")
        }
    }

    /// ConvTranspose2d to 3 channels takes the GEMM path at any batch; with batch 9 and a 37-row
    /// input its columns come in two bands (23 + 14 rows). Against the definition:
    /// y[co, iy·s − p + ky, ix·s − p + kx, n] += Σ_ci x[ci, iy, ix, n] · W[ci, co, ky, kx], plus b[co].
    func testBandedTransposedConvolutionMatchesTheDefinition() {
        let (cin, h, w, cout, k, s, p, batch) = (4, 37, 23, 3, 3, 2, 1, 9)
        let layer = ConvTranspose2d(inputShape: [cin, h, w], outputChannels: cout, kernelSize: k, stride: s,
                                    padding: p, outputPadding: (1, 0))
        let (oh, ow) = (layer.outputShape[1], layer.outputShape[2])
        XCTAssertEqual((1 << 17) / (cout * k * k * w * batch), 23, "bands of 23 input rows: 23 + 14")
        var random = RandomSource(seed: 5)
        var parameters = (0..<layer.parameterCount).map { _ in random.uniform(-1, 1) }
        var gradients = [Float](repeating: 0, count: parameters.count)
        let x = (0..<(batch * layer.inputSize)).map { _ in random.uniform(-1, 1) }
        var y = [Float](repeating: 0, count: batch * layer.outputSize)
        parameters.withUnsafeMutableBufferPointer { pp in gradients.withUnsafeMutableBufferPointer { g in
            layer.bind(parameters: pp.baseAddress!, gradients: g.baseAddress!)
            layer.forward(input: x, output: &y, batch: batch)
        } }
        let weight = parameters[0..<(cin * cout * k * k)], bias = parameters[(cin * cout * k * k)...]
        var expected = [Double](repeating: 0, count: y.count)   // batch-minor (Cout, OH, OW, N)
        for co in 0..<cout { for i in 0..<(oh * ow * batch) { expected[co * oh * ow * batch + i] = Double(bias[bias.startIndex + co]) } }
        for ci in 0..<cin { for iy in 0..<h { for ix in 0..<w { for ky in 0..<k { for kx in 0..<k {
            let (oy, ox) = (iy * s - p + ky, ix * s - p + kx)
            guard oy >= 0, oy < oh, ox >= 0, ox < ow else { continue }
            for co in 0..<cout {
                let wv = Double(weight[((ci * cout + co) * k + ky) * k + kx])
                for n in 0..<batch {
                    expected[((co * oh + oy) * ow + ox) * batch + n] += wv * Double(x[((ci * h + iy) * w + ix) * batch + n])
                }
            }
        } } } } }
        let worst = zip(y, expected).reduce(0.0) { max($0, abs(Double($1.0) - $1.1)) }
        XCTAssertLessThan(worst, 1e-5)
    }
}
