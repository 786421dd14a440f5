/// Fully connected layer, PyTorch's `nn.Linear`, on batch-minor buffers:
///
///     y = W x + b        x: (in, N), W: (out, in), b: (out), y: (out, N)
///
/// Backward:  dW += dy xᵀ,  db += Σ_n dy,  dx = Wᵀ dy.
/// Initialization (PyTorch default): W, b ~ U(−1/√in, 1/√in).
final class Dense: Layer {
    let inputFeatures: Int
    let outputFeatures: Int
    private var weight: UnsafeMutablePointer<Float>!
    private var bias: UnsafeMutablePointer<Float>!
    private var weightGradient: UnsafeMutablePointer<Float>!
    private var biasGradient: UnsafeMutablePointer<Float>!
    let inputShape: [Int]

    /// `inputShape` may be any shape; it is read as a flat vector of its product (C·H·W rows of
    /// a batch-minor image are exactly the flattened features).
    init(inputShape: [Int], outputFeatures: Int) {
        self.inputShape = inputShape
        self.inputFeatures = inputShape.reduce(1, *)
        self.outputFeatures = outputFeatures
        self.outputShape = [outputFeatures]
    }

    /// Stored: a computed `[outputFeatures]` allocated an array on every forward (malloc counter).
    let outputShape: [Int]
    var parameterCount: Int { outputFeatures * inputFeatures + outputFeatures }

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
        fillRows(with: bias, rows: outputFeatures, length: batch, into: output)
        gemm(transposeA: false, transposeB: false, m: outputFeatures, n: batch, k: inputFeatures,
             a: weight, lda: inputFeatures, b: input, ldb: batch, beta: 1, c: output, ldc: batch)
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        gemm(transposeA: false, transposeB: true, m: outputFeatures, n: inputFeatures, k: batch,
             a: outputGradient, lda: batch, b: input, ldb: batch,
             beta: 1, c: weightGradient, ldc: inputFeatures)
        addRowSums(outputGradient, rows: outputFeatures, length: batch, into: biasGradient)
        if let dx = inputGradient {
            gemm(transposeA: true, transposeB: false, m: inputFeatures, n: batch, k: outputFeatures,
                 a: weight, lda: inputFeatures, b: outputGradient, ldb: batch, beta: 0, c: dx, ldc: batch)
        }
    }
}

// MARK: - Spec

/// `{"type": "dense", "out": 256}`: a Dense layer of `out` features on the flattened input.
struct DenseDefinition: LayerDefinition, Equatable {
    static let type = "dense"
    static let keys = ["out"]
    var outputs: Int

    init(outputs: Int) { self.outputs = outputs }
    init(_ fields: LayerFields) throws { outputs = try fields.requiredInt("out", "a positive integer") }

    func validate(path: String) throws { try checkWidth(outputs, "\(path).out") }
    var jsonFields: [JSONMember] { [JSONMember("out", .int(Int64(outputs)))] }
    func build(into builder: inout NetworkBuilder, at path: String) throws { try builder.dense(outputs, at: path) }
}

extension LayerSpec {
    public static func dense(outputs: Int) -> LayerSpec { LayerSpec(DenseDefinition(outputs: outputs)) }
}

extension NetworkBuilder {
    /// Dense(out) on the current shape read as a flat vector.
    mutating func dense(_ outputs: Int, at what: String) throws {
        if what == "spec.input" && (outputs < 1 || outputs > SpecLimits.maxWidth) {
            // The decoder's last dense layer outputs a whole image: say which product is too large.
            throw AECVError.config("spec.input: a dense decoder outputs C*H*W = \(outputs) values per image, "
                                   + "more than its layer limit of \(SpecLimits.maxWidth); use a conv preset for larger images")
        }
        try checkWidth(outputs, what)
        let inputs = size
        let weights = try product([inputs, outputs], limit: SpecLimits.maxParameters, what: what)
        try add(Dense(inputShape: shape, outputFeatures: outputs), parameters: weights + outputs)
    }
}
