import AECVKernels
import CKernels

/// Fully connected layer, PyTorch's `nn.Linear`, on batch-minor buffers:
///
///     y = W x + b        x: (in, N), W: (out, in), b: (out), y: (out, N)
///
/// Backward:  dW += dy xᵀ,  db += Σ_n dy,  dx = Wᵀ dy.
/// On AVX-512 CPUs with 8 or more lanes, y and dx are the direct convolution gathers of a 1×1
/// convolution on a 1×1 image (`DirectConvolution`; 170–220 GFLOP/s a core against 110–120 for
/// OpenBLAS's AVX2 sgemm on 784 × 256 at 32–64 lanes), with the bias and a following ReLU
/// applied as each value is stored. dW, a sum over the lanes only (too short for the gathers'
/// lane reductions, 37–57 GFLOP/s), is an outer product over the transposed input there
/// (CKernels/dense_weight_grad.c); elsewhere sgemm.
/// Initialization (PyTorch default): W, b ~ U(−1/√in, 1/√in).
package final class Dense: Layer {
    package let inputFeatures: Int
    package let outputFeatures: Int
    private var weight: UnsafeMutablePointer<Float>!
    private var bias: UnsafeMutablePointer<Float>!
    private var weightGradient: UnsafeMutablePointer<Float>!
    private var biasGradient: UnsafeMutablePointer<Float>!
    package let inputShape: [Int]
    /// The layer as a 1×1 convolution of a 1×1 image with `inputFeatures` channels.
    private let geometry: ConvGeometry
    /// The weight in the direct gathers' packed order, rebuilt by each pass that uses it.
    private let packed = Workspace()

    /// `inputShape` may be any shape; it is read as a flat vector of its product (C·H·W rows of
    /// a batch-minor image are exactly the flattened features).
    package init(inputShape: [Int], outputFeatures: Int) {
        self.inputShape = inputShape
        self.inputFeatures = inputShape.reduce(1, *)
        self.outputFeatures = outputFeatures
        self.outputShape = [outputFeatures]
        geometry = ConvGeometry(channels: inputFeatures, height: 1, width: 1, kernel: 1, stride: 1, padding: 0,
                                columnHeight: 1, columnWidth: 1)
    }

    /// Stored: a computed `[outputFeatures]` allocated an array on every forward (malloc counter).
    package let outputShape: [Int]
    package var parameterCount: Int { outputFeatures * inputFeatures + outputFeatures }

    package var parameterShapes: [(name: String, shape: [Int])] {
        [("weight", [outputFeatures, inputFeatures]), ("bias", [outputFeatures])]
    }

    package func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        weight = parameters
        bias = parameters + outputFeatures * inputFeatures
        weightGradient = gradients
        biasGradient = gradients + outputFeatures * inputFeatures
    }

    package func initialize(random: inout RandomSource) {
        let bound = 1 / Float(Double(inputFeatures).squareRoot())
        random.fillUniform(weight, count: outputFeatures * inputFeatures, bound: bound)
        random.fillUniform(bias, count: outputFeatures, bound: bound)
    }

    package func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        forward(input, output, batch: batch, relu: false)
    }

    package func forwardThenReLU(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        forward(input, output, batch: batch, relu: true)
    }

    private func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, relu: Bool) {
        if let direct = DirectConvolution(geometry, columnChannels: outputFeatures, batch: batch), direct.gathersToColumns {
            direct.toColumns(image: input, weight: weight, columns: output, bias: UnsafePointer(bias), relu: relu,
                             pack: packed.reserve(direct.packFloats))
            return
        }
        fillRows(with: bias, rows: outputFeatures, length: batch, into: output)
        gemm(transposeA: false, transposeB: false, m: outputFeatures, n: batch, k: inputFeatures,
             a: weight, lda: inputFeatures, b: input, ldb: batch, beta: 1, c: output, ldc: batch)
        if relu { reluForward(output, output, count: outputFeatures * batch) }
    }

    /// Backward reads input and gradients only, so a following ReLU may overwrite the output.
    package var backwardReadsOutput: Bool { false }

    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        let direct = DirectConvolution(geometry, columnChannels: outputFeatures, batch: batch)
        // dW += dy · xᵀ, a sum over the part's lanes only: with the gathers, by the outer-product
        // tiles of dense_weight_grad.c (OpenBLAS's fallback kernels took a third of a step on a
        // CPU it did not know); the scratch is the pack's, which the input gradient reuses after.
        var done = false
        if let direct {
            let scratch = packed.reserve(max(direct.packFloats,
                                             ckernels_dense_weight_grad_scratch_floats(inputFeatures, batch)))
            done = ckernels_dense_weight_grad(outputFeatures, inputFeatures, batch, outputGradient, input,
                                              weightGradient, scratch) != 0
        }
        if !done {
            gemm(transposeA: false, transposeB: true, m: outputFeatures, n: inputFeatures, k: batch,
                 a: outputGradient, lda: batch, b: input, ldb: batch,
                 beta: 1, c: weightGradient, ldc: inputFeatures)
        }
        addRowSums(outputGradient, rows: outputFeatures, length: batch, into: biasGradient)
        guard let dx = inputGradient else { return }
        if let direct, direct.gathersToImage {
            direct.toImage(columns: outputGradient, weight: weight, image: dx, pack: packed.reserve(direct.packFloats))
            return
        }
        gemm(transposeA: true, transposeB: false, m: inputFeatures, n: batch, k: outputFeatures,
             a: weight, lda: inputFeatures, b: outputGradient, ldb: batch, beta: 0, c: dx, ldc: batch)
    }
}

