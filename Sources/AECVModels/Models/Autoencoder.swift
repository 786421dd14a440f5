import AECVKernels
import AECVNN

/// An autoencoder of any kind (dense, sparse, denoising, variational, convolutional, custom),
/// built from a validated `ModelSpec`. This is the public Swift API; the C API is a thin layer
/// over it. All buffers are float32, NCHW, one example after another.
///
/// Every method checks its buffer sizes and throws `AECVError` instead of trapping. A training
/// step that meets a non-finite value throws `.nonFinite` and leaves parameters, optimizer state
/// and random state bit-identical.
///
/// Not thread-safe: use one instance from one thread at a time (the C API serializes calls on a
/// handle with a lock).
public final class Autoencoder {
    /// The spec with every default filled in.
    public let spec: ModelSpec
    /// What the spec's kind can do (generative, feature extractor, conv backbone).
    public let capabilities: ModelCapabilities
    package let network: AutoencoderNetwork
    /// Store, optimizer and the transactional commit, shared with the classifier and detector.
    package let core: TrainableCore
    package var store: ParameterStore { core.store }
    package var optimizer: Optimizer { core.optimizer }
    /// Training-time randomness (corruption, reparameterization); seeded from the spec.
    package var random: RandomSource
    /// Mean training loss of each completed epoch, as recorded by hosts (CLI, bindings).
    public var history: [Float] = []
    /// Anomaly thresholds fitted by `calibrateAnomaly` (or read from the model file), nil until then.
    public package(set) var anomalyCalibration: AnomalyCalibration?
    /// Copies of the network for the other threads of a split batch (`ReplicaSet`): parts of at
    /// least 16 examples, so the GEMMs stay efficient.
    lazy var replicas = ReplicaSet<AutoencoderNetwork>(
        minimumPart: 16, make: { [spec] in try? NetworkFactory.make(spec) }, stored: { $0 })
    /// One loss per part of a split batch (no allocation per step). Owned by a Workspace, which
    /// frees it in its own deinit: a raw allocation here leaked whenever `init` threw, since a
    /// class whose initializer fails never runs its deinit (found by the ONNX import fuzzer).
    private let partLossStorage = Workspace(capacity: 1024)
    private var partLosses: UnsafeMutablePointer<Float> { partLossStorage.pointer }
    /// Checks memory before a training batch larger than any before grows the workspaces.
    private var workspaceProbe = WorkspaceProbe()

    /// [C, H, W] of one example.
    public var inputShape: [Int] { spec.input }
    /// Floats per example, C*H*W.
    public var inputSize: Int { network.inputSize }
    /// Floats per code.
    public var latentSize: Int { network.latentSize }
    /// Number of trainable parameters, as PyTorch counts them.
    public var parameterCount: Int { store.count }
    /// Number of non-trainable buffer floats (running statistics).
    public var bufferCount: Int { store.bufferCount }
    /// True for kinds that can `sample` (vae, conv_vae).
    public var isGenerative: Bool { capabilities.isGenerative }
    /// Optimizer steps taken so far.
    public var step: Int { optimizer.step }
    public var learningRate: Float { optimizer.learningRate }

    public init(spec: ModelSpec) throws {
        // Before OpenBLAS's first use by this model: its buffers must fit, or it would hang.
        try OpenBLASBuffer.reserveForCall()
        let filled = try spec.filled()
        self.spec = filled
        capabilities = filled.kind.capabilities(filled)
        network = try NetworkFactory.make(filled)
        core = try TrainableCore(network: network, optimizer: filled.optimizer ?? OptimizerSpec())
        random = RandomSource(seed: filled.seed ?? 0)
        network.initialize(random: &random)
    }

    /// Parses and validates a JSON spec (see ModelSpec+JSON.swift), then builds the model.
    public convenience init(specJSON: String) throws {
        try self.init(spec: ModelSpec(json: specJSON))
    }

    /// The filled spec as JSON.
    public var specJSON: String { spec.jsonString() }

    // MARK: - Training

    /// inputs and targets (when given) hold exactly batch × inputSize finite floats.
    private func checkTrainingBatch(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                                    batch: Int) throws {
        try BatchCheck.examples("inputs", count: inputs.count, batch: batch, perExample: inputSize, exact: true)
        if let targets = targets {
            try BatchCheck.examples("targets", count: targets.count, batch: batch, perExample: inputSize, exact: true)
            try BatchCheck.finite("targets", targets)
        }
        try BatchCheck.finite("inputs", inputs)
        // The chains' workspaces plus the input-sized buffers of the kinds (corrupted inputs,
        // output gradient, the VAE's targets and images).
        try workspaceProbe.require(batch: batch, floatsPerExample: network.trainingFloatsPerExample + 4 * inputSize,
                                   what: "inputs")
    }

