import AECVKernels

/// A differentiable layer working on whole batches of raw float buffers.
///
/// Contract:
/// - Shapes are per example (without the batch dimension): [C, H, W] for images, [F] for vectors.
/// - Buffers are BATCH-MINOR (see Kernels/Im2Col.swift): an image batch is (C, H, W, N), a vector
///   batch (F, N). The model converts from and to the caller's (N, C·H·W) at its boundary.
/// - `forward` reads `input` (batch · inputSize floats) and writes `output` (batch · outputSize).
///   It may keep what backward needs in its own workspaces (e.g. im2col columns).
/// - `backward` gets the same `input`/`output` buffers and `outputGradient`, ACCUMULATES parameter
///   gradients (`+=`) into its gradient views, and writes `inputGradient` when it is non-nil
///   (nil for the first layer of a network, whose input gradient nobody needs).
/// - Parameters live in a model-wide flat buffer (`ParameterStore`); a layer declares their shapes
///   in PyTorch's order (weight, then bias) and receives views of the flat buffers through `bind`.
/// - Non-trainable state (running statistics) is declared as buffers the same way. In training
///   mode a layer reads the current buffers and writes their next values into `next`, which the
///   step commits or discards; in evaluation mode it only reads.
/// - Everything about one layer type — its math here, its spec and builder (`LayerDefinition`) —
///   lives in that type's file.
package protocol Layer: AnyObject {
    var inputShape: [Int] { get }
    var outputShape: [Int] { get }
    /// Shapes of the parameters, in PyTorch's state_dict order with their names.
    var parameterShapes: [(name: String, shape: [Int])] { get }
    /// Number of parameter floats. Parametric layers compute it without building
    /// `parameterShapes`, because binding (after every optimizer step) must not allocate.
    var parameterCount: Int { get }
    /// Points the layer at its parameters and gradients inside the flat buffers.
    func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>)
    /// Shapes of the non-trainable buffers, with PyTorch's names (e.g. "running_mean").
    var bufferShapes: [(name: String, shape: [Int])] { get }
    /// Number of buffer floats (computed without building `bufferShapes`: binding must not allocate).
    var bufferCount: Int { get }
    /// Points the layer at its buffers: `current` in force, `next` written by a training forward.
    func bind(buffers current: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>)
    /// Training or evaluation behaviour (BatchNorm statistics, dropout).
    func setMode(_ mode: LayerMode)
    /// PyTorch's default initialization for this layer type (parameters and buffers), drawn from
    /// `random`.
    func initialize(random: inout RandomSource)
    /// The randomness of the coming training forward (dropout masks), per example of the whole
    /// batch so that it does not depend on how the batch is split among threads.
    func setNoise(_ noise: StepNoise)
    /// The part of a split training batch this layer's network runs, nil when it runs the whole
    /// batch. A layer whose training statistics span the batch (BatchNorm) combines its sums with
    /// the other parts' through it.
    func setPartition(_ partition: BatchPartition?)
    /// True when a training forward normalizes with statistics of the whole batch (BatchNorm):
    /// such a network splits a training batch only into parts that run together and meet at a
    /// `BatchPartition`.
    var usesBatchStatistics: Bool { get }
    /// The smallest training batch the layer accepts (BatchNorm needs 2 values per channel).
    var minimumTrainingBatch: Int { get }
    /// Floats of scratch per example that a training forward and backward grow beyond the
    /// layer's output (a convolution's im2col columns: Cin·k² × OH·OW). The training entry points
    /// check that batch × the network's total can be allocated before a batch larger than any
    /// before grows the workspaces (`Sequential.trainingFloatsPerExample`).
    var scratchFloatsPerExample: Int { get }
    /// True when `backward` reads the `output` buffer. A layer whose backward does not
    /// (convolutions, dense, BatchNorm, reshapes) lets the next layer, when that one runs in
    /// place, overwrite its output (`Sequential` then keeps one buffer for both).
    var backwardReadsOutput: Bool { get }
    /// True when the layer may run in place: `forward` with `output == input`, and `backward`
    /// given its output as `input` as well, with the same results. Elementwise activations whose
    /// derivative follows from y = f(x) alone (ReLU, sigmoid, tanh) qualify.
    var runsInPlace: Bool { get }
    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int)
    /// `forward`, then ReLU on the output in place (v ≤ 0 → 0): what `Sequential` calls when a
    /// ReLU runs in place over this layer's output. A convolution applies it as it stores each
    /// value, saving the ReLU's pass over the output; the default runs the two one after the
    /// other.
    func forwardThenReLU(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int)
    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int)
    /// The backward of `forwardThenReLU`: the ReLU's, then this layer's. `output` is the ReLU's
    /// output (this layer's output buffer, which the ReLU overwrote) and `outputGradient` the
    /// gradient of that output; the layer may overwrite it with the masked gradient
    /// dy · [y > 0], which is what `backward` then receives. What `Sequential` calls when the
    /// gradient buffer is its own. A convolution masks while it sums its bias gradient, one
    /// pass instead of two and no separate buffer; the default masks in place, then `backward`.
    func backwardThroughReLU(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                             outputGradient: UnsafeMutablePointer<Float>,
                             inputGradient: UnsafeMutablePointer<Float>?, batch: Int)
    /// Appends this layer's ONNX form (evaluation mode) to `graph`, reading `input` (a value of
    /// shape (N) + inputShape), and returns the name of its output. `name` is the layer's
    /// state_dict prefix ("encoder.0"), used for node and initializer names. The default (in
    /// ONNXGraph.swift) throws "layer type X cannot be exported to ONNX yet".
    func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String
}

extension Layer {
    package var inputSize: Int { inputShape.reduce(1, *) }
    package var outputSize: Int { outputShape.reduce(1, *) }
    package var parameterShapes: [(name: String, shape: [Int])] { [] }
    package var parameterCount: Int { 0 }
    package func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {}
    package var bufferShapes: [(name: String, shape: [Int])] { [] }
    package var bufferCount: Int { 0 }
    package func bind(buffers current: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>) {}
    package func setMode(_ mode: LayerMode) {}
    package func initialize(random: inout RandomSource) {}
    package func setNoise(_ noise: StepNoise) {}
    package func setPartition(_ partition: BatchPartition?) {}
    package var usesBatchStatistics: Bool { false }
    package var minimumTrainingBatch: Int { 1 }
    package var scratchFloatsPerExample: Int { 0 }
    package var backwardReadsOutput: Bool { true }
    package var runsInPlace: Bool { false }
    package func forwardThenReLU(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        forward(input: input, output: output, batch: batch)
        reluForward(output, output, count: batch * outputSize)
    }
    package func backwardThroughReLU(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                     outputGradient: UnsafeMutablePointer<Float>,
                                     inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        reluBackward(output, outputGradient, outputGradient, count: batch * outputSize)
        backward(input: input, output: output, outputGradient: outputGradient,
                 inputGradient: inputGradient, batch: batch)
    }
}
