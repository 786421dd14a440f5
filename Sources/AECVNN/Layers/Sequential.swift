/// A chain of layers, PyTorch's `nn.Sequential`. It owns the activation buffers of the chain (the
/// output of every layer, kept for backward) and two ping-pong gradient buffers, all reused
/// across calls. Parameter names follow PyTorch's state_dict: "<index>.weight".
package final class Sequential: StoredNetwork {
    package let layers: [Layer]
    package let inputShape: [Int]
    private var activations: [Workspace]
    private let gradientA = Workspace()
    private let gradientB = Workspace()

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

    /// Floats per example that a training step of this chain keeps: every layer's output
    /// (activations), its scratch, and the two ping-pong gradient buffers of the widest layer.
    package var trainingFloatsPerExample: Int {
        let widest = layers.reduce(0) { max($0, $1.inputSize, $1.outputSize) }
        return layers.reduce(2 * widest) { $0 + $1.outputSize + $1.scratchFloatsPerExample }
    }

    /// Runs the chain; returns the output buffer (owned by this Sequential, valid until the next
    /// call). An empty chain returns its input.
    @discardableResult
    package func forward(_ input: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float> {
        var x = input
        for (index, layer) in layers.enumerated() {
            let y = activations[index].reserve(batch * layer.outputSize)
            layer.forward(input: x, output: y, batch: batch)
            x = UnsafePointer(y)
        }
        return x
    }

    /// The output of the last `forward`.
    package var output: UnsafePointer<Float> {
        layers.isEmpty ? UnsafePointer(gradientA.pointer) : UnsafePointer(activations[layers.count - 1].pointer)
    }

    /// Backpropagates `outputGradient` through the chain after a `forward` on the same `input`,
    /// accumulating parameter gradients. Writes `inputGradient` when it is non-nil.
    package func backward(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                  inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        var dy = outputGradient
        var useA = true
        for index in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[index]
            let x = index == 0 ? input : UnsafePointer(activations[index - 1].pointer)
            let y = UnsafePointer(activations[index].pointer)
            let dx: UnsafeMutablePointer<Float>?
            if index == 0 {
                dx = inputGradient
            } else {
                dx = (useA ? gradientA : gradientB).reserve(batch * layer.inputSize)
                useA.toggle()
            }
            layer.backward(input: x, output: y, outputGradient: dy, inputGradient: dx, batch: batch)
            if let dx = dx { dy = UnsafePointer(dx) }
        }
        if layers.isEmpty, let dx = inputGradient {
            dx.update(from: outputGradient, count: batch * inputSize)
        }
    }
}
