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
    let network: AutoencoderNetwork
    let store: ParameterStore
    let optimizer: Optimizer
    /// Training-time randomness (corruption, reparameterization); seeded from the spec.
    var random: RandomSource
    /// Mean training loss of each completed epoch, as recorded by hosts (CLI, bindings).
    public var history: [Float] = []
    /// Copies of the network for the other threads of a split batch (`ReplicaSet`): parts of at
    /// least 16 examples, so the GEMMs stay efficient.
    lazy var replicas = ReplicaSet<AutoencoderNetwork>(
        minimumPart: 16, make: { [spec] in try? NetworkFactory.make(spec) },
        bind: { $0.bind(parameters: $1, gradients: $2) })
    /// One loss per part of a split batch (no allocation per step).
    let partLosses = UnsafeMutablePointer<Float>.allocate(capacity: 1024)

    /// [C, H, W] of one example.
    public var inputShape: [Int] { spec.input }
    /// Floats per example, C*H*W.
    public var inputSize: Int { network.inputSize }
    /// Floats per code.
    public var latentSize: Int { network.latentSize }
    /// Number of trainable parameters, as PyTorch counts them.
    public var parameterCount: Int { store.count }
    /// True for kinds that can `sample` (vae, conv_vae).
    public var isGenerative: Bool { spec.preset == .vae || spec.preset == .convVAE }
    /// Optimizer steps taken so far.
    public var step: Int { optimizer.step }
    public var learningRate: Float { optimizer.learningRate }

    deinit { partLosses.deallocate() }

    public init(spec: ModelSpec) throws {
        ComputeThreads.configureOnce()
        let filled = try spec.filled()
        self.spec = filled
        network = try NetworkFactory.make(filled)
        let network = self.network
        store = ParameterStore(named: network.parameterShapes) { parameters, gradients in
            network.bind(parameters: parameters, gradients: gradients)
        }
        let o = filled.optimizer ?? OptimizerSpec()
        switch o.name {
        case .adam:
            optimizer = Adam(count: store.count, learningRate: o.learningRate, beta1: o.beta1,
                             beta2: o.beta2, epsilon: o.epsilon, weightDecay: o.weightDecay)
        case .sgd:
            optimizer = SGD(count: store.count, learningRate: o.learningRate, momentum: o.momentum,
                            weightDecay: o.weightDecay)
        }
        random = RandomSource(seed: filled.seed ?? 0)
        network.initialize(random: &random)
    }

    /// Parses and validates a JSON spec (see ModelSpec+JSON.swift), then builds the model.
    public convenience init(specJSON: String) throws {
        try self.init(spec: ModelSpec(json: specJSON))
    }

    /// Loads a model file written by `save(to:)`.
    public convenience init(contentsOf path: String) throws {
        let file = try ModelFile.read(path: path)
        try self.init(spec: file.spec)
        try file.restore(into: self)
    }

    /// The filled spec as JSON.
    public var specJSON: String { spec.jsonString() }

    // MARK: - Argument checks

    /// Checks that `buffer` holds exactly batch × perExample floats (or at least, for outputs).
    private func check(_ name: String, count: Int, batch: Int, perExample: Int, exact: Bool) throws {
        if batch < 1 { throw AECVError.invalidArgument("batch: must be at least 1, got \(batch)") }
        let (needed, overflow) = batch.multipliedReportingOverflow(by: perExample)
        if overflow || needed > Int(Int32.max) * 4 {
            throw AECVError.noMemory("\(name): batch \(batch) × \(perExample) floats is too large")
        }
        if exact ? count != needed : count < needed {
            throw AECVError.shape("\(name): batch \(batch) needs \(needed) floats, \(exact ? "got" : "capacity") \(count)")
        }
    }

    private func checkFinite(_ name: String, _ buffer: UnsafeBufferPointer<Float>) throws {
        guard let base = buffer.baseAddress else { return }
        if !allFinite(base, count: buffer.count) {
            throw AECVError.nonFinite("\(name): contains NaN or Inf")
        }
    }

    // MARK: - Training

    /// inputs and targets (when given) hold exactly batch × inputSize finite floats.
    private func checkTrainingBatch(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                                    batch: Int) throws {
        try check("inputs", count: inputs.count, batch: batch, perExample: inputSize, exact: true)
        if let targets = targets {
            try check("targets", count: targets.count, batch: batch, perExample: inputSize, exact: true)
            try checkFinite("targets", targets)
        }
        try checkFinite("inputs", inputs)
    }

    /// One optimizer step on one batch; returns the loss before the update.
    /// inputs, targets: (batch, inputSize); targets nil means targets = inputs.
    @discardableResult
    public func trainStep(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                          batch: Int) throws -> Float {
        try checkTrainingBatch(inputs: inputs, targets: targets, batch: batch)
        let x = inputs.baseAddress!
        let t = targets?.baseAddress ?? x
        let savedRandom = random
        let noise = StepNoise(seed: random.next(), firstExample: 0)
        let parts = replicas.forEachPart(replicas.partCount(batch: batch, splittable: network.canSplitBatch),
                                         batch: batch, primary: network, store: store) { net, gradients, offset, count, part in
            gradients.update(repeating: 0, count: store.count)
            partLosses[part] = net.lossAndGradients(
                inputs: x + offset * inputSize, targets: t + offset * inputSize, batch: count,
                normalization: batch, noise: noise.shifted(by: offset))
        }
        var loss: Float = 0
        for part in 0..<parts { loss += partLosses[part] }
        replicas.sumGradients(parts, into: store)
        guard loss.isFinite else {
            random = savedRandom
            throw AECVError.nonFinite("train_step: the loss is \(loss); the model was left unchanged")
        }
        // The optimizer checks gradients, moments and new parameters in the same pass.
        guard optimizer.prepare(parameters: store.parameters, gradients: store.gradients,
                                newParameters: store.spare) else {
            random = savedRandom
            throw AECVError.nonFinite("train_step: the update produced NaN or Inf (gradients exploded?); the model was left unchanged")
        }
        optimizer.commit()
        store.commit()
        return loss
    }

    /// The model's objective on a batch, without an update and without training-time corruption
    /// (VAE: negative ELBO per example, with a fixed ε so repeated calls agree).
    public func evaluate(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                         batch: Int) throws -> Float {
        try checkTrainingBatch(inputs: inputs, targets: targets, batch: batch)
        let x = inputs.baseAddress!
        let loss = network.loss(inputs: x, targets: targets?.baseAddress ?? x, batch: batch)
        if !loss.isFinite { throw AECVError.nonFinite("evaluate: the loss is \(loss)") }
        return loss
    }

    public func setLearningRate(_ learningRate: Float) throws {
        guard learningRate.isFinite, learningRate > 0, learningRate <= 1e6 else {
            throw AECVError.invalidArgument("learning_rate: must be a finite number in (0, 1e6], got \(learningRate)")
        }
        optimizer.learningRate = learningRate
    }

    // MARK: - Inference

    /// codes: (batch, latentSize). VAE: the mean.
    public func encode(inputs: UnsafeBufferPointer<Float>, batch: Int,
                       into codes: UnsafeMutableBufferPointer<Float>) throws {
        try check("inputs", count: inputs.count, batch: batch, perExample: inputSize, exact: true)
        try check("codes", count: codes.count, batch: batch, perExample: latentSize, exact: false)
        try checkFinite("inputs", inputs)
        let (x, z, l) = (inputs.baseAddress!, codes.baseAddress!, latentSize)
        replicas.forEachPart(replicas.partCount(batch: batch), batch: batch, primary: network, store: store) { net, _, offset, count, _ in
            net.encode(inputs: x + offset * inputSize, batch: count, codes: z + offset * l)
        }
    }

    /// images: (batch, inputSize).
    public func decode(codes: UnsafeBufferPointer<Float>, batch: Int,
                       into images: UnsafeMutableBufferPointer<Float>) throws {
        try check("codes", count: codes.count, batch: batch, perExample: latentSize, exact: true)
        try check("images", count: images.count, batch: batch, perExample: inputSize, exact: false)
        try checkFinite("codes", codes)
        let (z, y, l) = (codes.baseAddress!, images.baseAddress!, latentSize)
        replicas.forEachPart(replicas.partCount(batch: batch), batch: batch, primary: network, store: store) { net, _, offset, count, _ in
            net.decode(codes: z + offset * l, batch: count, images: y + offset * inputSize)
        }
    }

    /// images: (batch, inputSize).
    public func reconstruct(inputs: UnsafeBufferPointer<Float>, batch: Int,
                            into images: UnsafeMutableBufferPointer<Float>) throws {
        try check("inputs", count: inputs.count, batch: batch, perExample: inputSize, exact: true)
        try check("images", count: images.count, batch: batch, perExample: inputSize, exact: false)
        try checkFinite("inputs", inputs)
        let (x, y) = (inputs.baseAddress!, images.baseAddress!)
        replicas.forEachPart(replicas.partCount(batch: batch), batch: batch, primary: network, store: store) { net, _, offset, count, _ in
            net.reconstruct(inputs: x + offset * inputSize, batch: count, images: y + offset * inputSize)
        }
    }

    /// Generative kinds only: decodes `count` codes drawn from N(0, I) with `seed`.
    public func sample(count: Int, seed: UInt64, into images: UnsafeMutableBufferPointer<Float>) throws {
        guard isGenerative else {
            throw AECVError.unsupported("sample: a \(spec.preset.rawValue) model is not generative (use vae or conv_vae)")
        }
        try check("images", count: images.count, batch: count, perExample: inputSize, exact: false)
        var generator = RandomSource(seed: seed)
        _ = network.sample(count: count, random: &generator, images: images.baseAddress!)
    }

    // MARK: - Files

    /// Writes the model file atomically: a failed save leaves an existing file intact.
    public func save(to path: String) throws {
        try ModelFile(model: self).write(path: path)
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
    public func parameters() -> [(name: String, tensor: Tensor)] {
        store.entries.map { e in
            (e.name, Tensor(shape: e.shape,
                            values: Array(UnsafeBufferPointer(start: store.parameters + e.offset, count: e.count))))
        }
    }

    /// Replaces parameters by name; all-or-nothing: any unknown name or shape mismatch throws
    /// `.shape` before anything is written. Names not given keep their values.
    public func setParameters(_ tensors: [(name: String, tensor: Tensor)]) throws {
        var plan: [(ParameterStore.Entry, Tensor)] = []
        for (name, tensor) in tensors {
            guard let entry = store.entry(named: name) else {
                throw AECVError.shape("parameter \"\(name)\": this \(spec.preset.rawValue) model has no such tensor")
            }
            if entry.shape != tensor.shape {
                throw AECVError.shape("parameter \"\(name)\": expected shape \(entry.shape), got \(tensor.shape)")
            }
            if !tensor.values.allSatisfy({ $0.isFinite }) {
                throw AECVError.nonFinite("parameter \"\(name)\": contains NaN or Inf")
            }
            plan.append((entry, tensor))
        }
        for (entry, tensor) in plan {
            tensor.values.withUnsafeBufferPointer {
                (store.parameters + entry.offset).update(from: $0.baseAddress!, count: entry.count)
            }
        }
    }
}
