#if canImport(Glibc)
import Glibc
#endif
import AECVKernels
import AECVNN

/// A variational autoencoder (Kingma & Welling), kinds `vae` (dense) and `conv_vae`:
///
///     h = trunk(x);  [μ | log σ²] = heads(h);  z = μ + σ·ε, ε ~ N(0, I);  logits = decoder(z)
///     L = (1/N) Σ_n [ Σ_pixels BCEWithLogits(logits, x)  +  β · KL(q(z|x) ‖ N(0, I)) ]
///     KL = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j)
///
/// L is the negative ELBO per example, in nats (β = 1). With `"loss": "mse"` the decoder is
/// Gaussian: the reconstruction term is Σ_pixels (sigmoid(logits) − x)².
///
/// The two heads are one Dense layer with 2·latent outputs, so one GEMM serves both; its weight
/// rows are [W_μ; W_logσ²], laid out so the flat buffer holds fc_mu.weight, fc_logvar.weight,
/// fc_mu.bias, fc_logvar.bias — PyTorch's separate tensors, each contiguous.
/// encode returns μ; reconstruct decodes μ through the sigmoid; sample decodes z ~ N(0, I).
///
/// Conditional (kind `cvae`, or `conv_vae` with `"classes": K`; K > 0): with c = one-hot(y) ∈ {0,1}^K,
///
///     h = trunk([x; c]);  logits = decoder([z; c])
///
/// Dense, fc1.weight is (hidden, input + K) and fc3.weight is (hidden, latent + K): PyTorch's
/// `torch.cat([x, c], 1)` / `torch.cat([z, c], 1)`. Conv, c is broadcast over the image as K
/// extra input channels (`torch.cat([x, c[:, :, None, None].expand(-1, -1, H, W)], 1)`), so
/// encoder.0.weight is (C₁, C + K, 3, 3), and decoder_input.weight is (C·H·W of the code,
/// latent + K). Batch-minor, the K one-hot rows (dense) or K constant planes (conv) simply follow
/// the pixel rows, and the K code-side rows follow the code rows. Calls without labels (encode, reconstruct, decode, evaluate) use
/// c = 0 ("class unknown", a condition never seen in training, for inspection only); unlabeled
/// sample cycles the classes 0, 1, …, K−1; labeled training is in `lossAndGradients(…labels:…)`.
package final class VariationalAutoencoder: AutoencoderNetwork, ChainPair {
    package let trunk: Sequential
    package let heads: Dense
    package let decoder: Sequential
    package let inputShape: [Int]
    package let latentSize: Int
    package let beta: Float
    package let gaussianDecoder: Bool
    /// K for the conditional kinds; 0 otherwise.
    package let classes: Int
    /// Rows per class of the trunk's condition input: 1 (dense, a one-hot entry) or H·W (conv,
    /// a constant plane).
    private let conditionPlane: Int
    /// Rows of the trunk's input after the pixels: K · conditionPlane.
    private var conditionSize: Int { classes * conditionPlane }
    package var encoderLayers: Sequential { trunk }
    package var posteriorHeads: Dense? { heads }
    /// Names of the trunk/decoder parameters (PyTorch's module names).
    private let names: [String]
    /// Names of the trunk/decoder buffers (BatchNorm's running statistics), numbered like the
    /// parameters: the conv decoder's stages from 0 after decoder_input, as in PyTorch's ConvVAE.
    private let bufferNames: [String]
    private let seed: UInt64

    // Batch-minor buffers (features, N); the heads' output stacks μ rows over log σ² rows.
    private let inputsT = Workspace()         // (input, N)
    private let targetsT = Workspace()        // (input, N)
    private let codesT = Workspace()          // (latent, N)
    private let conditionT = Workspace()      // (K, N) one-hot rows for the decoder (conv)
    private let headOutput = Workspace()      // (2·latent, N): [μ; log σ²]
    private let epsilon = Workspace()         // (latent, N)
    private let z = Workspace()               // (latent, N)
    private let images = Workspace()          // (input, N) sigmoid outputs
    private let dLogits = Workspace()         // (input, N)
    private let dZ = Workspace()              // (latent, N)
    private let dHeads = Workspace()          // (2·latent, N)
    private let dTrunk = Workspace()          // (hidden, N)

    private init(trunk: Sequential, heads: Dense, decoder: Sequential, inputShape: [Int], latent: Int,
                 beta: Float, gaussianDecoder: Bool, classes: Int, conditionPlane: Int, names: [String],
                 bufferNames: [String], seed: UInt64) {
        self.classes = classes
        self.conditionPlane = conditionPlane
        self.trunk = trunk; self.heads = heads; self.decoder = decoder
        self.inputShape = inputShape; self.latentSize = latent; self.beta = beta
        self.gaussianDecoder = gaussianDecoder; self.names = names; self.bufferNames = bufferNames
        self.seed = seed
        // The decoder's backward ends before the trunk's begins, and the gradients between them
        // (dZ, dHeads, dTrunk) are this network's own workspaces.
        shareChainGradientBuffers()
    }

    /// `spec` has been filled by its kind (VariationalKind.fill), so latent and hidden are set.
    package static func make(_ spec: ModelSpec, convolutional: Bool) throws -> VariationalAutoencoder {
        let latent = spec.latent ?? VariationalKind.defaultLatent
        let classes = spec.classes ?? 0
        var trunk: NetworkBuilder
        var decoder: NetworkBuilder
        var names: [String]
        var bufferNames: [String]
        if convolutional {
            // The condition enters as K more input channels; the decoder still mirrors back to C.
            var conditioned = spec
            if classes > 0 { conditioned.input = [spec.input[0] + classes] + spec.input.dropFirst() }
            var (encoder, shapes) = try NetworkFactory.encoderStages(conditioned)
            shapes[0] = spec.input
            trunk = encoder
            try trunk.flatten()
            decoder = NetworkBuilder(inputShape: [latent + classes], field: "spec.latent")
            try decoder.dense(shapes.last!.reduce(1, *), at: "spec.latent")
            try decoder.activation(.relu)
            try decoder.unflatten(shapes.last!, at: "spec.hidden")
            let mirror = try NetworkFactory.mirroredDecoder(shapes: shapes, inputShape: spec.input, final: nil, spec: spec)
            for layer in mirror.layers { decoder.append(layer) }
            names = trunkNames(trunk.layers, prefix: "encoder")
                + ["decoder_input.weight", "decoder_input.bias"]
                + trunkNames(mirror.layers, prefix: "decoder")
            bufferNames = trunkNames(trunk.layers, prefix: "encoder", \.bufferShapes)
                + trunkNames(mirror.layers, prefix: "decoder", \.bufferShapes)
        } else {
            guard let hidden = spec.hidden else { throw config("spec.hidden: not filled in (build a filled spec)") }
            trunk = NetworkBuilder(inputShape: classes > 0 ? [spec.input.reduce(1, *) + classes] : spec.input,
                                   field: "spec.hidden")
            for (i, h) in hidden.enumerated() {
                try trunk.dense(h, at: "spec.hidden[\(i)]")
                try trunk.activation(.relu)
            }
            decoder = NetworkBuilder(inputShape: [latent + classes], field: "spec.hidden")
            for (i, h) in hidden.enumerated().reversed() {
                try decoder.dense(h, at: "spec.hidden[\(i)]")
                try decoder.activation(.relu)
            }
            try decoder.dense(spec.input.reduce(1, *), at: "spec.input")
            if hidden.count == 1 {
                names = ["fc1.weight", "fc1.bias", "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"]
            } else {
                names = trunkNames(trunk.layers, prefix: "encoder") + trunkNames(decoder.layers, prefix: "decoder")
            }
            bufferNames = []   // dense layers only
        }
        var headsBuilder = NetworkBuilder(inputShape: [trunk.size], field: "spec.latent")
        try headsBuilder.dense(2 * latent, at: "spec.latent")
        try NetworkFactory.checkTotal(trunk.parameterCount, headsBuilder.parameterCount, decoder.parameterCount)
        let gaussian = spec.loss == .mse
        return VariationalAutoencoder(
            trunk: trunk.build(), heads: headsBuilder.layers[0] as! Dense, decoder: decoder.build(),
            inputShape: spec.input, latent: latent, beta: spec.beta ?? 1, gaussianDecoder: gaussian,
            classes: classes, conditionPlane: convolutional ? spec.input.dropFirst().reduce(1, *) : 1,
            names: names, bufferNames: bufferNames, seed: spec.seed ?? 0)
    }

    /// "prefix.<index>.weight|bias" for the layers that have parameters.
    private static func trunkNames(_ layers: [Layer], prefix: String,
                                   _ tensors: KeyPath<Layer, [(name: String, shape: [Int])]> = \.parameterShapes) -> [String] {
        var result: [String] = []
        for (i, layer) in layers.enumerated() {
            for p in layer[keyPath: tensors] { result.append("\(prefix).\(i).\(p.name)") }
        }
        return result
    }

    package var bufferShapes: [(name: String, shape: [Int])] {
        zip(bufferNames, trunk.bufferShapes + decoder.bufferShapes).map { ($0, $1.shape) }
    }

    package var parameterShapes: [(name: String, shape: [Int])] {
        let t = trunk.parameterShapes, d = decoder.parameterShapes
        let hidden = heads.inputFeatures
        var result: [(name: String, shape: [Int])] = []
        for (i, p) in t.enumerated() { result.append((names[i], p.shape)) }
        result.append(("fc_mu.weight", [latentSize, hidden]))
        result.append(("fc_logvar.weight", [latentSize, hidden]))
        result.append(("fc_mu.bias", [latentSize]))
        result.append(("fc_logvar.bias", [latentSize]))
        for (i, p) in d.enumerated() { result.append((names[t.count + i], p.shape)) }
        return result
    }

    package func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        trunk.bind(parameters: parameters, gradients: gradients)
        var offset = trunk.parameterCount
        heads.bind(parameters: parameters + offset, gradients: gradients + offset)
        offset += heads.parameterCount
        decoder.bind(parameters: parameters + offset, gradients: gradients + offset)
    }

    // Buffers and modes: the trunk's ("encoder.*"), then the decoder's (ChainPair); the
    // parameters above also hold the heads between the two chains.
    package var firstChain: Sequential { trunk }
    package var secondChain: Sequential { decoder }
    package var chainPrefixes: (first: String, second: String) { ("encoder", "decoder") }

    package func initialize(random: inout RandomSource) {
        trunk.initialize(random: &random)
        heads.initialize(random: &random)
        decoder.initialize(random: &random)
    }

    /// Forward through trunk and heads of a batch-minor x; returns [μ; log σ²] (2·latent, N).
    private func encodeDistribution(_ x: UnsafePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float> {
        let h = trunk.forward(x, batch: batch)
        let out = headOutput.reserve(batch * 2 * latentSize)
        heads.forward(input: h, output: out, batch: batch)
        return out
    }

    /// Reconstruction + β·KL summed over the batch, then / normalization (the whole batch's size
    /// when this is one part of it); fills the reparameterized z.
    /// `condition`: the K one-hot rows (K, N) appended to z for the decoder (conditional only).
    private func objective(x: UnsafePointer<Float>, distribution: UnsafePointer<Float>,
                           eps: UnsafePointer<Float>, condition: UnsafePointer<Float>?, batch: Int, normalization: Int)
        -> (loss: Float, z: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>) {
        let count = latentSize * batch
        let zs = z.reserve(count + classes * batch)
        let kl = GaussianKL.forward(mean: distribution, logVariance: distribution + count, noise: eps,
                                    code: zs, count: count)
        if classes > 0 { writeCondition(zs + count, from: condition, batch: batch) }
        let logits = decoder.forward(zs, batch: batch)
        let pixels = batch * inputSize
        let reconstruction: Float
        if gaussianDecoder {
            reconstruction = SigmoidSquaredError.forward(logits: logits, target: x, output: images.reserve(pixels),
                                                         count: pixels, scale: 1)
        } else {
            reconstruction = ReconstructionLoss.binaryCrossEntropyWithLogits.forward(
                output: logits, target: x, count: pixels, scale: 1)
        }
        let loss = (Double(reconstruction) + Double(beta) * kl) / Double(normalization)
        return (Float(loss), zs, logits)
    }

    /// Every term of the objective is a sum over examples; BatchNorm's statistics are combined
    /// across the parts (`BatchPartition`).
    package var canSplitBatch: Bool { true }

    /// Copies the K condition rows (K, N) after the pixel or code rows; nil: zeros (no class).
    private func writeCondition(_ rows: UnsafeMutablePointer<Float>, from condition: UnsafePointer<Float>?, batch: Int) {
        if let condition { rows.update(from: condition, count: classes * batch) }
        else { rows.update(repeating: 0, count: classes * batch) }
    }

    /// The trunk's condition rows (K · conditionPlane, N) of caller labels (checked in 0..<K by
    /// the caller): class k's plane is 1 in the columns of its examples; labels nil: all 0.
    private func writeConditionInput(_ rows: UnsafeMutablePointer<Float>, labels: UnsafePointer<Int32>?, batch: Int) {
        rows.update(repeating: 0, count: conditionSize * batch)
        guard let labels else { return }
        for n in 0..<batch {
            let plane = rows + Int(labels[n]) * conditionPlane * batch
            for p in 0..<conditionPlane { plane[p * batch + n] = 1 }
        }
    }

    /// The caller's (N, input) batch as batch-minor [x; c] ((input + K·plane), N) in `inputsT`;
    /// labels nil: c = 0.
    private func conditionedInputs(_ inputs: UnsafePointer<Float>, labels: UnsafePointer<Int32>?, batch: Int)
        -> UnsafeMutablePointer<Float> {
        let x = inputsT.reserve(batch * (inputSize + conditionSize))
        transpose(inputs, rows: batch, columns: inputSize, into: x)
        if classes > 0 { writeConditionInput(x + batch * inputSize, labels: labels, batch: batch) }
        return x
    }

    /// The decoder's condition (K, N) from the trunk's input x: the one-hot rows themselves
    /// (dense) or the first row of each class plane (conv); nil when not conditional.
    private func decoderCondition(_ x: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float>? {
        guard classes > 0 else { return nil }
        let planes = x + batch * inputSize
        if conditionPlane == 1 { return planes }
        let c = conditionT.reserve(classes * batch)
        for k in 0..<classes { (c + k * batch).update(from: planes + k * conditionPlane * batch, count: batch) }
        return UnsafePointer(c)
    }

    /// Batch-minor codes (latent, N) followed by the condition rows, as the decoder's input.
    private func conditionedCodes(_ codes: UnsafePointer<Float>, condition: UnsafePointer<Float>?, batch: Int)
        -> UnsafePointer<Float> {
        guard classes > 0 else { return codes }
        let c = codesT.reserve(batch * (latentSize + classes))
        if UnsafePointer(c) != codes { c.update(from: codes, count: batch * latentSize) }
        writeCondition(c + batch * latentSize, from: condition, batch: batch)
        return UnsafePointer(c)
    }

    package func lossAndGradients(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int,
                          normalization: Int, noise: StepNoise) -> Float {
        lossAndGradients(inputs: inputs, labels: nil, targets: targets, batch: batch, normalization: normalization, noise: noise)
    }

    /// `lossAndGradients` with class labels (conditional kind; nil: c = 0).
    package func lossAndGradients(inputs: UnsafePointer<Float>, labels: UnsafePointer<Int32>?, targets: UnsafePointer<Float>,
                          batch: Int, normalization: Int, noise: StepNoise) -> Float {
        setChainNoise(noise)
        // ε: (latent, N), column n from example n's own generator.
        let eps = epsilon.reserve(batch * latentSize)
        for n in 0..<batch {
            var generator = noise.generator(forExample: n)
            for j in 0..<latentSize { eps[j * batch + n] = generator.normal() }
        }
        let x = conditionedInputs(inputs, labels: labels, batch: batch)
        let t = targets == inputs ? x : targetsT.reserve(batch * inputSize)
        if targets != inputs { transpose(targets, rows: batch, columns: inputSize, into: t) }
        return lossAndGradients(batchMinorInputs: x, targets: t, batch: batch, normalization: normalization, epsilon: eps)
    }

    /// The training computation on batch-minor x: (input + K·plane, N) (conditional: the one-hot
    /// rows, or for conv the K constant planes, after the pixels), t: (input, N), with a given ε: (latent, N); tests pass PyTorch's ε.
    package func lossAndGradients(batchMinorInputs x: UnsafePointer<Float>, targets t: UnsafePointer<Float>,
                          batch: Int, normalization: Int? = nil, epsilon eps: UnsafePointer<Float>) -> Float {
        let count = latentSize * batch, pixels = batch * inputSize
        let normalization = normalization ?? batch
        let scale = 1 / Float(normalization)
        let distribution = encodeDistribution(x, batch: batch)
        let condition = decoderCondition(x, batch: batch)
        let (loss, zs, logits) = objective(x: t, distribution: distribution, eps: eps, condition: condition,
                                           batch: batch, normalization: normalization)
        let dl = dLogits.reserve(pixels)
        if gaussianDecoder {
            SigmoidSquaredError.backward(output: images.pointer, target: t, gradient: dl, count: pixels, scale: scale)
        } else {
            ReconstructionLoss.binaryCrossEntropyWithLogits.backward(
                output: logits, target: t, gradient: dl, count: pixels, scale: scale)
        }
        let dz = dZ.reserve(count + classes * batch)
        decoder.backward(input: zs, outputGradient: dl, inputGradient: dz, batch: batch)
        let dh = dHeads.reserve(2 * count)
        GaussianKL.backward(mean: distribution, logVariance: distribution + count, noise: eps, codeGradient: dz,
                            weight: beta * scale, meanGradient: dh, logVarianceGradient: dh + count, count: count)
        let dTrunkOut = dTrunk.reserve(batch * heads.inputFeatures)
        heads.backward(input: trunk.output, output: distribution, outputGradient: dh,
                       inputGradient: dTrunkOut, batch: batch)
        trunk.backward(input: x, outputGradient: dTrunkOut, inputGradient: nil, batch: batch)
        return loss
    }

    /// Negative ELBO per example with ε drawn from a generator seeded by the spec's seed, so the
    /// same batch always gets the same value and the model's own random state is untouched.
    package func loss(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int) -> Float {
        loss(inputs: inputs, labels: nil, targets: targets, batch: batch)
    }

    /// `loss` with class labels (conditional kind; nil: c = 0).
    package func loss(inputs: UnsafePointer<Float>, labels: UnsafePointer<Int32>?, targets: UnsafePointer<Float>, batch: Int) -> Float {
        var random = RandomSource(seed: seed ^ 0x5EED_E1B0)
        let eps = epsilon.reserve(batch * latentSize)
        random.fillNormal(eps, count: batch * latentSize)
        let x = conditionedInputs(inputs, labels: labels, batch: batch)
        let t = targets == inputs ? x : targetsT.reserve(batch * inputSize)
        if targets != inputs { transpose(targets, rows: batch, columns: inputSize, into: t) }
        let distribution = encodeDistribution(x, batch: batch)
        return objective(x: t, distribution: distribution, eps: eps, condition: decoderCondition(x, batch: batch),
                         batch: batch, normalization: batch).loss
    }

    /// μ of a caller-layout batch, batch-minor (latent, N), in the heads' output buffer.
    private func means(_ inputs: UnsafePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float> {
        encodeDistribution(conditionedInputs(inputs, labels: nil, batch: batch), batch: batch)
    }

    /// Decodes batch-minor codes (latent, N) to caller-layout images (N, input) in [0, 1].
    /// Conditional: `codes` holds (latent + K, N), the condition rows included.
    private func decodeBatchMinor(_ codes: UnsafePointer<Float>, batch: Int, images out: UnsafeMutablePointer<Float>) {
        let logits = decoder.forward(codes, batch: batch)
        let y = images.reserve(batch * inputSize)
        sigmoidForward(logits, y, count: batch * inputSize)
        transpose(y, rows: inputSize, columns: batch, into: out)
    }

    package func encode(inputs: UnsafePointer<Float>, batch: Int, codes: UnsafeMutablePointer<Float>) {
        transpose(means(inputs, batch: batch), rows: latentSize, columns: batch, into: codes)
    }

    package func decode(codes: UnsafePointer<Float>, batch: Int, images out: UnsafeMutablePointer<Float>) {
        let z = codesT.reserve(batch * (latentSize + classes))
        transpose(codes, rows: batch, columns: latentSize, into: z)
        decodeBatchMinor(conditionedCodes(z, condition: nil, batch: batch), batch: batch, images: out)
    }

    package func reconstruct(inputs: UnsafePointer<Float>, batch: Int, images out: UnsafeMutablePointer<Float>) {
        decodeBatchMinor(conditionedCodes(means(inputs, batch: batch), condition: nil, batch: batch), batch: batch, images: out)
    }

    package func sample(count: Int, random: inout RandomSource, images out: UnsafeMutablePointer<Float>) -> Bool {
        sample(count: count, classIndex: nil, random: &random, images: out)
    }

    /// Decodes z ~ N(0, I) with the condition of `classIndex` (conditional kind; nil: draw i
    /// gets class i mod K, so an unlabeled sample covers the classes evenly).
    package func sample(count: Int, classIndex: Int?, random: inout RandomSource, images out: UnsafeMutablePointer<Float>) -> Bool {
        let codes = z.reserve(count * (latentSize + classes))
        random.fillNormal(codes, count: count * latentSize)
        if classes > 0 {
            let rows = codes + count * latentSize
            rows.update(repeating: 0, count: classes * count)
            for n in 0..<count { rows[(classIndex ?? n % classes) * count + n] = 1 }
        }
        decodeBatchMinor(codes, batch: count, images: out)
        return true
    }
}

// MARK: - ONNX

/// Encoder: trunk → heads (one Gemm of 2·latent outputs) → Slice into μ (the first latent
/// columns) and log σ². Decoder: decoder chain → Sigmoid (decode returns probabilities).
/// Conditional: the graph has a second input "condition" (N, K), the one-hot of the class (any
/// vector is accepted; zeros are the library's "class unknown"), concatenated after the
/// flattened pixels (dense) or, reshaped to (N, K, 1, 1) and expanded over H×W, after the image
/// channels (conv); and after the code for the decoder.
extension VariationalAutoencoder {
    package var codeShape: [Int] { [latentSize] }

    /// The graph input holding the class of a conditional model.
    package static let onnxConditionInput = "condition"

    package func exportONNXEncoder(_ graph: inout ONNXGraphBuilder, input: String) throws -> [(name: String, value: String)] {
        var x = input
        if classes > 0 {
            let c = Self.onnxConditionInput
            if conditionPlane == 1 {
                let flat = graph.flattened(input, name: "condition_concat")
                x = graph.node("Concat", [flat, c], attributes: [ONNXAttribute("axis", .int(1))], name: "condition_concat",
                               shape: [inputSize + classes])
            } else {
                let spatial = Array(inputShape.dropFirst())
                let column = graph.reshaped(c, to: [classes, 1, 1], name: "condition_planes")
                let size = graph.initializer("condition_planes.expand", ints: [1, Int64(classes)] + spatial.map { Int64($0) })
                let planes = graph.node("Expand", [column, size], name: "condition_planes", shape: [classes] + spatial)
                x = graph.node("Concat", [input, planes], attributes: [ONNXAttribute("axis", .int(1))], name: "condition_concat",
                               shape: [inputShape[0] + classes] + spatial)
            }
        }
        let h = try trunk.exportONNX(&graph, input: x, prefix: "encoder")
        let both = try heads.exportONNX(&graph, input: h, name: "fc_mu_logvar")
        let axes = graph.initializer("fc_mu_logvar.axes", ints: [1])
        func slice(_ from: Int, _ name: String) -> String {
            let starts = graph.initializer("\(name).starts", ints: [Int64(from)])
            let ends = graph.initializer("\(name).ends", ints: [Int64(from + latentSize)])
            return graph.node("Slice", [both, starts, ends, axes], name: name, shape: [latentSize])
        }
        return [("mu", slice(0, "fc_mu")), ("logvar", slice(latentSize, "fc_logvar"))]
    }

    package func exportONNXDecoder(_ graph: inout ONNXGraphBuilder, code: String) throws -> String {
        var z = code
        if classes > 0 {
            z = graph.node("Concat", [graph.flattened(code, name: "decoder_condition"), Self.onnxConditionInput],
                           attributes: [ONNXAttribute("axis", .int(1))], name: "decoder_condition",
                           shape: [latentSize + classes])
        }
        let logits = try decoder.exportONNX(&graph, input: z, prefix: "decoder")
        return graph.node("Sigmoid", [logits], name: "decoder.sigmoid", shape: graph.shapes[logits] ?? [])
    }
}
