#if canImport(Glibc)
import Glibc
#endif

/// Fully connected layer, PyTorch's `nn.Linear`:
///
///     y = x Wᵀ + b        x: (N, in), W: (out, in), b: (out), y: (N, out)
///
/// Backward:  dW += dyᵀ x,  db += Σ_n dy,  dx = dy W.
/// Initialization (PyTorch default): W, b ~ U(−1/√in, 1/√in).
final class Dense: Layer {
    let inputFeatures: Int
    let outputFeatures: Int
    private var weight: UnsafeMutablePointer<Float>!
    private var bias: UnsafeMutablePointer<Float>!
    private var weightGradient: UnsafeMutablePointer<Float>!
    private var biasGradient: UnsafeMutablePointer<Float>!
    let inputShape: [Int]

    /// `inputShape` may be any shape; it is read as a flat vector of its product.
    init(inputShape: [Int], outputFeatures: Int) {
        self.inputShape = inputShape
        self.inputFeatures = inputShape.reduce(1, *)
        self.outputFeatures = outputFeatures
    }

    var outputShape: [Int] { [outputFeatures] }

    var parameterShapes: [(name: String, shape: [Int])] {
        [("weight", [outputFeatures, inputFeatures]), ("bias", [outputFeatures])]
    }

    func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        weight = parameters
        bias = parameters + outputFeatures * inputFeatures
        weightGradient = gradients
        biasGradient = gradients + outputFeatures * inputFeatures
    }

    func initialize(random: inout RandomSource) {
        let bound = 1 / Float(Double(inputFeatures).squareRoot())
        random.fillUniform(weight, count: outputFeatures * inputFeatures, bound: bound)
        random.fillUniform(bias, count: outputFeatures, bound: bound)
    }

    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        broadcastRows(bias, rows: batch, columns: outputFeatures, into: output)
        gemm(transposeA: false, transposeB: true, m: batch, n: outputFeatures, k: inputFeatures,
             a: input, lda: inputFeatures, b: weight, ldb: inputFeatures,
             beta: 1, c: output, ldc: outputFeatures)
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        gemm(transposeA: true, transposeB: false, m: outputFeatures, n: inputFeatures, k: batch,
             a: outputGradient, lda: outputFeatures, b: input, ldb: inputFeatures,
             beta: 1, c: weightGradient, ldc: inputFeatures)
        addColumnSums(outputGradient, rows: batch, columns: outputFeatures, into: biasGradient)
        if let dx = inputGradient {
            gemm(transposeA: false, transposeB: false, m: batch, n: inputFeatures, k: outputFeatures,
                 a: outputGradient, lda: outputFeatures, b: weight, ldb: inputFeatures,
                 beta: 0, c: dx, ldc: inputFeatures)
        }
    }
}
