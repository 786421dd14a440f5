/// 2-D convolution, PyTorch's `nn.Conv2d` (no dilation, no groups), on batch-minor buffers:
///
///     y[o, oh, ow, n] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x[c, oh·s − p + i, ow·s − p + j, n]
///
/// x: (Cin, H, W, N), W: (Cout, Cin, k, k), y: (Cout, OH, OW, N), OH = ⌊(H + 2p − k)/s⌋ + 1.
/// Computed as im2col over the whole batch, then one GEMM: y (Cout, OH·OW·N) = W · cols.
/// Backward: dW += dy colsᵀ, db += Σ dy, dcols = Wᵀ dy, dx = col2im(dcols).
/// Initialization (PyTorch default): W, b ~ U(−1/√(Cin·k·k), 1/√(Cin·k·k)).
final class Conv2d: Layer {
    let inputShape: [Int]
    let outputShape: [Int]
    let outputChannels: Int
    private let geometry: ConvGeometry
    private var weight: UnsafeMutablePointer<Float>!
    private var bias: UnsafeMutablePointer<Float>!
    private var weightGradient: UnsafeMutablePointer<Float>!
    private var biasGradient: UnsafeMutablePointer<Float>!
    /// im2col of the last forward's input, kept for backward: (Cin·k·k, OH·OW·N).
    private let columns = Workspace()

    /// Output height/width of a convolution, or nil when the kernel does not fit.
    static func outputSize(input: Int, kernel: Int, stride: Int, padding: Int) -> Int? {
        let span = input + 2 * padding - kernel
        return span < 0 ? nil : span / stride + 1
    }

    /// inputShape: [Cin, H, W]; the caller has validated that the kernel fits.
    init(inputShape: [Int], outputChannels: Int, kernelSize: Int, stride: Int, padding: Int) {
        self.inputShape = inputShape
        self.outputChannels = outputChannels
        let oh = Conv2d.outputSize(input: inputShape[1], kernel: kernelSize, stride: stride,
                                   padding: padding) ?? 0
        let ow = Conv2d.outputSize(input: inputShape[2], kernel: kernelSize, stride: stride,
                                   padding: padding) ?? 0
        geometry = ConvGeometry(channels: inputShape[0], height: inputShape[1], width: inputShape[2],
                                kernel: kernelSize, stride: stride, padding: padding,
                                columnHeight: oh, columnWidth: ow)
        outputShape = [outputChannels, oh, ow]
    }

    var parameterCount: Int { outputChannels * geometry.rows + outputChannels }

    var parameterShapes: [(name: String, shape: [Int])] {
        [("weight", [outputChannels, geometry.channels, geometry.kernel, geometry.kernel]),
         ("bias", [outputChannels])]
    }

    func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        let w = outputChannels * geometry.rows
        weight = parameters; bias = parameters + w
        weightGradient = gradients; biasGradient = gradients + w
    }

    func initialize(random: inout RandomSource) {
        let bound = 1 / Float(Double(geometry.rows).squareRoot())
        random.fillUniform(weight, count: outputChannels * geometry.rows, bound: bound)
        random.fillUniform(bias, count: outputChannels, bound: bound)
    }

    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        let g = geometry
        let columnCount = g.positions * batch
        let cols = columns.reserve(g.rows * columnCount)
        im2col(input, cols, batch: batch, g)
        fillRows(with: bias, rows: outputChannels, length: columnCount, into: output)
        gemm(transposeA: false, transposeB: false, m: outputChannels, n: columnCount, k: g.rows,
             a: weight, lda: g.rows, b: cols, ldb: columnCount, beta: 1, c: output, ldc: columnCount)
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        let g = geometry
        let columnCount = g.positions * batch
        let cols = columns.reserve(g.rows * columnCount)  // still holds forward's im2col
        gemm(transposeA: false, transposeB: true, m: outputChannels, n: g.rows, k: columnCount,
             a: outputGradient, lda: columnCount, b: cols, ldb: columnCount,
             beta: 1, c: weightGradient, ldc: g.rows)
        addRowSums(outputGradient, rows: outputChannels, length: columnCount, into: biasGradient)
        guard let dx = inputGradient else { return }
        // The forward columns are no longer needed: reuse them for dcols.
        gemm(transposeA: true, transposeB: false, m: g.rows, n: columnCount, k: outputChannels,
             a: weight, lda: g.rows, b: outputGradient, ldb: columnCount, beta: 0, c: cols, ldc: columnCount)
        dx.update(repeating: 0, count: batch * g.imageSize)
        col2im(cols, dx, batch: batch, g)
    }
}
