import AECVKernels

/// 2-D transposed convolution, PyTorch's `nn.ConvTranspose2d` (no dilation, no groups): the
/// adjoint of a Conv2d with the same kernel, stride and padding, plus a bias. Batch-minor buffers:
///
/// x: (Cin, H, W, N), W: (Cin, Cout, k, k), y: (Cout, OH, OW, N),
/// OH = (H − 1)·s − 2p + k + output_padding  (output_padding < s picks among the sizes that a
/// stride-s convolution maps back to H).
/// Forward: cols (Cout·k·k, H·W·N) = Wᵀ x; y = b + col2im(cols).
/// Backward: dcols = im2col(dy); dW += x dcolsᵀ; db += Σ dy; dx = W dcols.
/// Both a band of input rows at a time (`ConvGeometry.bandRows`), never the whole column matrix.
/// For batches of 8 or more lanes on AVX-512 CPUs these are direct gathers instead
/// (`DirectConvolution`, weight (Cin, Cout, k, k) = its (column, image) channels): forward is
/// toImage (for 8 or more output channels), dW weightGradient, dx toColumns. One image on such
/// a CPU (8 or more output channels) runs forward through the one-image gather
/// (`SingleImageConvolution`).
/// Initialization (PyTorch default; its fan-in of this weight is Cout·k·k):
/// W, b ~ U(−1/√(Cout·k·k), 1/√(Cout·k·k)).
package final class ConvTranspose2d: Layer {
    package let inputShape: [Int]
    package let outputShape: [Int]
    package let inputChannels: Int
    package let outputChannels: Int
    /// Geometry of the output grid (the "image") against the input positions (the "columns").
    private let geometry: ConvGeometry
    private var weight: UnsafeMutablePointer<Float>!
    private var bias: UnsafeMutablePointer<Float>!
    private var weightGradient: UnsafeMutablePointer<Float>!
    private var biasGradient: UnsafeMutablePointer<Float>!
    /// One band of cols or dcols: (Cout·k·k, rows·W·N), or the one-image gather's scratch.
    private let columns = Workspace()
    /// The weight in the direct gathers' packed order, rebuilt by each pass that uses it.
    private let packed = Workspace()
    /// The weight packed for the one-image gather, kept while the weight is unchanged.
    private let singleImagePacked = PackedWeights()

    /// Output height/width, or nil when the geometry is impossible.
    package static func outputSize(input: Int, kernel: Int, stride: Int, padding: Int,
                           outputPadding: Int) -> Int? {
        let size = (input - 1) * stride - 2 * padding + kernel + outputPadding
        return size < 1 ? nil : size
    }

    /// inputShape: [Cin, H, W]; outputPadding: (along H, along W), as PyTorch's tuple form.
    package init(inputShape: [Int], outputChannels: Int, kernelSize: Int, stride: Int, padding: Int,
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

    package var parameterCount: Int { inputChannels * geometry.rows + outputChannels }

    package var parameterShapes: [(name: String, shape: [Int])] {
        [("weight", [inputChannels, outputChannels, geometry.kernel, geometry.kernel]),
         ("bias", [outputChannels])]
    }

    package func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        let w = inputChannels * geometry.rows
        weight = parameters; bias = parameters + w
        weightGradient = gradients; biasGradient = gradients + w
    }

    package func initialize(random: inout RandomSource) {
        let bound = 1 / Float(Double(geometry.rows).squareRoot())
        random.fillUniform(weight, count: inputChannels * geometry.rows, bound: bound)
        random.fillUniform(bias, count: outputChannels, bound: bound)
    }

    /// A band of columns: one row of input positions per example (`ConvGeometry.bandRows`).
    package var scratchFloatsPerExample: Int { geometry.bandFloatsPerExample }

    package func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        forward(input, output, batch: batch, relu: false)
    }

    package func forwardThenReLU(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        forward(input, output, batch: batch, relu: true)
    }

    /// As Conv2d's: the gather adds the bias and applies the ReLU as it stores; the GEMM path
    /// fills the bias first and applies the ReLU after col2im.
    private func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, relu: Bool) {
        let g = geometry
        let columnCount = g.positions * batch
        if batch == 1, let single = SingleImageConvolution(g, columnChannels: inputChannels, toImage: true) {
            let w = singleImagePacked.packed(weight, count: inputChannels * g.rows, packedFloats: single.packFloats) {
                single.pack(weight: weight, into: $0)
            }
            single.run(input: input, packed: w, output: output, bias: UnsafePointer(bias), relu: relu,
                       scratch: columns.reserve(single.scratchFloats))
            return
        }
        if let direct = DirectConvolution(g, columnChannels: inputChannels, batch: batch), direct.gathersToImage {
            direct.toImage(columns: input, weight: weight, image: output,
                           bias: UnsafePointer(bias), relu: relu, pack: packed.reserve(direct.packFloats))
            return
        }
        let count = outputChannels * g.height * g.width * batch
        fillRows(with: bias, rows: outputChannels, length: g.height * g.width * batch, into: output)
        // A band of input rows at a time (`ConvGeometry.bandRows`): its columns are still in L2
        // when col2im reads them, and the buffer stays small.
        let cols = columns.reserve(g.bandBufferFloats(batch: batch))
        g.forEachBand(batch: batch) { band, offset, width in
            gemm(transposeA: true, transposeB: false, m: g.rows, n: width, k: inputChannels,
                 a: weight, lda: g.rows, b: input + offset, ldb: columnCount, beta: 0, c: cols, ldc: width)
            col2im(cols, output, batch: batch, g, positionRows: band)
        }
        if relu { reluForward(output, output, count: count) }
    }

    /// Backward reads input and gradients only, so a following ReLU may overwrite the output.
    package var backwardReadsOutput: Bool { false }

    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        addRowSums(outputGradient, rows: outputChannels, length: geometry.height * geometry.width * batch,
                   into: biasGradient)
        backwardOfWeights(input: input, outputGradient: outputGradient, inputGradient: inputGradient, batch: batch)
    }

    /// dy · [y > 0] in place, summed into db in the same pass (`reluBackwardAddingRowSums`).
    package func backwardThroughReLU(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                     outputGradient: UnsafeMutablePointer<Float>,
                                     inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        reluBackwardAddingRowSums(output, outputGradient, rows: outputChannels,
                                  length: geometry.height * geometry.width * batch, into: biasGradient)
        backwardOfWeights(input: input, outputGradient: outputGradient, inputGradient: inputGradient, batch: batch)
    }

    /// dW and dx (everything but db).
    private func backwardOfWeights(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                                   inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        let g = geometry
        let columnCount = g.positions * batch
        let direct = DirectConvolution(g, columnChannels: inputChannels, batch: batch)
        if let direct {
            direct.weightGradient(columns: input, image: outputGradient, into: weightGradient)
            guard let dx = inputGradient else { return }
            if direct.gathersToColumns {
                direct.toColumns(image: outputGradient, weight: weight, columns: dx,
                                 pack: packed.reserve(direct.packFloats))
                return
            }
        }
        // dcols = im2col(dy) a band of input rows at a time, as forward's columns.
        let dcols = columns.reserve(g.bandBufferFloats(batch: batch))
        g.forEachBand(batch: batch) { band, offset, width in
            im2col(outputGradient, dcols, batch: batch, g, positionRows: band)
            if direct == nil {
                gemm(transposeA: false, transposeB: true, m: inputChannels, n: g.rows, k: width,
                     a: input + offset, lda: columnCount, b: dcols, ldb: width,
                     beta: 1, c: weightGradient, ldc: g.rows)
            }
            guard let dx = inputGradient else { return }
            gemm(transposeA: false, transposeB: false, m: inputChannels, n: width, k: g.rows,
                 a: weight, lda: g.rows, b: dcols, ldb: width, beta: 0, c: dx + offset, ldc: columnCount)
        }
    }
}

