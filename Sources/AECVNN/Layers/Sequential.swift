/// A chain of layers, PyTorch's `nn.Sequential`. It owns the activation buffers of the chain (the
/// output of every layer, kept for backward) and two ping-pong gradient buffers, all reused
/// across calls. Parameter names follow PyTorch's state_dict: "<index>.weight".
///
/// A layer that `runsInPlace` (ReLU, sigmoid, tanh) after one whose backward does not read its
/// output (conv, dense, BatchNorm) writes over that output instead of a buffer of its own: the
/// convolution's backward needs only its input, and the activation's only y. At 3×256² that is
/// 134 MB of the seed model's 268 MB of activations at batch 32.
package final class Sequential: StoredNetwork {
    package let layers: [Layer]
    package let inputShape: [Int]
    private var activations: [Workspace]
    /// The index of the workspace holding layer i's output: i, or its predecessor's slot when
    /// layer i runs in place.
    private let outputSlot: [Int]
    /// True for a ReLU running in place whose work the previous layer's `forwardThenReLU` does.
    private let fusedReLU: [Bool]
    private var gradientA = Workspace()
    private var gradientB = Workspace()

    /// Offset of each layer's parameters in the chain's block, and the block's size: computed once,
    /// because binding runs after every optimizer step and must not allocate.
    private let offsets: [Int]
    package let parameterCount: Int
    private let bufferOffsets: [Int]
    package let bufferCount: Int
    private var mode = LayerMode.evaluation

    package init(layers: [Layer], inputShape: [Int]) {
        self.layers = layers
        self.inputShape = inputShape
        activations = layers.map { _ in Workspace() }
        var slots: [Int] = []
        for (index, layer) in layers.enumerated() {
            let overwritesPrevious = index > 0 && layer.runsInPlace && !layers[index - 1].backwardReadsOutput
            slots.append(overwritesPrevious ? slots[index - 1] : index)
        }
        outputSlot = slots
        fusedReLU = layers.indices.map { slots[$0] != $0 && (layers[$0] as? Activation)?.function is ReLU }
        var offsets: [Int] = [], total = 0
        for layer in layers { offsets.append(total); total += layer.parameterCount }
        self.offsets = offsets
        parameterCount = total
        var bufferOffsets: [Int] = [], buffers = 0
        for layer in layers { bufferOffsets.append(buffers); buffers += layer.bufferCount }
        self.bufferOffsets = bufferOffsets
        bufferCount = buffers
    }

    package var outputShape: [Int] { layers.last?.outputShape ?? inputShape }
    package var inputSize: Int { inputShape.reduce(1, *) }
    package var outputSize: Int { outputShape.reduce(1, *) }

    /// (name, shape) of each parameter, with the layer index as prefix, in order.
    package var parameterShapes: [(name: String, shape: [Int])] {
        var result: [(name: String, shape: [Int])] = []
        for (index, layer) in layers.enumerated() {
            for p in layer.parameterShapes { result.append(("\(index).\(p.name)", p.shape)) }
        }
        return result
    }

    /// (name, shape) of each buffer, with the layer index as prefix, in order.
    package var bufferShapes: [(name: String, shape: [Int])] {
        var result: [(name: String, shape: [Int])] = []
        for (index, layer) in layers.enumerated() {
            for b in layer.bufferShapes { result.append(("\(index).\(b.name)", b.shape)) }
        }
        return result
    }

    package func bind(buffers: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>) {
        for (layer, offset) in zip(layers, bufferOffsets) where layer.bufferCount > 0 {
            layer.bind(buffers: buffers + offset, next: next + offset)
        }
    }

    /// Sets every layer's mode (a no-op when it is already in force).
    package func setMode(_ mode: LayerMode) {
        guard mode != self.mode else { return }
        self.mode = mode
        for layer in layers { layer.setMode(mode) }
    }

    /// Binds each layer to consecutive views of the flat buffers, starting at the given pointers.
    package func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        for (layer, offset) in zip(layers, offsets) {
            layer.bind(parameters: parameters + offset, gradients: gradients + offset)
        }
    }

    package func initialize(random: inout RandomSource) {
        for layer in layers { layer.initialize(random: &random) }
    }

    /// Gives each layer its own stream of the step's noise (salted with its index).
    package func setNoise(_ noise: StepNoise) {
        for (index, layer) in layers.enumerated() { layer.setNoise(noise.salted(UInt64(index + 1))) }
    }

    package func setPartition(_ partition: BatchPartition?) {
        for layer in layers where layer.usesBatchStatistics { layer.setPartition(partition) }
    }

    /// True when some layer normalizes with whole-batch statistics in training.
    package var usesBatchStatistics: Bool { layers.contains { $0.usesBatchStatistics } }

    /// The largest of the layers' minimum training batches.
    package var minimumTrainingBatch: Int { layers.reduce(1) { max($0, $1.minimumTrainingBatch) } }

    /// Floats per example that a training step of this chain keeps: its activations and scratch,
    /// and its two ping-pong gradient buffers.
    package var trainingFloatsPerExample: Int { activationFloatsPerExample + gradientFloatsPerExample }

    /// Every layer's output that has a buffer of its own (not the in-place ones), and its scratch.
    package var activationFloatsPerExample: Int {
        layers.indices.reduce(0) { total, index in
            total + (outputSlot[index] == index ? layers[index].outputSize : 0) + layers[index].scratchFloatsPerExample
        }
    }

    /// The two ping-pong gradient buffers of the widest layer.
    package var gradientFloatsPerExample: Int { 2 * layers.reduce(0) { max($0, $1.inputSize, $1.outputSize) } }

    /// Makes this chain backpropagate through `other`'s two gradient buffers instead of its own.
    /// Safe for chains whose backward passes never overlap and that hand each other gradients in
    /// buffers of their owner's (an encoder and its decoder: the code's gradient lives in the
    /// network's own workspace), which halves the chains' gradient memory.
    package func shareGradientBuffers(with other: Sequential) {
        gradientA = other.gradientA
        gradientB = other.gradientB
    }

    /// Floats the two gradient buffers hold now (what backward has grown them to).
    package var gradientBufferFloats: Int { gradientA.capacity + gradientB.capacity }

    /// True when this chain backpropagates through `other`'s gradient buffers.
    package func sharesGradientBuffers(with other: Sequential) -> Bool {
        gradientA === other.gradientA && gradientB === other.gradientB
    }

    /// Runs the chain; returns the output buffer (owned by this Sequential, valid until the next
    /// call). An empty chain returns its input.
    ///
    /// `layerCount` runs only the first layers (a caller that fuses the last layer with its loss,
    /// `outputBuffer`); their outputs are where a whole forward leaves them.
    @discardableResult
    package func forward(_ input: UnsafePointer<Float>, batch: Int, layerCount: Int? = nil) -> UnsafePointer<Float> {
        let count = layerCount ?? layers.count
        precondition(count >= 0 && count <= layers.count, "layerCount \(count) of \(layers.count) layers")
        var x = input
        for (index, layer) in layers.prefix(count).enumerated() {
            // A fused ReLU was applied by the layer before, over the same buffer: x is its output.
            if fusedReLU[index] { continue }
            let y = activations[outputSlot[index]].reserve(batch * layer.outputSize)
            if index + 1 < count, fusedReLU[index + 1] {
                layer.forwardThenReLU(input: x, output: y, batch: batch)
            } else {
                layer.forward(input: x, output: y, batch: batch)
            }
            x = UnsafePointer(y)
        }
        return x
    }

    /// The last layer's output buffer for `batch` examples, for a caller that computes that
    /// layer itself after `forward(_:batch:layerCount: layers.count - 1)`. For a layer that runs
    /// in place it is the previous layer's output.
    package func outputBuffer(batch: Int) -> UnsafeMutablePointer<Float> {
        precondition(!layers.isEmpty, "an empty chain has no output buffer of its own")
        return activations[outputSlot[layers.count - 1]].reserve(batch * outputSize)
    }

    /// The output of the last `forward`.
    package var output: UnsafePointer<Float> {
        layers.isEmpty ? UnsafePointer(gradientA.pointer) : UnsafePointer(activations[outputSlot[layers.count - 1]].pointer)
    }

    /// Backpropagates `outputGradient` through the chain after a `forward` on the same `input`,
    /// accumulating parameter gradients. Writes `inputGradient` when it is non-nil.
    /// `layerCount` backpropagates through the first layers only: `outputGradient` is then the
    /// gradient of layer `layerCount − 1`'s output. `mayOverwriteOutputGradient`: the caller's
    /// buffer is scratch that the chain may write over (a last fused ReLU then masks it in place).
    package func backward(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                  inputGradient: UnsafeMutablePointer<Float>?, batch: Int, layerCount: Int? = nil,
                  mayOverwriteOutputGradient: Bool = false) {
        let count = layerCount ?? layers.count
        precondition(count >= 0 && count <= layers.count, "layerCount \(count) of \(layers.count) layers")
        var dy = outputGradient
        var useA = firstGradientInA(count: count, batch: batch, mayOverwriteOutputGradient: mayOverwriteOutputGradient)
        // The gradient of a fused ReLU's output, when it lies in a buffer of the chain's own: the
        // layer before then takes the ReLU's backward into its own (`backwardThroughReLU`).
        var throughReLU: UnsafeMutablePointer<Float>?
        for index in stride(from: count - 1, through: 0, by: -1) {
            let layer = layers[index]
            // An in-place layer gets its output as its input too (`Layer.runsInPlace`).
            let x = index == 0 ? input : UnsafePointer(activations[outputSlot[index - 1]].pointer)
            let y = UnsafePointer(activations[outputSlot[index]].pointer)
            if takesReLUIntoPrevious(index, count: count, mayOverwriteOutputGradient) {
                // The last dx written (index < count − 1), or the caller's scratch.
                throughReLU = UnsafeMutablePointer(mutating: dy)
                continue
            }
            let dx: UnsafeMutablePointer<Float>?
            if index == 0 {
                dx = inputGradient
            } else {
                dx = (useA ? gradientA : gradientB).reserve(batch * layer.inputSize)
                useA.toggle()
            }
            if let g = throughReLU {
                layer.backwardThroughReLU(input: x, output: y, outputGradient: g, inputGradient: dx, batch: batch)
                throughReLU = nil
            } else {
                layer.backward(input: x, output: y, outputGradient: dy, inputGradient: dx, batch: batch)
            }
            if let dx = dx { dy = UnsafePointer(dx) }
        }
        if count == 0, let dx = inputGradient {
            dx.update(from: outputGradient, count: batch * inputSize)
        }
    }
    /// Whether backward takes layer `index`, a fused ReLU, into the layer before: when its
    /// gradient is a buffer the chain may write over.
    private func takesReLUIntoPrevious(_ index: Int, count: Int, _ mayOverwriteOutputGradient: Bool) -> Bool {
        fusedReLU[index] && (index < count - 1 || mayOverwriteOutputGradient)
    }

    /// Whether the first dx of a backward goes in gradient buffer A (then B, A, …). Either may:
    /// the first dy is the caller's. The choice that grows the two buffers least from what they
    /// hold wins (A on a tie). It matters when a decoder has sized the pair first: the encoder's
    /// widest gradient then lands in the buffer that already has that width (16 MB less at
    /// 3×256², batch 32).
    private func firstGradientInA(count: Int, batch: Int, mayOverwriteOutputGradient: Bool) -> Bool {
        var needs = (0, 0), slot = 0
        for index in stride(from: count - 1, through: 1, by: -1)
        where !takesReLUIntoPrevious(index, count: count, mayOverwriteOutputGradient) {
            let floats = batch * layers[index].inputSize
            if slot == 0 { needs.0 = max(needs.0, floats) } else { needs.1 = max(needs.1, floats) }
            slot ^= 1
        }
        let (a, b) = (gradientA.capacity, gradientB.capacity)
        let growthInA = max(0, needs.0 - a) + max(0, needs.1 - b)
        let growthInB = max(0, needs.0 - b) + max(0, needs.1 - a)
        return growthInA <= growthInB
    }
}
