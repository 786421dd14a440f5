import AECVNN

/// The computation of one autoencoder kind: its layers, its objective and its gradients.
/// `Autoencoder` (the public class) owns one and adds what is common to every kind: argument
/// checks, the transactional optimizer step, the random source, files.
///
/// Buffers are raw pointers whose sizes the caller has checked: inputs/targets/images
/// (batch, inputSize), codes (batch, latentSize).
///
/// Its parameters and buffers (`StoredNetwork`) are named as the equivalent PyTorch module's
/// state_dict. Training-time calls run in training mode, everything else in evaluation mode;
/// `Autoencoder` sets the mode before each call.
package protocol AutoencoderNetwork: StoredNetwork {
    var inputShape: [Int] { get }
    var latentSize: Int { get }
    /// The layers from the input to the code (the VAE kinds: to the trunk's output, before the
    /// μ / log σ² heads); their tensors come first in `parameterShapes` and `bufferShapes`.
    var encoderLayers: Sequential { get }
    /// The VAE kinds' [μ; log σ²] heads, right after the encoder's tensors; nil otherwise.
    var posteriorHeads: Dense? { get }
    func initialize(random: inout RandomSource)
    /// Forward, objective and backward on `batch` examples that may be one part of a larger batch
    /// of `normalization` examples (the objective is normalized by the whole batch, so the parts'
    /// losses and gradients add up to the whole's). ACCUMULATES gradients into the bound gradient
    /// buffer. `noise` drives training-time randomness (input corruption, reparameterization).
    func lossAndGradients(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int,
                          normalization: Int, noise: StepNoise) -> Float
    /// False when the objective couples the examples of a batch (KL sparsity's batch means), so a
    /// batch cannot be split among threads.
    var canSplitBatch: Bool { get }
    /// The smallest training batch its layers accept (2 with a BatchNorm on [F] features).
    var minimumTrainingBatch: Int { get }
    /// Floats per example of the workspaces a training step grows (`ChainPair` sums its chains').
    var trainingFloatsPerExample: Int { get }
    /// The objective without an update (deterministic: no corruption).
    func loss(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int) -> Float
    func encode(inputs: UnsafePointer<Float>, batch: Int, codes: UnsafeMutablePointer<Float>)
    func decode(codes: UnsafePointer<Float>, batch: Int, images: UnsafeMutablePointer<Float>)
    func reconstruct(inputs: UnsafePointer<Float>, batch: Int, images: UnsafeMutablePointer<Float>)
    /// Generative kinds decode `count` draws from N(0, I); others return false.
    func sample(count: Int, random: inout RandomSource, images: UnsafeMutablePointer<Float>) -> Bool
    /// Per-example shape of the code that `decode` takes ([C, H, W] for a conv code).
    var codeShape: [Int] { get }
    /// The encoder's ONNX nodes on `input` (what `encode` computes, plus the VAE's log σ²):
    /// its named outputs, ("code") or ("mu", "logvar").
    func exportONNXEncoder(_ graph: inout ONNXGraphBuilder, input: String) throws -> [(name: String, value: String)]
    /// The decoder's ONNX nodes on `code` (what `decode` computes); returns the image value.
    func exportONNXDecoder(_ graph: inout ONNXGraphBuilder, code: String) throws -> String
}

extension AutoencoderNetwork {
    package var inputSize: Int { inputShape.reduce(1, *) }
    package var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) } }
}