// MARK: - Spec

/// `{"type": "conv_transpose2d", "out": 16, "kernel": 3, "stride": 2, "padding": 1,
/// "output_padding": 1}` (stride 1, padding 0 and output_padding 0 by default).
package struct ConvTranspose2dDefinition: LayerDefinition, Equatable {
    package static let type = "conv_transpose2d"
    package static let keys = ["out", "kernel", "stride", "padding", "output_padding"]
    package var outputChannels: Int, kernelSize: Int, stride: Int, padding: Int, outputPadding: Int

    package init(outputChannels: Int, kernelSize: Int, stride: Int, padding: Int, outputPadding: Int) {
        self.outputChannels = outputChannels; self.kernelSize = kernelSize
        self.stride = stride; self.padding = padding; self.outputPadding = outputPadding
    }

    package init(_ fields: LayerFields) throws {
        outputChannels = try fields.requiredInt("out", "a positive integer")
        kernelSize = try fields.requiredInt("kernel", "a positive integer")
        stride = try fields.int("stride", default: 1, "a positive integer")
        padding = try fields.int("padding", default: 0, "a non-negative integer")
        outputPadding = try fields.int("output_padding", default: 0, "a non-negative integer")
    }

    package func validate(path: String) throws {
        try checkWidth(outputChannels, "\(path).out")
        try checkRange(kernelSize, "\(path).kernel", min: 1, what: "a positive integer")
        try checkRange(stride, "\(path).stride", min: 1, what: "a positive integer")
        try checkRange(padding, "\(path).padding", min: 0, what: "a non-negative integer")
        try checkRange(outputPadding, "\(path).output_padding", min: 0, what: "a non-negative integer")
        if outputPadding >= stride {
            throw config("\(path).output_padding: must be smaller than the stride \(stride), got \(outputPadding)")
        }
    }

    package var jsonFields: [JSONMember] {
        [JSONMember("out", .int(Int64(outputChannels))), JSONMember("kernel", .int(Int64(kernelSize))),
         JSONMember("stride", .int(Int64(stride))), JSONMember("padding", .int(Int64(padding))),
         JSONMember("output_padding", .int(Int64(outputPadding)))]
    }

    package func build(into builder: inout NetworkBuilder, at path: String) throws {
        try builder.convTranspose2d(outputChannels, kernel: kernelSize, stride: stride, padding: padding,
                                    outputPadding: (outputPadding, outputPadding), at: path)
    }
}

