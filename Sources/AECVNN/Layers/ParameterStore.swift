import AECVKernels

/// All parameters of a model in one flat float buffer and all gradients in another, plus its
/// non-trainable buffers (running statistics) in a third; layers see views into them. One
/// optimizer loop runs over the whole parameter buffer, and the same buffers are what a
/// checkpoint writes and what a data-parallel allreduce exchanges.
///
/// Parameters and buffers are double-buffered (`DoubleBuffer`): an optimizer step writes the next
/// parameters into the spare buffer, a training forward writes the next buffer values (e.g.
/// BatchNorm's running mean) into the spare buffers, and `commit` swaps both, so a step rejected
/// for non-finite values leaves everything bit-identical without a copy.
///
/// Each parameter entry has a trainable flag (the one mechanism for freezing: a linear probe's
/// encoder, a detector's frozen backbone) and an optional learning rate of its own; `segments`
/// turns them into the ranges the optimizer walks.
package final class ParameterStore {
    package struct Entry {
        package var name: String       // PyTorch state_dict name, e.g. "encoder.0.weight"
        package var shape: [Int]
        package var offset: Int
        package var count: Int { shape.reduce(1, *) }
        /// False: the optimizer leaves this tensor as it is.
        var trainable = true
        /// This tensor's learning rate; nil for the optimizer's.
        var learningRate: Float?
    }

    package private(set) var entries: [Entry]
    /// Non-trainable state, e.g. "encoder.1.running_mean"; never seen by the optimizer.
    package let bufferEntries: [Entry]
    package let count: Int
    package let bufferCount: Int
    private let values: DoubleBuffer
    private let bufferValues: DoubleBuffer
    package let gradients: UnsafeMutablePointer<Float>
    private let network: StoredNetwork

    /// Lays out the network's parameters and buffers (in its order), allocates them, and binds the
    /// network to them. Fails with `AECVError.noMemory` naming what could not be allocated.
    package init(network: StoredNetwork) throws {
        func layout(_ named: [(name: String, shape: [Int])]) -> ([Entry], Int) {
            var offset = 0
            var entries: [Entry] = []
            for (name, shape) in named {
                entries.append(Entry(name: name, shape: shape, offset: offset))
                offset += shape.reduce(1, *)
            }
            return (entries, offset)
        }
        (entries, count) = layout(network.parameterShapes)
        (bufferEntries, bufferCount) = layout(network.bufferShapes)
        values = try DoubleBuffer(count: count, "parameters (\(count) floats)")
        bufferValues = try DoubleBuffer(count: bufferCount, "buffers (\(bufferCount) floats)")
        gradients = try FloatMemory.allocate(count, "gradients (\(count) floats)")
        self.network = network
        network.bind(parameters: values.current, gradients: gradients)
        network.bind(buffers: bufferValues.current, next: bufferValues.spare)
    }

    deinit { FloatMemory.free(gradients) }

    package var parameters: UnsafeMutablePointer<Float> { values.current }
    /// Where an optimizer writes the next parameters.
    package var spare: UnsafeMutablePointer<Float> { values.spare }
    /// The buffers in force (read by evaluation-mode layers).
    package var buffers: UnsafeMutablePointer<Float> { bufferValues.current }
    /// Where a training forward writes the buffers' next values (committed with the step).
    package var nextBuffers: UnsafeMutablePointer<Float> { bufferValues.spare }

    package func zeroGradients() { gradients.update(repeating: 0, count: count) }

    /// Starts a training step: the next buffers start as the current ones, so that a layer that
    /// updates only some of them (or none, in a step that fails) commits consistent values.
    package func beginStep() {
        if bufferCount > 0 { nextBuffers.update(from: buffers, count: bufferCount) }
    }

    /// Makes the spare parameters and the next buffers current (after an accepted step).
    package func commit() {
        values.swap()
        network.bind(parameters: values.current, gradients: gradients)
        if bufferCount > 0 {
            bufferValues.swap()
            network.bind(buffers: bufferValues.current, next: bufferValues.spare)
        }
    }

    package func entry(named name: String) -> Entry? { entries.first { $0.name == name } }
    package func bufferEntry(named name: String) -> Entry? { bufferEntries.first { $0.name == name } }

    /// Sets the trainable flag and learning rate of the entries `which` selects.
    package func configure(where which: (Entry) -> Bool, trainable: Bool, learningRate: Float? = nil) {
        for k in entries.indices where which(entries[k]) {
            entries[k].trainable = trainable
            entries[k].learningRate = learningRate
        }
    }

    /// Consecutive entries with the same flag and learning rate, merged: what the optimizer walks.
    package var segments: [ParameterSegment] {
        var result: [ParameterSegment] = []
        for e in entries {
            if var last = result.last, last.trainable == e.trainable, last.learningRate == e.learningRate {
                last.count += e.count
                result[result.count - 1] = last
            } else {
                result.append(ParameterSegment(start: e.offset, count: e.count, trainable: e.trainable,
                                               learningRate: e.learningRate))
            }
        }
        return result.isEmpty ? [ParameterSegment(start: 0, count: 0, trainable: true)] : result
    }
}

