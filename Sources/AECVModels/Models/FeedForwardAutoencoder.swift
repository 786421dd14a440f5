import AECVKernels
import AECVNN

/// A deterministic autoencoder: x → encoder → code z → decoder → x̂, trained on
///
///     L = reconstruction(x̂, t) + penalty(z)
///
/// It covers the `conv`, `dense`, `sparse` (penalty = activity sparsity on z), `denoising` (the
/// encoder sees a corrupted x in training; the loss compares with the clean target) and `custom`
/// kinds. Parameter names are "encoder.<i>.weight" / "decoder.<i>.bias", as in a PyTorch module
/// with `encoder` and `decoder` nn.Sequential members.
package final class FeedForwardAutoencoder: AutoencoderNetwork, ChainPair {
    package let encoder: Sequential
    package let decoder: Sequential
    package let reconstructionLoss: ReconstructionObjective
    package let penalty: SparsityPenalty?
    package let corruption: InputCorruption?
    package let inputShape: [Int]

    private let outputGradient = Workspace()
    private let codeGradient = Workspace()
    private let corrupted = Workspace()
    private let corruptedT = Workspace()
    /// Batch-minor copies of the caller's inputs/targets/codes: (features, N).
    private let inputsT = Workspace()
    private let targetsT = Workspace()
    private let codesT = Workspace()
    /// The decoder ends in a sigmoid and the loss is the squared error alone (the conv, dense,
    /// sparse and denoising presets): a training step then computes that layer, the loss and its
    /// gradient in one pass (`sigmoidSquaredErrorForwardBackward`), with the same floats as the
    /// layer-by-layer path.
    private let fusesSigmoidSquaredError: Bool

    package init(encoder: Sequential, decoder: Sequential, inputShape: [Int], loss: ReconstructionObjective,
         penalty: SparsityPenalty?, corruption: InputCorruption?) {
        self.encoder = encoder
        self.decoder = decoder
        self.inputShape = inputShape
        self.reconstructionLoss = loss
        self.penalty = penalty
        self.corruption = corruption
        fusesSigmoidSquaredError = (decoder.layers.last as? Activation)?.function is Sigmoid
            && loss.pixelwise == .meanSquaredError && loss.structural == nil
        // The decoder's backward is over before the encoder's begins, and the code's gradient
        // between them lives in `codeGradient`.
        shareChainGradientBuffers()
    }

    package var latentSize: Int { encoder.outputSize }
    package var encoderLayers: Sequential { encoder }
    package var posteriorHeads: Dense? { nil }

    // Tensors: "encoder.*" then "decoder.*" (ChainPair).
    package var firstChain: Sequential { encoder }
    package var secondChain: Sequential { decoder }
    package var chainPrefixes: (first: String, second: String) { ("encoder", "decoder") }

    package func initialize(random: inout RandomSource) {
        encoder.initialize(random: &random)
        decoder.initialize(random: &random)
    }

    /// (N, features) → a batch-minor workspace (features, N).
    private func batchMinor(_ x: UnsafePointer<Float>, features: Int, batch: Int, into w: Workspace) -> UnsafePointer<Float> {
        let t = w.reserve(batch * features)
        transpose(x, rows: batch, columns: features, into: t)
        return UnsafePointer(t)
    }

    package var canSplitBatch: Bool {
        if case .kl? = penalty { return false }
        // a synthetic defect cut from another example must see the whole batch
        // (BatchNorm's statistics need no such care: the parts combine them, `BatchPartition`.)
        return corruption?.couplesExamples != true
    }

    package func lossAndGradients(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int,
                          normalization: Int, noise: StepNoise) -> Float {
        let count = batch * inputSize
        let x = batchMinor(inputs, features: inputSize, batch: batch, into: inputsT)
        let t = targets == inputs ? x : batchMinor(targets, features: inputSize, batch: batch, into: targetsT)
        setChainNoise(noise)
        var encoderInput = x
        if let corruption = corruption {
            // Corrupt example by example (in the caller's layout) with per-example generators.
            let noisy = corrupted.reserve(count)
            corruption.apply(inputs, noisy, batch: batch, size: inputSize, noise: noise)
            encoderInput = batchMinor(noisy, features: inputSize, batch: batch, into: corruptedT)
        }
        let code = encoder.forward(encoderInput, batch: batch)
        let scale = 1 / Float(normalization * inputSize)
        let dOutput = outputGradient.reserve(count)
        var loss: Float
        let dCode = codeGradient.reserve(batch * latentSize)
        if fusesSigmoidSquaredError {
            // dOutput is then the gradient of the sigmoid's input, the logits.
            let below = decoder.layers.count - 1
            let logits = decoder.forward(code, batch: batch, layerCount: below)
            let sum = sigmoidSquaredErrorForwardBackward(logits, t, decoder.outputBuffer(batch: batch), dOutput,
                                                         count: count, scale: scale)
            loss = Float(sum * Double(scale))
            decoder.backward(input: code, outputGradient: dOutput, inputGradient: dCode, batch: batch,
                             layerCount: below)
        } else {
            let output = decoder.forward(code, batch: batch)
            loss = reconstructionLoss.forwardBackward(output: output, target: t, gradient: dOutput,
                                                      batch: batch, features: inputSize, scale: scale)
            decoder.backward(input: code, outputGradient: dOutput, inputGradient: dCode, batch: batch)
        }
        if let penalty = penalty {
            loss += penalty.forwardBackward(code: code, codeGradient: dCode, batch: batch,
                                            units: latentSize, normalization: normalization)
        }
        // dCode is the model's scratch, read by nothing after this.
        encoder.backward(input: encoderInput, outputGradient: dCode, inputGradient: nil, batch: batch,
                         mayOverwriteOutputGradient: true)
        return loss
    }

    package func loss(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int) -> Float {
        let count = batch * inputSize
        let x = batchMinor(inputs, features: inputSize, batch: batch, into: inputsT)
        let t = targets == inputs ? x : batchMinor(targets, features: inputSize, batch: batch, into: targetsT)
        let code = encoder.forward(x, batch: batch)
        let output = decoder.forward(code, batch: batch)
        var loss = reconstructionLoss.forward(output: output, target: t, batch: batch,
                                              features: inputSize, scale: 1 / Float(count))
        if let penalty = penalty {
            loss += penalty.value(code: code, batch: batch, units: latentSize, normalization: batch)
        }
        return loss
    }

    package func encode(inputs: UnsafePointer<Float>, batch: Int, codes: UnsafeMutablePointer<Float>) {
        let code = encoder.forward(batchMinor(inputs, features: inputSize, batch: batch, into: inputsT), batch: batch)
        transpose(code, rows: latentSize, columns: batch, into: codes)
    }

    package func decode(codes: UnsafePointer<Float>, batch: Int, images: UnsafeMutablePointer<Float>) {
        let z = batchMinor(codes, features: latentSize, batch: batch, into: codesT)
        transpose(decoder.forward(z, batch: batch), rows: inputSize, columns: batch, into: images)
    }

    package func reconstruct(inputs: UnsafePointer<Float>, batch: Int, images: UnsafeMutablePointer<Float>) {
        let code = encoder.forward(batchMinor(inputs, features: inputSize, batch: batch, into: inputsT), batch: batch)
        transpose(decoder.forward(code, batch: batch), rows: inputSize, columns: batch, into: images)
    }

    package func sample(count: Int, random: inout RandomSource, images: UnsafeMutablePointer<Float>) -> Bool {
        false
    }
}

// MARK: - ONNX

extension FeedForwardAutoencoder {
    package var codeShape: [Int] { encoder.outputShape }

    package func exportONNXEncoder(_ graph: inout ONNXGraphBuilder, input: String) throws -> [(name: String, value: String)] {
        [("code", try encoder.exportONNX(&graph, input: input, prefix: "encoder"))]
    }

    package func exportONNXDecoder(_ graph: inout ONNXGraphBuilder, code: String) throws -> String {
        try decoder.exportONNX(&graph, input: code, prefix: "decoder")
    }
}