    /// One optimizer step on one batch; returns the loss before the update.
    /// inputs, targets: (batch, inputSize); targets nil means targets = inputs.
    /// Equal to `computeGradients` then `applyGradients`.
    @discardableResult
    public func trainStep(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                          batch: Int) throws -> Float {
        try transactionalStep("train_step") {
            try computeGradients(inputs: inputs, targets: targets, batch: batch, what: "train_step")
        }
    }

    /// `compute` (a computeGradients call) then the optimizer step; when the step fails the
    /// random state goes back to where it was, so the model is exactly as before the call.
    func transactionalStep(_ what: String, _ compute: () throws -> Float) throws -> Float {
        let savedRandom = random
        let loss = try compute()
        do { try core.applyGradients(what, owner: "model") } catch {
            random = savedRandom
            throw error
        }
        return loss
    }

    /// Forward, objective and backward on one batch, leaving the gradient of the objective (the
    /// quantity `trainStep` minimizes, normalized by this batch) in the flat gradient buffer and
    /// any new buffer values pending; nothing is applied. Returns the loss. A non-finite loss
    /// leaves the model exactly as it was (parameters, buffers, optimizer and random state).
    @discardableResult
    public func computeGradients(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                                 batch: Int) throws -> Float {
        try computeGradients(inputs: inputs, targets: targets, batch: batch, what: "compute_gradients")
    }

    /// `computeGradients` on a shard of a larger batch: examples `firstExample ..< firstExample +
    /// batch` of a batch of `totalBatch` split among processes. The objective is normalized by
    /// `totalBatch` and example i draws the noise (corruption, reparameterization) that example
    /// `firstExample + i` draws in the whole batch, so the SUM of the shards' gradients (and
    /// losses) over a partition of the batch is the gradient (and loss) of `computeGradients` on
    /// the whole batch, for any split, uneven ones included, provided every process has the
    /// same random state (same seed, same number of steps). Models whose objective does not
    /// split over examples (BatchNorm, KL sparsity: `canSplitBatch` false) use the shard's
    /// statistics, as PyTorch DDP does.
    /// - Throws: `.invalidArgument` unless `0 <= firstExample` and `firstExample + batch <= totalBatch`.
    @discardableResult
    public func computeGradients(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                                 batch: Int, firstExample: Int, totalBatch: Int) throws -> Float {
        guard firstExample >= 0, totalBatch <= Int(Int32.max), batch <= totalBatch,
              firstExample <= totalBatch - batch else {
            throw AECVError.invalidArgument("compute_gradients_shard: the shard \(firstExample)..<\(firstExample &+ batch) does not lie in a batch of \(totalBatch)")
        }
        return try computeGradients(inputs: inputs, targets: targets, batch: batch, what: "compute_gradients_shard",
                                    firstExample: firstExample, totalBatch: totalBatch)
    }

    /// labels: the conditional kind's class indices (checked by the caller), else nil.
    func computeGradients(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                          batch: Int, what: String, firstExample: Int = 0, totalBatch: Int? = nil,
                          labels: UnsafePointer<Int32>? = nil) throws -> Float {
        if labels == nil, let k = spec.classes {
            throw AECVError.unsupported("\(what): a conditional \(spec.preset.rawValue) model (\(k) classes) trains on labeled batches; use train_step_labeled")
        }
        try checkTrainingBatch(inputs: inputs, targets: targets, batch: batch)
        let minimum = network.minimumTrainingBatch
        if batch < minimum {
            throw AECVError.invalidArgument("\(what): batch normalization over single values needs a training batch of at least \(minimum), got \(batch)")
        }
        let x = inputs.baseAddress!
        let t = targets?.baseAddress ?? x
        let normalization = totalBatch ?? batch
        let savedRandom = random
        let noise = StepNoise(seed: random.next(), firstExample: firstExample)
        let store = self.store
        store.beginStep()
        let parts = replicas.forEachPart(replicas.partCount(batch: batch, splittable: network.canSplitBatch),
                                         batch: batch, primary: network, store: store, mode: .training) { net, gradients, offset, count, part in
            gradients.update(repeating: 0, count: store.count)
            if let labels {
                partLosses[part] = (net as! VariationalAutoencoder).lossAndGradients(
                    inputs: x + offset * inputSize, labels: labels + offset, targets: t + offset * inputSize,
                    batch: count, normalization: normalization, noise: noise.shifted(by: offset))
            } else {
                partLosses[part] = net.lossAndGradients(
                    inputs: x + offset * inputSize, targets: t + offset * inputSize, batch: count,
                    normalization: normalization, noise: noise.shifted(by: offset))
            }
        }
        var loss: Float = 0
        for part in 0..<parts { loss += partLosses[part] }
        replicas.sumGradients(parts, into: store)
        guard loss.isFinite else {
            random = savedRandom
            core.hasPendingGradients = false
            throw AECVError.nonFinite("\(what): the loss is \(loss); the model was left unchanged")
        }
        core.hasPendingGradients = true
        return loss
    }

