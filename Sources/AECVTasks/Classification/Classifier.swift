import AECVKernels
import AECVNN
import AECVModels

/// An image classifier on top of an autoencoder's encoder (feature extraction and transfer
/// learning):
///
///     x → encoder (copied from the autoencoder) → features → standardize → MLP head → logits
///     L = softmax cross-entropy (mean over the batch)
///
/// With `freezeEncoder` the encoder's weights stay as pretrained (a linear probe, or an MLP on
/// frozen codes); otherwise they are fine-tuned with their own learning rate. Encoder and head
/// share one flat store and one optimizer (`TrainableCore`): the encoder's entries are frozen
/// or given the encoder learning rate through the store's trainable mask.
/// Inputs are (N, C·H·W) like the autoencoder's; labels are int32 in 0..<classes.
public final class Classifier {
    public let spec: ClassifierSpec
    /// The spec of the autoencoder whose encoder this classifier copied.
    public let autoencoderSpec: ModelSpec
    package let features: EncoderFeatures
    package let standardizer: FeatureStandardizer?
    package let head: Sequential
    package let network: ClassifierNetwork
    package let core: TrainableCore
    package var store: ParameterStore { core.store }
    var optimizer: Optimizer { core.optimizer }
    /// Whether the encoder is fine-tuned (its gradients are computed).
    var trainsEncoder: Bool { !spec.freezeEncoder }

    /// Checks memory before a batch larger than any before grows the workspaces.
    private var workspaceProbe = WorkspaceProbe()
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
    public var parameterCount: Int { store.count }

    /// Builds the classifier and copies the autoencoder's encoder weights.
    public convenience init(autoencoder: Autoencoder, spec: ClassifierSpec) throws {
        try self.init(autoencoderSpec: autoencoder.spec, spec: spec)
        let source = Dictionary(uniqueKeysWithValues: autoencoder.store.entries.map { ($0.name, $0) })
        for e in store.entries where !e.name.hasPrefix("head.") {
            guard let s = source[e.name], s.shape == e.shape else {
                throw AECVError.internal("classifier: encoder tensor \(e.name) not found in the autoencoder")
            }
            (store.parameters + e.offset).update(from: autoencoder.store.parameters + s.offset, count: e.count)
        }
    }

    public convenience init(autoencoder: Autoencoder, specJSON: String) throws {
        try self.init(autoencoder: autoencoder, spec: ClassifierSpec(json: specJSON))
    }

    /// The architecture with freshly initialized weights (the head from the spec's seed).
    package init(autoencoderSpec: ModelSpec, spec: ClassifierSpec) throws {
        // Before OpenBLAS's first use by this classifier: its buffers must fit, or it would hang.
        try OpenBLASBuffer.reserveForCall()
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
        network = ClassifierNetwork(features: features, standardizer: standardizer, head: head)
        let encoderRate = spec.encoderLearningRate ?? spec.optimizer.learningRate / 10
        let frozen = spec.freezeEncoder
        core = try TrainableCore(network: network, optimizer: spec.optimizer) { store in
            store.configure(where: { !$0.name.hasPrefix("head.") }, trainable: !frozen,
                            learningRate: frozen ? nil : encoderRate)
        }
        var random = RandomSource(seed: spec.seed)
        head.initialize(random: &random)
        standardizer?.initialize(random: &random)
    }

    // MARK: - Checks

    private func checkInputs(_ inputs: UnsafeBufferPointer<Float>, batch: Int) throws {
        try BatchCheck.inputs("inputs", inputs, batch: batch, perExample: inputSize)
        let perExample = network.features.layers.trainingFloatsPerExample + network.head.trainingFloatsPerExample
            + 4 * (inputSize + featureSize)
        try workspaceProbe.require(batch: batch, floatsPerExample: perExample, what: "inputs")
    }

