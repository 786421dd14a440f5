/// An image classifier on top of an autoencoder's encoder (feature extraction and transfer
/// learning):
///
///     x → encoder (copied from the autoencoder) → features → standardize → MLP head → logits
///     L = softmax cross-entropy (mean over the batch)
///
/// With `freezeEncoder` the encoder's weights stay as pretrained (a linear probe, or an MLP on
/// frozen codes); otherwise they are fine-tuned with their own learning rate. The encoder and the
/// head each have a flat parameter store and an optimizer; a step commits both or neither.
/// Inputs are (N, C·H·W) like the autoencoder's; labels are int32 in 0..<classes.
public final class Classifier {
    public let spec: ClassifierSpec
    /// The spec of the autoencoder whose encoder this classifier copied.
    public let autoencoderSpec: ModelSpec
    let features: EncoderFeatures
    let standardizer: FeatureStandardizer?
    let head: Sequential
    let encoderStore: ParameterStore
    let headStore: ParameterStore
    let encoderOptimizer: Optimizer?
    let headOptimizer: Optimizer

    private let inputsT = Workspace()
    private let standardized = Workspace()
    private let probabilities = Workspace()
    private let logitGradient = Workspace()
    private let featureGradient = Workspace()
    private let standardizedGradient = Workspace()

    public var classes: Int { spec.classes }
    public var inputShape: [Int] { autoencoderSpec.input }
    public var inputSize: Int { autoencoderSpec.input.reduce(1, *) }
    public var featureSize: Int { features.featureSize }
    public var parameterCount: Int { encoderStore.count + headStore.count }

    /// Builds the classifier and copies the autoencoder's encoder weights.
    public convenience init(autoencoder: Autoencoder, spec: ClassifierSpec) throws {
        try self.init(autoencoderSpec: autoencoder.spec, spec: spec)
        let source = Dictionary(uniqueKeysWithValues: autoencoder.store.entries.map { ($0.name, $0) })
        for e in encoderStore.entries {
            guard let s = source[e.name], s.shape == e.shape else {
                throw AECVError.internal("classifier: encoder tensor \(e.name) not found in the autoencoder")
            }
            (encoderStore.parameters + e.offset).update(from: autoencoder.store.parameters + s.offset, count: e.count)
        }
    }

    public convenience init(autoencoder: Autoencoder, specJSON: String) throws {
        try self.init(autoencoder: autoencoder, spec: ClassifierSpec(json: specJSON))
    }

    /// The architecture with freshly initialized weights (the head from the spec's seed).
    init(autoencoderSpec: ModelSpec, spec: ClassifierSpec) throws {
        try spec.validate()
        self.spec = spec
        self.autoencoderSpec = autoencoderSpec
        features = try EncoderFeatures(autoencoderSpec: autoencoderSpec, featureLayers: spec.featureLayers)
        standardizer = spec.standardize ? FeatureStandardizer(features: features.featureSize) : nil
        var builder = NetworkBuilder(inputShape: [features.featureSize], field: "classifier")
        for (i, h) in spec.hidden.enumerated() {
            try builder.dense(h, at: "classifier.hidden[\(i)]")
            try builder.activation(.relu)
        }
        try builder.dense(spec.classes, at: "classifier.classes")
        head = builder.build()
        let features = self.features, head = self.head
        encoderStore = ParameterStore(named: features.parameterShapes) { features.bind(parameters: $0, gradients: $1) }
        headStore = ParameterStore(named: head.parameterShapes.map { ("head.\($0.name)", $0.shape) }) {
            head.bind(parameters: $0, gradients: $1)
        }
        func optimizer(count: Int, learningRate: Float) -> Optimizer {
            let o = spec.optimizer
            switch o.name {
            case .adam:
                return Adam(count: count, learningRate: learningRate, beta1: o.beta1, beta2: o.beta2,
                            epsilon: o.epsilon, weightDecay: o.weightDecay)
            case .sgd:
                return SGD(count: count, learningRate: learningRate, momentum: o.momentum, weightDecay: o.weightDecay)
            }
        }
        headOptimizer = optimizer(count: headStore.count, learningRate: spec.optimizer.learningRate)
        encoderOptimizer = spec.freezeEncoder ? nil
            : optimizer(count: encoderStore.count,
                        learningRate: spec.encoderLearningRate ?? spec.optimizer.learningRate / 10)
        var random = RandomSource(seed: spec.seed)
        head.initialize(random: &random)
    }

    // MARK: - Checks

    private func checkInputs(_ inputs: UnsafeBufferPointer<Float>, batch: Int) throws {
        if batch < 1 { throw AECVError.invalidArgument("batch: must be at least 1, got \(batch)") }
        let (needed, overflow) = batch.multipliedReportingOverflow(by: inputSize)
        if overflow || needed > Int(Int32.max) * 4 {
            throw AECVError.noMemory("inputs: batch \(batch) × \(inputSize) floats is too large")
        }
        if inputs.count != needed {
            throw AECVError.shape("inputs: batch \(batch) needs \(needed) floats, got \(inputs.count)")
        }
        if !allFinite(inputs.baseAddress!, count: needed) {
            throw AECVError.nonFinite("inputs: contains NaN or Inf")
        }
    }

