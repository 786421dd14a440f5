import AECVKernels

/// 2-D convolution, PyTorch's `nn.Conv2d` (no dilation, no groups), on batch-minor buffers:
///
///     y[o, oh, ow, n] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x[c, oh·s − p + i, ow·s − p + j, n]
///
/// x: (Cin, H, W, N), W: (Cout, Cin, k, k), y: (Cout, OH, OW, N), OH = ⌊(H + 2p − k)/s⌋ + 1.
/// For batches of 8 or more lanes on AVX-512 CPUs, direct gathers (`DirectConvolution`):
/// forward is its toColumns, dW its weightGradient, dx its toImage (for 8 or more input
/// channels), with no column matrix. One image on such a CPU (8 or more output channels) runs
/// forward through the one-image gather (`SingleImageConvolution`).
/// Otherwise im2col and GEMMs, a band of output rows at a time (`ConvGeometry.bandRows`):
/// y (Cout, OH·OW·N) = W · cols; backward: dW += dy colsᵀ, db += Σ dy, dcols = Wᵀ dy,
/// dx = col2im(dcols). Backward builds each band's columns again rather than keeping forward's:
/// kept whole they were the largest buffers of a training step on AVX2 CPUs (57 + 75 + 38 MB for
/// the seed's encoder at 3×256², batch 32), and a band rebuilt in L2 costs about what reading
/// the kept one back from memory did.
/// Initialization (PyTorch default): W, b ~ U(−1/√(Cin·k·k), 1/√(Cin·k·k)).
/// `bias: false` (PyTorch's `bias=False`, usual before a BatchNorm) drops b.
package final class Conv2d: Layer {
    package let inputShape: [Int]
    package let outputShape: [Int]
    package let outputChannels: Int
    package let hasBias: Bool
    private let geometry: ConvGeometry
    private var weight: UnsafeMutablePointer<Float>!
    private var bias: UnsafeMutablePointer<Float>!
    private var weightGradient: UnsafeMutablePointer<Float>!
    private var biasGradient: UnsafeMutablePointer<Float>!
    /// One band of im2col columns (Cin·k·k, rows·OW·N), or the one-image gather's scratch.
    private let columns = Workspace()
    /// The weight in the direct gathers' packed order, rebuilt by each pass that uses it.
    private let packed = Workspace()
    /// The weight packed for the one-image gather, kept while the weight is unchanged.
    private let singleImagePacked = PackedWeights()

    /// Output height/width of a convolution, or nil when the kernel does not fit.
    package static func outputSize(input: Int, kernel: Int, stride: Int, padding: Int) -> Int? {
        let span = input + 2 * padding - kernel
        return span < 0 ? nil : span / stride + 1
    }

    /// inputShape: [Cin, H, W]; the caller has validated that the kernel fits.
    package init(inputShape: [Int], outputChannels: Int, kernelSize: Int, stride: Int, padding: Int, bias: Bool = true) {
        self.inputShape = inputShape
        self.outputChannels = outputChannels
        hasBias = bias
        let oh = Conv2d.outputSize(input: inputShape[1], kernel: kernelSize, stride: stride,
                                   padding: padding) ?? 0
        let ow = Conv2d.outputSize(input: inputShape[2], kernel: kernelSize, stride: stride,
                                   padding: padding) ?? 0
        geometry = ConvGeometry(channels: inputShape[0], height: inputShape[1], width: inputShape[2],
                                kernel: kernelSize, stride: stride, padding: padding,
                                columnHeight: oh, columnWidth: ow)
        outputShape = [outputChannels, oh, ow]
    }

    package var parameterCount: Int { outputChannels * geometry.rows + (hasBias ? outputChannels : 0) }

    package var parameterShapes: [(name: String, shape: [Int])] {
        [("weight", [outputChannels, geometry.channels, geometry.kernel, geometry.kernel])]
            + (hasBias ? [("bias", [outputChannels])] : [])
    }

    package func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        let w = outputChannels * geometry.rows
        weight = parameters; bias = parameters + w
        weightGradient = gradients; biasGradient = gradients + w
    }

    package func initialize(random: inout RandomSource) {
        let bound = 1 / Float(Double(geometry.rows).squareRoot())
        random.fillUniform(weight, count: outputChannels * geometry.rows, bound: bound)
        if hasBias { random.fillUniform(bias, count: outputChannels, bound: bound) }
    }

    /// A band of im2col columns: one row of positions per example (`ConvGeometry.bandRows`).
    package var scratchFloatsPerExample: Int { geometry.bandFloatsPerExample }

    package func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        forward(input, output, batch: batch, relu: false)
    }

    package func forwardThenReLU(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        forward(input, output, batch: batch, relu: true)
    }

    /// The direct gather adds the bias and applies the ReLU as it stores each value; the GEMM
    /// path fills the bias first and applies the ReLU after.
    private func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, relu: Bool) {
        let g = geometry
        let columnCount = g.positions * batch
        if batch == 1, let single = SingleImageConvolution(g, columnChannels: outputChannels, toImage: false) {
            let w = singleImagePacked.packed(weight, count: outputChannels * g.rows, packedFloats: single.packFloats) {
                single.pack(weight: weight, into: $0)
            }
            single.run(input: input, packed: w, output: output, bias: hasBias ? UnsafePointer(bias) : nil, relu: relu,
                       scratch: columns.reserve(single.scratchFloats))
            return
        }
        if let direct = DirectConvolution(g, columnChannels: outputChannels, batch: batch), direct.gathersToColumns {
            direct.toColumns(image: input, weight: weight, columns: output,
                             bias: hasBias ? UnsafePointer(bias) : nil, relu: relu,
                             pack: packed.reserve(direct.packFloats))
            return
        }
        if hasBias { fillRows(with: bias, rows: outputChannels, length: columnCount, into: output) }
        let cols = columns.reserve(g.bandBufferFloats(batch: batch))
        g.forEachBand(batch: batch) { band, offset, width in
            im2col(input, cols, batch: batch, g, positionRows: band)
            gemm(transposeA: false, transposeB: false, m: outputChannels, n: width, k: g.rows,
                 a: weight, lda: g.rows, b: cols, ldb: width, beta: hasBias ? 1 : 0,
                 c: output + offset, ldc: columnCount)
        }
        if relu { reluForward(output, output, count: outputChannels * columnCount) }
    }

    /// Backward reads input and gradients only, so a following ReLU may overwrite the output.
    package var backwardReadsOutput: Bool { false }

    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        if hasBias {
            addRowSums(outputGradient, rows: outputChannels, length: geometry.positions * batch, into: biasGradient)
        }
        backwardOfWeights(input: input, outputGradient: outputGradient, inputGradient: inputGradient, batch: batch)
    }

    /// dy · [y > 0] in place, summed into db in the same pass (`reluBackwardAddingRowSums`).
    package func backwardThroughReLU(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                     outputGradient: UnsafeMutablePointer<Float>,
                                     inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        reluBackwardAddingRowSums(output, outputGradient, rows: outputChannels, length: geometry.positions * batch,
                                  into: hasBias ? biasGradient : nil)
        backwardOfWeights(input: input, outputGradient: outputGradient, inputGradient: inputGradient, batch: batch)
    }

    /// dW and dx (everything but db).
    private func backwardOfWeights(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                                   inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        let g = geometry
        let columnCount = g.positions * batch
        let direct = DirectConvolution(g, columnChannels: outputChannels, batch: batch)
        if let direct {
            direct.weightGradient(columns: outputGradient, image: input, into: weightGradient)
            // A first layer has no input gradient: return before reserving columns it would not
            // use (27 × 128² × 64 floats, 113 MB, for an RGB 256² input at batch 64).
            guard let dx = inputGradient else { return }
            if direct.gathersToImage {
                direct.toImage(columns: outputGradient, weight: weight, image: dx,
                               pack: packed.reserve(direct.packFloats))
                return
            }
        }
        inputGradient?.update(repeating: 0, count: batch * g.imageSize)
        let cols = columns.reserve(g.bandBufferFloats(batch: batch))
        g.forEachBand(batch: batch) { band, offset, width in
            if direct == nil {
                im2col(input, cols, batch: batch, g, positionRows: band)
                gemm(transposeA: false, transposeB: true, m: outputChannels, n: g.rows, k: width,
                     a: outputGradient + offset, lda: columnCount, b: cols, ldb: width,
                     beta: 1, c: weightGradient, ldc: g.rows)
            }
            guard let dx = inputGradient else { return }
            // The band's columns have served dW: they now take its dcols.
            gemm(transposeA: true, transposeB: false, m: g.rows, n: width, k: outputChannels,
                 a: weight, lda: g.rows, b: outputGradient + offset, ldb: columnCount, beta: 0, c: cols, ldc: width)
            col2im(cols, dx, batch: batch, g, positionRows: band)
        }
    }
}