    /// Features → (standardized) → head; returns the standardized features and the logits
    /// (classes, N), batch-minor.
    private func logits(_ f: UnsafePointer<Float>, batch: Int) -> (standardized: UnsafePointer<Float>, logits: UnsafePointer<Float>) {
        var s = f
        if let standardizer = standardizer {
            let out = standardized.reserve(batch * featureSize)
            standardizer.forward(input: f, output: out, batch: batch)
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
        let loss = try computeGradients(inputs: inputs, labels: labels, batch: batch, what: "train_step")
        try core.applyGradients("train_step", owner: "classifier")
        return loss
    }

    /// `trainStep` without the update: the gradient of the mean cross-entropy over this batch is
    /// left in the flat gradient buffer (`gradientBuffer`), new standardization statistics stay
    /// pending until `applyGradients`. A non-finite loss leaves the classifier unchanged.
    @discardableResult
    public func computeGradients(inputs: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>,
                                 batch: Int) throws -> Float {
        try computeGradients(inputs: inputs, labels: labels, batch: batch, what: "compute_gradients")
    }

    private func computeGradients(inputs: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>,
                                  batch: Int, what: String) throws -> Float {
        core.hasPendingGradients = false
        try checkInputs(inputs, batch: batch)
        if labels.count != batch {
            throw AECVError.shape("labels: batch \(batch) needs \(batch) labels, got \(labels.count)")
        }
        for (i, y) in labels.enumerated() where y < 0 || Int(y) >= classes {
            throw AECVError.invalidArgument("labels[\(i)]: \(y) is outside 0..<\(classes)")
        }
        let x = inputsT.reserve(batch * inputSize)
        transpose(inputs.baseAddress!, rows: batch, columns: inputSize, into: x)
        let loss = lossAndGradients(x, labels: labels.baseAddress!, batch: batch).loss
        guard loss.isFinite else { throw AECVError.nonFinite("\(what): the loss is \(loss); the classifier was left unchanged") }
        core.hasPendingGradients = true
        return loss
    }

    /// Forward, cross-entropy and backward on a batch-minor x: (input, N); fills the head's (and,
    /// when fine-tuning, the encoder's) gradient buffers. Returns the loss and the standardization
    /// standardization statistics this step would commit stay pending in the store's next buffers.
    func lossAndGradients(_ x: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int)
        -> (loss: Float, standardized: Bool) {
        store.beginStep()
        network.setMode(.training)
        let f = features.forward(x, batch: batch)
        let (s, z) = logits(f, batch: batch)
        let p = probabilities.reserve(classes * batch)
        SoftmaxCrossEntropy.softmax(z, classes: classes, batch: batch, into: p)
        let dz = logitGradient.reserve(classes * batch)
        let loss = SoftmaxCrossEntropy.lossAndGradient(probabilities: p, labels: labels,
                                                       classes: classes, batch: batch, gradient: dz)
        store.zeroGradients()
        let ds = trainsEncoder ? standardizedGradient.reserve(batch * featureSize) : nil
        head.backward(input: s, outputGradient: dz, inputGradient: ds, batch: batch)
        if let ds = ds {
            var df = UnsafePointer(ds)
            if let standardizer = standardizer {
                let g = featureGradient.reserve(batch * featureSize)
                standardizer.backward(input: f, output: s, outputGradient: ds, inputGradient: g, batch: batch)
                df = UnsafePointer(g)
            }
            features.backward(input: x, featureGradient: df, batch: batch)
        }
        return (loss, standardizer != nil)
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
        network.setMode(.evaluation)
        let z = logits(features.forward(x, batch: batch), batch: batch).logits
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

/// The classifier's layers as one stored network: the encoder's tensors (named as in the
/// autoencoder), the standardizer's statistics ("standardizer.*", buffers), then the head's
/// ("head.*").
package final class ClassifierNetwork: StoredNetwork {
    let features: EncoderFeatures
    let standardizer: FeatureStandardizer?
    let head: Sequential

    init(features: EncoderFeatures, standardizer: FeatureStandardizer?, head: Sequential) {
        self.features = features; self.standardizer = standardizer; self.head = head
    }

    package var parameterShapes: [(name: String, shape: [Int])] {
        features.parameterShapes + head.parameterShapes.map { ("head.\($0.name)", $0.shape) }
    }

    package var bufferShapes: [(name: String, shape: [Int])] {
        features.bufferShapes
            + (standardizer?.bufferShapes ?? []).map { ("standardizer.\($0.name)", $0.shape) }
            + head.bufferShapes.map { ("head.\($0.name)", $0.shape) }
    }

    package func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        features.bind(parameters: parameters, gradients: gradients)
        let offset = features.parameterCount
        head.bind(parameters: parameters + offset, gradients: gradients + offset)
    }

    package func bind(buffers: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>) {
        features.layers.bind(buffers: buffers, next: next)
        var offset = features.layers.bufferCount
        if let standardizer {
            standardizer.bind(buffers: buffers + offset, next: next + offset)
            offset += standardizer.bufferCount
        }
        head.bind(buffers: buffers + offset, next: next + offset)
    }

    package func setMode(_ mode: LayerMode) {
        features.layers.setMode(mode)
        standardizer?.setMode(mode)
        head.setMode(mode)
    }
}