    /// Features → (standardized) → head; returns the standardized features and the logits
    /// (classes, N), batch-minor.
    private func logits(_ f: UnsafePointer<Float>, batch: Int,
                        statistics: FeatureStandardizer.Statistics?) -> (standardized: UnsafePointer<Float>, logits: UnsafePointer<Float>) {
        var s = f
        if let standardizer = standardizer {
            let out = standardized.reserve(batch * featureSize)
            standardizer.forward(f, out, batch: batch, statistics: statistics)
            s = UnsafePointer(out)
        }
        return (s, head.forward(s, batch: batch))
    }

    // MARK: - Training and prediction

    /// One optimizer step on a labelled batch; returns the mean cross-entropy before the update.
    /// A label outside 0..<classes is INVALID_ARGUMENT; non-finite values leave the classifier
    /// bit-identical (NONFINITE).
    @discardableResult
    public func trainStep(inputs: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>,
                          batch: Int) throws -> Float {
        try checkInputs(inputs, batch: batch)
        if labels.count != batch {
            throw AECVError.shape("labels: batch \(batch) needs \(batch) labels, got \(labels.count)")
        }
        for (i, y) in labels.enumerated() where y < 0 || Int(y) >= classes {
            throw AECVError.invalidArgument("labels[\(i)]: \(y) is outside 0..<\(classes)")
        }
        let x = inputsT.reserve(batch * inputSize)
        transpose(inputs.baseAddress!, rows: batch, columns: inputSize, into: x)
        let (loss, statistics) = lossAndGradients(x, labels: labels.baseAddress!, batch: batch)
        guard loss.isFinite else { throw AECVError.nonFinite("train_step: the loss is \(loss); the classifier was left unchanged") }
        guard headOptimizer.prepare(parameters: headStore.parameters, gradients: headStore.gradients,
                                    newParameters: headStore.spare) else {
            throw AECVError.nonFinite("train_step: the head's update produced NaN or Inf; the classifier was left unchanged")
        }
        if let encoderOptimizer = encoderOptimizer {
            guard encoderOptimizer.prepare(parameters: encoderStore.parameters, gradients: encoderStore.gradients,
                                           newParameters: encoderStore.spare) else {
                throw AECVError.nonFinite("train_step: the encoder's update produced NaN or Inf; the classifier was left unchanged")
            }
            encoderOptimizer.commit()
            encoderStore.commit()
        }
        headOptimizer.commit()
        headStore.commit()
        if let statistics = statistics { standardizer!.commit(statistics) }
        return loss
    }

    /// Forward, cross-entropy and backward on a batch-minor x: (input, N); fills the head's (and,
    /// when fine-tuning, the encoder's) gradient buffers. Returns the loss and the standardization
    /// statistics this step would commit.
    func lossAndGradients(_ x: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int)
        -> (loss: Float, statistics: FeatureStandardizer.Statistics?) {
        let f = features.forward(x, batch: batch)
        let statistics = standardizer?.proposedUpdate(f, batch: batch)
        let (s, z) = logits(f, batch: batch, statistics: statistics)
        let p = probabilities.reserve(classes * batch)
        SoftmaxCrossEntropy.softmax(z, classes: classes, batch: batch, into: p)
        let dz = logitGradient.reserve(classes * batch)
        let loss = SoftmaxCrossEntropy.lossAndGradient(probabilities: p, labels: labels,
                                                       classes: classes, batch: batch, gradient: dz)
        headStore.zeroGradients()
        let ds = encoderOptimizer != nil ? standardizedGradient.reserve(batch * featureSize) : nil
        head.backward(input: s, outputGradient: dz, inputGradient: ds, batch: batch)
        if let ds = ds {
            encoderStore.zeroGradients()
            var df = UnsafePointer(ds)
            if let standardizer = standardizer {
                let g = featureGradient.reserve(batch * featureSize)
                standardizer.backward(ds, g, batch: batch, statistics: statistics)
                df = UnsafePointer(g)
            }
            features.backward(input: x, featureGradient: df, batch: batch)
        }
        return (loss, statistics)
    }

    /// Class probabilities, (batch, classes).
    public func predict(inputs: UnsafeBufferPointer<Float>, batch: Int,
                        into output: UnsafeMutableBufferPointer<Float>) throws {
        try checkInputs(inputs, batch: batch)
        let needed = batch * classes
        if output.count < needed {
            throw AECVError.shape("probabilities: batch \(batch) needs \(needed) floats, capacity \(output.count)")
        }
        let x = inputsT.reserve(batch * inputSize)
        transpose(inputs.baseAddress!, rows: batch, columns: inputSize, into: x)
        let z = logits(features.forward(x, batch: batch), batch: batch, statistics: nil).logits
        let p = probabilities.reserve(needed)
        SoftmaxCrossEntropy.softmax(z, classes: classes, batch: batch, into: p)
        transpose(p, rows: classes, columns: batch, into: output.baseAddress!)
    }
}

extension Classifier {
    @discardableResult
    public func trainStep(inputs: [Float], labels: [Int32]) throws -> Float {
        try inputs.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { try trainStep(inputs: x, labels: $0, batch: labels.count) }
        }
    }

    /// Class probabilities (N, classes) of whole examples.
    public func predict(_ inputs: [Float]) throws -> [Float] {
        try mapExamples(inputs, perExample: inputSize, name: "inputs", outputPerExample: classes) {
            try predict(inputs: $0, batch: $1, into: $2)
        }
    }

    /// The most probable class of each example.
    public func predictClasses(_ inputs: [Float]) throws -> [Int32] {
        let p = try predict(inputs)
        return (0..<(p.count / classes)).map { n in
            var best = 0
            for c in 1..<classes where p[n * classes + c] > p[n * classes + best] { best = c }
            return Int32(best)
        }
    }
}