// MARK: - Spec

/// `{"type": "conv2d", "out": 16, "kernel": 3, "stride": 2, "padding": 1, "bias": false}`
/// (stride 1, padding 0 and bias true by default). "bias" is written only when false, so the
/// JSON of existing specs (and the model files holding it) stays byte-identical.
package struct Conv2dDefinition: LayerDefinition, Equatable {
    package static let type = "conv2d"
    package static let keys = ["out", "kernel", "stride", "padding", "bias"]
    package var outputChannels: Int, kernelSize: Int, stride: Int, padding: Int
    package var bias = true

    package init(outputChannels: Int, kernelSize: Int, stride: Int, padding: Int, bias: Bool = true) {
        self.outputChannels = outputChannels; self.kernelSize = kernelSize
        self.stride = stride; self.padding = padding; self.bias = bias
    }

    package init(_ fields: LayerFields) throws {
        outputChannels = try fields.requiredInt("out", "a positive integer")
        kernelSize = try fields.requiredInt("kernel", "a positive integer")
        stride = try fields.int("stride", default: 1, "a positive integer")
        padding = try fields.int("padding", default: 0, "a non-negative integer")
        bias = try fields.bool("bias", default: true)
    }

    package func validate(path: String) throws {
        try checkWidth(outputChannels, "\(path).out")
        try checkRange(kernelSize, "\(path).kernel", min: 1, what: "a positive integer")
        try checkRange(stride, "\(path).stride", min: 1, what: "a positive integer")
        try checkRange(padding, "\(path).padding", min: 0, what: "a non-negative integer")
    }

    package var jsonFields: [JSONMember] {
        [JSONMember("out", .int(Int64(outputChannels))), JSONMember("kernel", .int(Int64(kernelSize))),
         JSONMember("stride", .int(Int64(stride))), JSONMember("padding", .int(Int64(padding)))]
            + (bias ? [] : [JSONMember("bias", .bool(false))])
    }

    package func build(into builder: inout NetworkBuilder, at path: String) throws {
        try builder.conv2d(outputChannels, kernel: kernelSize, stride: stride, padding: padding, bias: bias, at: path)
    }
}