    /// The optimizer step on the flat gradient buffer left by `computeGradients` (possibly
    /// rewritten by the host, e.g. averaged over processes), committing parameters, optimizer
    /// state and buffers as `trainStep` does.
    /// - Throws: `.invalidArgument` when no gradients were computed since the last step;
    ///   `.nonFinite` when the update is not finite (the model is left unchanged).
    public func applyGradients() throws {
        try core.applyPendingGradients(owner: "model")
    }

    /// The model's objective on a batch, without an update and without training-time corruption
    /// (VAE: negative ELBO per example, with a fixed ε so repeated calls agree).
    public func evaluate(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                         batch: Int) throws -> Float {
        try checkTrainingBatch(inputs: inputs, targets: targets, batch: batch)
        let x = inputs.baseAddress!
        network.setMode(.evaluation)
        let loss = network.loss(inputs: x, targets: targets?.baseAddress ?? x, batch: batch)
        if !loss.isFinite { throw AECVError.nonFinite("evaluate: the loss is \(loss)") }
        return loss
    }

    public func setLearningRate(_ learningRate: Float) throws {
        try core.setLearningRate(learningRate)
    }

    // MARK: - Inference

    /// codes: (batch, latentSize). VAE: the mean.
    public func encode(inputs: UnsafeBufferPointer<Float>, batch: Int,
                       into codes: UnsafeMutableBufferPointer<Float>) throws {
        try BatchCheck.examples("inputs", count: inputs.count, batch: batch, perExample: inputSize, exact: true)
        try BatchCheck.examples("codes", count: codes.count, batch: batch, perExample: latentSize, exact: false)
        try BatchCheck.finite("inputs", inputs)
        let (x, z, l) = (inputs.baseAddress!, codes.baseAddress!, latentSize)
        try forEachInferencePart(batch: batch) { net, offset, count in
            net.encode(inputs: x + offset * inputSize, batch: count, codes: z + offset * l)
        }
    }

    /// images: (batch, inputSize).
    public func decode(codes: UnsafeBufferPointer<Float>, batch: Int,
                       into images: UnsafeMutableBufferPointer<Float>) throws {
        try BatchCheck.examples("codes", count: codes.count, batch: batch, perExample: latentSize, exact: true)
        try BatchCheck.examples("images", count: images.count, batch: batch, perExample: inputSize, exact: false)
        try BatchCheck.finite("codes", codes)
        let (z, y, l) = (codes.baseAddress!, images.baseAddress!, latentSize)
        try forEachInferencePart(batch: batch) { net, offset, count in
            net.decode(codes: z + offset * l, batch: count, images: y + offset * inputSize)
        }
    }

    /// images: (batch, inputSize).
    public func reconstruct(inputs: UnsafeBufferPointer<Float>, batch: Int,
                            into images: UnsafeMutableBufferPointer<Float>) throws {
        try BatchCheck.examples("inputs", count: inputs.count, batch: batch, perExample: inputSize, exact: true)
        try BatchCheck.examples("images", count: images.count, batch: batch, perExample: inputSize, exact: false)
        try BatchCheck.finite("inputs", inputs)
        let (x, y) = (inputs.baseAddress!, images.baseAddress!)
        try forEachInferencePart(batch: batch) { net, offset, count in
            net.reconstruct(inputs: x + offset * inputSize, batch: count, images: y + offset * inputSize)
        }
    }

    /// Examples that inference (encode, decode, reconstruct) runs at once: at most 1024 and about
    /// 4 Mi input floats (16 MiB), at least 32. A larger batch runs chunk after chunk, so the
    /// networks' workspaces never grow with the caller's batch (a batch of 100k images needs its
    /// input and output, not 100k examples of activations).
    static func inferenceChunk(exampleFloats: Int) -> Int {
        max(32, min(1024, (1 << 22) / max(1, exampleFloats)))
    }