extension LayerSpec {
    public static func convTranspose2d(outputChannels: Int, kernelSize: Int, stride: Int, padding: Int,
                                       outputPadding: Int) -> LayerSpec {
        LayerSpec(ConvTranspose2dDefinition(outputChannels: outputChannels, kernelSize: kernelSize,
                                            stride: stride, padding: padding, outputPadding: outputPadding))
    }
}

extension NetworkBuilder {
    /// outputPadding: (along H, along W).
    package mutating func convTranspose2d(_ channels: Int, kernel: Int, stride: Int, padding: Int,
                                  outputPadding: (Int, Int), at what: String) throws {
        try checkWidth(channels, what)
        guard shape.count == 3 else {
            throw AECVError.config("\(what): conv_transpose2d needs a [C, H, W] input, got \(shape) (add an unflatten layer)")
        }
        try checkGeometry(kernel: kernel, stride: stride, padding: padding, at: what)
        if outputPadding.0 < 0 || outputPadding.1 < 0 || outputPadding.0 >= stride || outputPadding.1 >= stride {
            throw AECVError.config("\(what): output_padding must be in 0..<stride (\(stride)), got \(outputPadding.0)")
        }
        guard let oh = ConvTranspose2d.outputSize(input: shape[1], kernel: kernel, stride: stride,
                                                  padding: padding, outputPadding: outputPadding.0),
              let ow = ConvTranspose2d.outputSize(input: shape[2], kernel: kernel, stride: stride,
                                                  padding: padding, outputPadding: outputPadding.1)
        else {
            throw AECVError.config("\(what): padding \(padding) leaves no output for a \(shape[1])×\(shape[2]) input")
        }
        _ = try product([channels, oh, ow], limit: SpecLimits.maxInputSize, what: what)
        let weights = try product([shape[0], channels, kernel, kernel], limit: SpecLimits.maxParameters, what: what)
        try add(ConvTranspose2d(inputShape: shape, outputChannels: channels, kernelSize: kernel,
                                stride: stride, padding: padding, outputPadding: outputPadding),
                parameters: weights + channels)
    }
}

// MARK: - ONNX

/// ConvTranspose(x, W, b) with output_padding; W as PyTorch stores it (Cin, Cout, k, k).
extension ConvTranspose2d {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        let g = geometry, k = g.kernel
        // out = (in − 1)·s − 2p + k + output_padding, per axis.
        let ph = outputShape[1] - ((inputShape[1] - 1) * g.stride - 2 * g.padding + k)
        let pw = outputShape[2] - ((inputShape[2] - 1) * g.stride - 2 * g.padding + k)
        let w = graph.initializer("\(name).weight", dims: [inputChannels, outputChannels, k, k], from: weight)
        let b = graph.initializer("\(name).bias", dims: [outputChannels], from: bias)
        let attributes = ONNXConvAttributes.write(kernel: k, stride: g.stride, padding: g.padding)
            + [ONNXAttribute("output_padding", .ints([Int64(ph), Int64(pw)]))]
        return graph.node("ConvTranspose", [input, w, b], attributes: attributes, name: name, shape: outputShape)
    }
}

extension ConvTranspose2dDefinition {
    package static var onnxOperators: [String] { ["ConvTranspose"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        let (w, bias) = try ONNXConvAttributes.weights(node, context) { $0.dims[1] }
        let (k, s, p) = try ONNXConvAttributes.read(node, weightDims: w.dims, context)
        guard context.shape.count == 3, w.dims[0] == context.shape[0] else {
            throw AECVError.format("ONNX \(node.described): weight dims \(w.dims) do not fit the input shape \(context.shape)")
        }
        if try node.ints("output_shape") != nil { throw context.unsupported(node, "output_shape (give output_padding)") }
        let op = try node.ints("output_padding") ?? [0, 0]
        guard op.count == 2, op[0] == op[1], op[0] >= 0 else {
            throw context.unsupported(node, "output_padding \(op): only equal output padding is supported")
        }
        return ONNXImportedLayer(
            spec: .convTranspose2d(outputChannels: w.dims[1], kernelSize: k, stride: s, padding: p, outputPadding: Int(op[0])),
            tensors: [("weight", w.dims, w.floats), ("bias", [w.dims[1]], bias ?? [Float](repeating: 0, count: w.dims[1]))])
    }
}