extension LayerSpec {
    public static func conv2d(outputChannels: Int, kernelSize: Int, stride: Int, padding: Int,
                              bias: Bool = true) -> LayerSpec {
        LayerSpec(Conv2dDefinition(outputChannels: outputChannels, kernelSize: kernelSize, stride: stride,
                                   padding: padding, bias: bias))
    }
}

extension NetworkBuilder {
    package mutating func conv2d(_ channels: Int, kernel: Int, stride: Int, padding: Int, bias: Bool = true,
                         at what: String) throws {
        try checkWidth(channels, what)
        guard shape.count == 3 else {
            throw AECVError.config("\(what): conv2d needs a [C, H, W] input, got \(shape) (add an unflatten layer)")
        }
        try checkGeometry(kernel: kernel, stride: stride, padding: padding, at: what)
        guard let oh = Conv2d.outputSize(input: shape[1], kernel: kernel, stride: stride, padding: padding),
              let ow = Conv2d.outputSize(input: shape[2], kernel: kernel, stride: stride, padding: padding)
        else {
            throw AECVError.config("\(what): kernel \(kernel) with padding \(padding) does not fit a \(shape[1])×\(shape[2]) input")
        }
        _ = try product([channels, oh, ow], limit: SpecLimits.maxInputSize, what: what)
        let weights = try product([channels, shape[0], kernel, kernel], limit: SpecLimits.maxParameters, what: what)
        try add(Conv2d(inputShape: shape, outputChannels: channels, kernelSize: kernel, stride: stride,
                       padding: padding, bias: bias), parameters: weights + (bias ? channels : 0))
    }
}

// MARK: - ONNX