    /// body(network, offset, count) over `batch` examples in chunks of `inferenceChunk`, each
    /// split among the threads; the thread setting is read once for the whole call, and its
    /// OpenBLAS buffers checked.
    private func forEachInferencePart(batch: Int, _ body: (AutoencoderNetwork, Int, Int) -> Void) throws {
        try OpenBLASBuffer.reserveForCall()
        let chunk = Self.inferenceChunk(exampleFloats: max(inputSize, latentSize))
        let threads = ComputeThreads.current
        var start = 0
        while start < batch {
            let n = min(chunk, batch - start)
            replicas.forEachPart(replicas.partCount(batch: n, threads: threads), batch: n, primary: network,
                                 store: store, mode: .evaluation) { net, _, offset, count, _ in
                body(net, start + offset, count)
            }
            start += n
        }
    }

    /// Generative kinds only: decodes `count` codes drawn from N(0, I) with `seed`.
    public func sample(count: Int, seed: UInt64, into images: UnsafeMutableBufferPointer<Float>) throws {
        guard isGenerative else {
            throw AECVError.unsupported("sample: a \(spec.preset.rawValue) model is not generative (use vae or conv_vae)")
        }
        try BatchCheck.examples("images", count: images.count, batch: count, perExample: inputSize, exact: false)
        try OpenBLASBuffer.reserveForCall()
        var generator = RandomSource(seed: seed)
        network.setMode(.evaluation)
        _ = network.sample(count: count, random: &generator, images: images.baseAddress!)
    }
}

// MARK: - Conveniences for Swift callers working with arrays

extension Autoencoder {
    private func batchCount(_ values: [Float], name: String) throws -> Int {
        try exampleCount(values, perExample: inputSize, name: name)
    }

    /// One step on a batch given as a flat array of whole examples; returns the loss.
    @discardableResult
    public func trainStep(inputs: [Float], targets: [Float]? = nil) throws -> Float {
        let batch = try batchCount(inputs, name: "inputs")
        return try inputs.withUnsafeBufferPointer { x in
            if let targets = targets {
                return try targets.withUnsafeBufferPointer { try trainStep(inputs: x, targets: $0, batch: batch) }
            }
            return try trainStep(inputs: x, targets: nil, batch: batch)
        }
    }

    public func evaluate(inputs: [Float], targets: [Float]? = nil) throws -> Float {
        let batch = try batchCount(inputs, name: "inputs")
        return try inputs.withUnsafeBufferPointer { x in
            if let targets = targets {
                return try targets.withUnsafeBufferPointer { try evaluate(inputs: x, targets: $0, batch: batch) }
            }
            return try evaluate(inputs: x, targets: nil, batch: batch)
        }
    }

    public func encode(_ inputs: [Float]) throws -> [Float] {
        try mapExamples(inputs, perExample: inputSize, name: "inputs", outputPerExample: latentSize) {
            try encode(inputs: $0, batch: $1, into: $2)
        }
    }

    public func decode(_ codes: [Float]) throws -> [Float] {
        try mapExamples(codes, perExample: latentSize, name: "codes", outputPerExample: inputSize) {
            try decode(codes: $0, batch: $1, into: $2)
        }
    }

    public func reconstruct(_ inputs: [Float]) throws -> [Float] {
        try mapExamples(inputs, perExample: inputSize, name: "inputs", outputPerExample: inputSize) {
            try reconstruct(inputs: $0, batch: $1, into: $2)
        }
    }

    public func sample(count: Int, seed: UInt64) throws -> [Float] {
        if count < 1 { throw AECVError.invalidArgument("count: must be at least 1, got \(count)") }
        var images = [Float](repeating: 0, count: count * inputSize)
        try images.withUnsafeMutableBufferPointer { try sample(count: count, seed: seed, into: $0) }
        return images
    }

    /// The parameters as named tensors (PyTorch state_dict names), copied.
    public func parameters() -> [(name: String, tensor: Tensor)] { core.parameterTensors() }

    /// The non-trainable buffers (e.g. BatchNorm's "running_mean"), copied.
    public func buffers() -> [(name: String, tensor: Tensor)] { core.bufferTensors() }

    /// Replaces parameters or buffers by name; all-or-nothing: any unknown name or shape
    /// mismatch throws `.shape` before anything is written. Names not given keep their values.
    public func setParameters(_ tensors: [(name: String, tensor: Tensor)]) throws {
        try core.setTensors(tensors, owner: "this \(spec.preset.rawValue) model")
    }
}
