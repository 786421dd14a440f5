/// 2-D transposed convolution, PyTorch's `nn.ConvTranspose2d` (no dilation, no groups): the
/// adjoint of a Conv2d with the same kernel, stride and padding, plus a bias. Batch-minor buffers:
///
/// x: (Cin, H, W, N), W: (Cin, Cout, k, k), y: (Cout, OH, OW, N),
/// OH = (H − 1)·s − 2p + k + output_padding  (output_padding < s picks among the sizes that a
/// stride-s convolution maps back to H).
/// Forward: cols (Cout·k·k, H·W·N) = Wᵀ x; y = b + col2im(cols).
/// Backward: dcols = im2col(dy); dW += x dcolsᵀ; db += Σ dy; dx = W dcols.
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
    /// cols or dcols: (Cout·k·k, H·W·N).
    private let columns = Workspace()

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

    var parameterCount: Int { inputChannels * geometry.rows + outputChannels }

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
        let columnCount = g.positions * batch
        let cols = columns.reserve(g.rows * columnCount)
        gemm(transposeA: true, transposeB: false, m: g.rows, n: columnCount, k: inputChannels,
             a: weight, lda: g.rows, b: input, ldb: columnCount, beta: 0, c: cols, ldc: columnCount)
        fillRows(with: bias, rows: outputChannels, length: g.height * g.width * batch, into: output)
        col2im(cols, output, batch: batch, g)
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        let g = geometry
        let columnCount = g.positions * batch
        let dcols = columns.reserve(g.rows * columnCount)
        im2col(outputGradient, dcols, batch: batch, g)
        gemm(transposeA: false, transposeB: true, m: inputChannels, n: g.rows, k: columnCount,
             a: input, lda: columnCount, b: dcols, ldb: columnCount,
             beta: 1, c: weightGradient, ldc: g.rows)
        addRowSums(outputGradient, rows: outputChannels, length: g.height * g.width * batch,
                   into: biasGradient)
        guard let dx = inputGradient else { return }
        gemm(transposeA: false, transposeB: false, m: inputChannels, n: columnCount, k: g.rows,
             a: weight, lda: g.rows, b: dcols, ldb: columnCount, beta: 0, c: dx, ldc: columnCount)
    }
}