// MARK: - Spec

/// `{"type": "dense", "out": 256}`: a Dense layer of `out` features on the flattened input.
package struct DenseDefinition: LayerDefinition, Equatable {
    package static let type = "dense"
    package static let keys = ["out"]
    package var outputs: Int

    package init(outputs: Int) { self.outputs = outputs }
    package init(_ fields: LayerFields) throws { outputs = try fields.requiredInt("out", "a positive integer") }

    package func validate(path: String) throws { try checkWidth(outputs, "\(path).out") }
    package var jsonFields: [JSONMember] { [JSONMember("out", .int(Int64(outputs)))] }
    package func build(into builder: inout NetworkBuilder, at path: String) throws { try builder.dense(outputs, at: path) }
}

extension LayerSpec {
    public static func dense(outputs: Int) -> LayerSpec { LayerSpec(DenseDefinition(outputs: outputs)) }
}

extension NetworkBuilder {
    /// Dense(out) on the current shape read as a flat vector.
    package mutating func dense(_ outputs: Int, at what: String) throws {
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

// MARK: - ONNX

/// Gemm(x, W, b, transB = 1): y = x Wᵀ + b on (N, in), W as PyTorch stores it (out, in). An
/// image input is flattened first (the NCHW flattening is the features' order here).
extension Dense {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        let x = graph.flattened(input, name: name)
        let w = graph.initializer("\(name).weight", dims: [outputFeatures, inputFeatures], from: weight)
        let b = graph.initializer("\(name).bias", dims: [outputFeatures], from: bias)
        return graph.node("Gemm", [x, w, b], attributes: [ONNXAttribute("transB", .int(1))], name: name,
                          shape: [outputFeatures])
    }
}

extension DenseDefinition {
    /// Gemm, and MatMul by a constant (in, out) matrix (a following Add of a constant bias is
    /// folded in by the importer, `ONNXImport.foldBias`).
    package static var onnxOperators: [String] { ["Gemm", "MatMul"] }

    /// Gemm with alpha = beta = 1, transA = 0, a constant B (transposed or not) and an optional
    /// constant C of `out` values: PyTorch's `nn.Linear` export.
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        let inputs = context.shape.reduce(1, *)
        if node.opType == "MatMul" {
            guard context.rank == 1 else {
                throw context.unsupported(node, "MatMul on a \(context.rank + 1)-D input (only (batch, features))")
            }
            let b = try context.constant(node, input: 1, "the weight (input B)")
            guard b.dataType == ONNXTensor.float32, b.dims.count == 2, b.dims[0] == inputs else {
                throw context.unsupported(node, "the weight must be a float (\(inputs), out) matrix, got dims \(b.dims)")
            }
            let outputs = b.dims[1]
            var weight = [Float](repeating: 0, count: outputs * inputs)
            for o in 0..<outputs { for i in 0..<inputs { weight[o * inputs + i] = b.floats[i * outputs + o] } }
            return ONNXImportedLayer(spec: .dense(outputs: outputs), tensors: [
                ("weight", [outputs, inputs], weight), ("bias", [outputs], [Float](repeating: 0, count: outputs))])
        }
        if try node.float("alpha", default: 1) != 1 || node.float("beta", default: 1) != 1 {
            throw context.unsupported(node, "alpha and beta other than 1")
        }
        if try node.int("transA", default: 0) != 0 { throw context.unsupported(node, "transA = 1") }
        let transposed = try node.int("transB", default: 0) != 0
        let b = try context.constant(node, input: 1, "the weight (input B)")
        guard b.dataType == ONNXTensor.float32, b.dims.count == 2 else {
            throw context.unsupported(node, "the weight must be a 2-D float tensor, got dims \(b.dims)")
        }
        let outputs = transposed ? b.dims[0] : b.dims[1]
        guard (transposed ? b.dims[1] : b.dims[0]) == inputs else {
            throw AECVError.format("ONNX \(node.described): weight dims \(b.dims) do not fit \(inputs) input features")
        }
        var weight = b.floats
        if !transposed {  // B is (in, out): PyTorch's layout is its transpose
            for o in 0..<outputs { for i in 0..<inputs { weight[o * inputs + i] = b.floats[i * outputs + o] } }
        }
        var bias = [Float](repeating: 0, count: outputs)
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            let c = try context.constant(node, input: 2, "the bias (input C)")
            guard c.dataType == ONNXTensor.float32, c.floats.count == outputs, c.dims.reduce(1, *) == outputs else {
                throw context.unsupported(node, "the bias must hold \(outputs) floats, got dims \(c.dims)")
            }
            bias = c.floats
        }
        return ONNXImportedLayer(spec: .dense(outputs: outputs),
                                 tensors: [("weight", [outputs, inputs], weight), ("bias", [outputs], bias)])
    }
}
