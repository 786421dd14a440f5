/// 2-D transposed convolution, PyTorch's `nn.ConvTranspose2d` (no dilation, no groups): the
/// adjoint of a Conv2d with the same kernel, stride and padding, plus a bias.
///
/// x: (N, Cin, H, W), W: (Cin, Cout, k, k), y: (N, Cout, OH, OW),
/// OH = (H − 1)·s − 2p + k + output_padding  (output_padding < s picks among the sizes that a
/// stride-s convolution maps back to H).
/// Forward: Xᶜ (Cin, N·H·W) from x; cols (Cout·k·k, N·H·W) = Wᵀ Xᶜ; y = col2im(cols) + b.
/// Backward: dcols = im2col(dy); dW += Xᶜ dcolsᵀ; db += Σ dy; dXᶜ = W dcols → dx.
/// Initialization (PyTorch default; its fan-in of this weight is Cout·k·k):
/// W, b ~ U(−1/√(Cout·k·k), 1/√(Cout·k·k)).
final class ConvTranspose2d: Layer {
    let inputShape: [Int]
    let outputShape: [Int]
    let inputChannels: Int
    let outputChannels: Int
    /// Geometry of the output grid (the "image") against the input positions (the "columns").
    private let geometry: ConvGeometry
    private var weight: UnsafeMutablePointer<Float>!
    private var bias: UnsafeMutablePointer<Float>!
    private var weightGradient: UnsafeMutablePointer<Float>!
    private var biasGradient: UnsafeMutablePointer<Float>!
    /// Channel-major input of the last forward, kept for backward: (Cin, N·H·W).
    private let channelMajorInput = Workspace()
    /// cols or dcols: (Cout·k·k, N·H·W).
    private let columns = Workspace()
    /// Channel-major input gradient: (Cin, N·H·W).
    private let channelMajorGradient = Workspace()

    /// Output height/width, or nil when the geometry is impossible.
    static func outputSize(input: Int, kernel: Int, stride: Int, padding: Int,
                           outputPadding: Int) -> Int? {
        let size = (input - 1) * stride - 2 * padding + kernel + outputPadding
        return size < 1 ? nil : size
    }

    /// inputShape: [Cin, H, W]; outputPadding: (along H, along W), as PyTorch's tuple form.
    init(inputShape: [Int], outputChannels: Int, kernelSize: Int, stride: Int, padding: Int,
         outputPadding: (Int, Int)) {
        self.inputShape = inputShape
        self.inputChannels = inputShape[0]
        self.outputChannels = outputChannels
        let oh = ConvTranspose2d.outputSize(input: inputShape[1], kernel: kernelSize, stride: stride,
                                            padding: padding, outputPadding: outputPadding.0) ?? 0
        let ow = ConvTranspose2d.outputSize(input: inputShape[2], kernel: kernelSize, stride: stride,
                                            padding: padding, outputPadding: outputPadding.1) ?? 0
        geometry = ConvGeometry(channels: outputChannels, height: oh, width: ow, kernel: kernelSize,
                                stride: stride, padding: padding, columnHeight: inputShape[1],
                                columnWidth: inputShape[2])
        outputShape = [outputChannels, oh, ow]
    }

    var parameterShapes: [(name: String, shape: [Int])] {
        [("weight", [inputChannels, outputChannels, geometry.kernel, geometry.kernel]),
         ("bias", [outputChannels])]
    }

    func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        let w = inputChannels * geometry.rows
        weight = parameters; bias = parameters + w
        weightGradient = gradients; biasGradient = gradients + w
    }

    func initialize(random: inout RandomSource) {
        let bound = 1 / Float(Double(geometry.rows).squareRoot())
        random.fillUniform(weight, count: inputChannels * geometry.rows, bound: bound)
        random.fillUniform(bias, count: outputChannels, bound: bound)
    }

    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        let g = geometry
        let columnCount = batch * g.positions
        let xc = channelMajorInput.reserve(inputChannels * columnCount)
        batchToChannelMajor(input, xc, batch: batch, channels: inputChannels, positions: g.positions)
        let cols = columns.reserve(g.rows * columnCount)
        gemm(transposeA: true, transposeB: false, m: g.rows, n: columnCount, k: inputChannels,
             a: weight, lda: g.rows, b: xc, ldb: columnCount, beta: 0, c: cols, ldc: columnCount)
        let planeSize = g.height * g.width
        for n in 0..<batch {
            for c in 0..<outputChannels {
                (output + (n * outputChannels + c) * planeSize).update(repeating: bias[c],
                                                                       count: planeSize)
            }
        }
        col2im(cols, output, batch: batch, g)
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        let g = geometry
        let columnCount = batch * g.positions
        let dcols = columns.reserve(g.rows * columnCount)
        im2col(outputGradient, dcols, batch: batch, g)
        let xc = channelMajorInput.reserve(inputChannels * columnCount)  // from forward
        gemm(transposeA: false, transposeB: true, m: inputChannels, n: g.rows, k: columnCount,
             a: xc, lda: columnCount, b: dcols, ldb: columnCount,
             beta: 1, c: weightGradient, ldc: g.rows)
        addChannelSums(outputGradient, batch: batch, channels: outputChannels,
                       positions: g.height * g.width, into: biasGradient)
        guard let dx = inputGradient else { return }
        let dxc = channelMajorGradient.reserve(inputChannels * columnCount)
        gemm(transposeA: false, transposeB: false, m: inputChannels, n: columnCount, k: g.rows,
             a: weight, lda: g.rows, b: dcols, ldb: columnCount, beta: 0, c: dxc, ldc: columnCount)
        channelMajorToBatch(dxc, dx, batch: batch, channels: inputChannels, positions: g.positions,
                            bias: nil)
    }
}