/// Whether layers compute as in training (batch statistics, dropout) or in evaluation (running
/// statistics, no dropout); PyTorch's `module.train()` / `module.eval()`.
package enum LayerMode: Equatable, Sendable {
    case training, evaluation
}

/// Anything whose parameters and buffers live in a `ParameterStore`: a layer chain, a model's
/// network, a replica of it for another thread.
package protocol StoredNetwork: AnyObject {
    /// (name, shape) in flat-buffer order, named as the equivalent PyTorch module's state_dict.
    var parameterShapes: [(name: String, shape: [Int])] { get }
    /// Non-trainable buffers, likewise (e.g. "encoder.1.running_var").
    var bufferShapes: [(name: String, shape: [Int])] { get }
    /// Points every layer at its views of the flat parameter and gradient buffers.
    func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>)
    /// Points every layer at its buffers: `current` to read, `next` where training writes.
    func bind(buffers: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>)
    /// Train or evaluation mode for every layer.
    func setMode(_ mode: LayerMode)
    /// The part of a split training batch this network runs (nil: the whole batch), for the layers
    /// whose statistics span the batch.
    func setPartition(_ partition: BatchPartition?)
    /// True when a layer normalizes with whole-batch statistics in training (BatchNorm): the
    /// batch's parts must then run together (`WorkerPool.runTogether`).
    var usesBatchStatistics: Bool { get }
}

extension StoredNetwork {
    package var bufferShapes: [(name: String, shape: [Int])] { [] }
    package func bind(buffers: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>) {}
    package func setMode(_ mode: LayerMode) {}
    package func setPartition(_ partition: BatchPartition?) {}
    package var usesBatchStatistics: Bool { false }
}

/// A network that is two layer chains one after the other (encoder then decoder, backbone then
/// head): its tensors are the first chain's, named "<first prefix>.<i>.*", then the second's.
/// Binding walks the two chains with offsets and allocates nothing. A network with tensors
/// between the chains (the VAE's heads) overrides the parameter half.
package protocol ChainPair: StoredNetwork {
    var firstChain: Sequential { get }
    var secondChain: Sequential { get }
    /// The state_dict prefixes of the two chains, e.g. ("encoder", "decoder").
    var chainPrefixes: (first: String, second: String) { get }
}

extension ChainPair {
    private func prefixed(_ first: [(name: String, shape: [Int])], _ second: [(name: String, shape: [Int])])
        -> [(name: String, shape: [Int])] {
        let (a, b) = chainPrefixes
        return first.map { ("\(a).\($0.name)", $0.shape) } + second.map { ("\(b).\($0.name)", $0.shape) }
    }

    package var parameterShapes: [(name: String, shape: [Int])] {
        prefixed(firstChain.parameterShapes, secondChain.parameterShapes)
    }

    package var bufferShapes: [(name: String, shape: [Int])] {
        prefixed(firstChain.bufferShapes, secondChain.bufferShapes)
    }

    package func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        firstChain.bind(parameters: parameters, gradients: gradients)
        let offset = firstChain.parameterCount
        secondChain.bind(parameters: parameters + offset, gradients: gradients + offset)
    }

    package func bind(buffers: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>) {
        firstChain.bind(buffers: buffers, next: next)
        let offset = firstChain.bufferCount
        secondChain.bind(buffers: buffers + offset, next: next + offset)
    }

    package func setMode(_ mode: LayerMode) {
        firstChain.setMode(mode)
        secondChain.setMode(mode)
    }

    package func setPartition(_ partition: BatchPartition?) {
        firstChain.setPartition(partition)
        secondChain.setPartition(partition)
    }

    /// True when a layer of either chain normalizes with whole-batch statistics in training
    /// (BatchNorm).
    package var usesBatchStatistics: Bool { firstChain.usesBatchStatistics || secondChain.usesBatchStatistics }

    /// The smallest training batch the chains' layers accept.
    package var minimumTrainingBatch: Int { max(firstChain.minimumTrainingBatch, secondChain.minimumTrainingBatch) }

    /// Makes the second chain backpropagate through the first one's gradient buffers. For a
    /// network whose second chain's backward ends before the first one's begins and whose
    /// gradient between them lives in its own workspace (an encoder and decoder): one pair of
    /// buffers then serves both. Chains without layers keep theirs.
    package func shareChainGradientBuffers() {
        if !firstChain.layers.isEmpty, !secondChain.layers.isEmpty { secondChain.shareGradientBuffers(with: firstChain) }
    }

    /// Floats per example that a training step of both chains keeps (see
    /// `Sequential.trainingFloatsPerExample`): one pair of gradient buffers when they share it.
    package var trainingFloatsPerExample: Int {
        let (first, second) = (firstChain, secondChain)
        let gradients = second.sharesGradientBuffers(with: first)
            ? max(first.gradientFloatsPerExample, second.gradientFloatsPerExample)
            : first.gradientFloatsPerExample + second.gradientFloatsPerExample
        return first.activationFloatsPerExample + second.activationFloatsPerExample + gradients
    }

    /// Gives the two chains independent streams of the step's noise (dropout masks).
    package func setChainNoise(_ noise: StepNoise) {
        firstChain.setNoise(noise.salted(0x1_0000))
        secondChain.setNoise(noise.salted(0x2_0000))
    }
}