/// Conv(x, W, b) with kernel_shape, strides and pads; W as PyTorch stores it (Cout, Cin, k, k).
extension Conv2d {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        let g = geometry, k = g.kernel
        let w = graph.initializer("\(name).weight", dims: [outputChannels, g.channels, k, k], from: weight)
        // Without a bias (a conv before a BatchNorm) Conv takes two inputs: `bias` then points
        // at the next layer's parameters, which must not be exported as this one's.
        let inputs = hasBias ? [input, w, graph.initializer("\(name).bias", dims: [outputChannels], from: bias)] : [input, w]
        return graph.node("Conv", inputs, attributes: ONNXConvAttributes.write(kernel: k, stride: g.stride, padding: g.padding),
                          name: name, shape: outputShape)
    }
}

/// The square-kernel, symmetric-padding, dense (group 1, dilation 1) convolutions libaecv has,
/// as ONNX attributes, and their checks on import.
package enum ONNXConvAttributes {
    package static func write(kernel: Int, stride: Int, padding: Int) -> [ONNXAttribute] {
        let (k, s, p) = (Int64(kernel), Int64(stride), Int64(padding))
        return [ONNXAttribute("kernel_shape", .ints([k, k])), ONNXAttribute("strides", .ints([s, s])),
                ONNXAttribute("pads", .ints([p, p, p, p])), ONNXAttribute("dilations", .ints([1, 1])),
                ONNXAttribute("group", .int(1))]
    }

    /// (kernel, stride, padding) of a Conv/ConvTranspose node, or `.unsupported` naming what differs.
    package static func read(_ node: ONNXNode, weightDims: [Int], _ context: ONNXImportContext) throws
        -> (kernel: Int, stride: Int, padding: Int) {
        guard weightDims.count == 4, weightDims[2] == weightDims[3] else {
            throw context.unsupported(node, "only square 2-D kernels are supported, weight dims \(weightDims)")
        }
        let kernel = weightDims[2]
        if let ks = try node.ints("kernel_shape"), ks != [Int64(kernel), Int64(kernel)] {
            throw context.unsupported(node, "kernel_shape \(ks) does not match the weight \(weightDims)")
        }
        let window = try node.squareWindow(context)
        if try node.int("group", default: 1) != 1 { throw context.unsupported(node, "grouped convolution") }
        return (kernel, window.stride, window.padding)
    }

    /// The weight (input 1) and bias (input 2, zeros when absent) of a conv node.
    package static func weights(_ node: ONNXNode, _ context: ONNXImportContext, biasCount: (ONNXTensor) -> Int) throws
        -> (weight: ONNXTensor, bias: [Float]?) {
        let w = try context.constant(node, input: 1, "the weight (input W)")
        guard w.dataType == ONNXTensor.float32, w.dims.count == 4 else {
            throw context.unsupported(node, "the weight must be a 4-D float tensor, got dims \(w.dims)")
        }
        let count = biasCount(w)
        guard node.inputs.count > 2, !node.inputs[2].isEmpty else { return (w, nil) }
        let b = try context.constant(node, input: 2, "the bias (input B)")
        guard b.dataType == ONNXTensor.float32, b.floats.count == count else {
            throw context.unsupported(node, "the bias must hold \(count) floats, got dims \(b.dims)")
        }
        return (w, b.floats)
    }
}

extension Conv2dDefinition {
    package static var onnxOperators: [String] { ["Conv"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        let (w, bias) = try ONNXConvAttributes.weights(node, context) { $0.dims[0] }
        let (k, s, p) = try ONNXConvAttributes.read(node, weightDims: w.dims, context)
        guard context.shape.count == 3, w.dims[1] == context.shape[0] else {
            throw AECVError.format("ONNX \(node.described): weight dims \(w.dims) do not fit the input shape \(context.shape)")
        }
        // A Conv without input B (PyTorch's bias=False, before a BatchNorm) stays bias-free: the
        // same architecture and parameter count, not a zero bias that training would move.
        return ONNXImportedLayer(spec: .conv2d(outputChannels: w.dims[0], kernelSize: k, stride: s, padding: p,
                                               bias: bias != nil),
                                 tensors: [("weight", w.dims, w.floats)] + (bias.map { [("bias", [w.dims[0]], $0)] } ?? []))
    }
}
