import AECVKernels
import AECVNN

/// Labeled training and per-class sampling of the conditional kind (`cvae`, K = spec.classes):
/// the encoder sees [x; one-hot(y)], the decoder [z; one-hot(y)] (VariationalAutoencoder).
extension Autoencoder {
    /// K for a cvae model; nil for the other kinds.
    public var classCount: Int? { spec.classes }

    /// The conditional kind's network, or an `.unsupported` error naming the call.
    private func conditionalNetwork(_ what: String) throws -> VariationalAutoencoder {
        guard spec.classes != nil, let network = network as? VariationalAutoencoder else {
            throw AECVError.unsupported("\(what): a \(spec.preset.rawValue) model is not conditional (use the cvae preset, or conv_vae, with \"classes\": K)")
        }
        return network
    }

    /// labels: exactly `batch` class indices in 0..<K; names the first one out of range.
    private func checkLabels(_ labels: UnsafeBufferPointer<Int32>, batch: Int, classes: Int, what: String) throws {
        if labels.count != batch {
            throw AECVError.invalidArgument("\(what): labels holds \(labels.count) values, expected one per example (\(batch))")
        }
        if let i = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            throw AECVError.invalidArgument("\(what): labels[\(i)] = \(labels[i]) is out of range 0..<\(classes)")
        }
    }

    /// One optimizer step on a labeled batch (cvae); returns the loss (negative ELBO per example)
    /// before the update. Transactional like `trainStep`: any failure leaves the model unchanged.
    /// inputs: (batch, inputSize); labels: batch class indices in 0..<K.
    @discardableResult
    public func trainStep(inputs: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, batch: Int) throws -> Float {
        let what = "train_step_labeled"
        _ = try conditionalNetwork(what)
        try checkLabels(labels, batch: batch, classes: spec.classes!, what: what)
        // nil labels mean "unlabeled" to computeGradients; an empty buffer (batch 0) has no base
        // address, so it gets a non-nil placeholder that is never read (batch 0 is refused there).
        let labelPointer = labels.baseAddress ?? UnsafePointer(bitPattern: 1)
        return try transactionalStep(what) {
            try computeGradients(inputs: inputs, targets: nil, batch: batch, what: what, labels: labelPointer)
        }
    }

    /// The labeled objective without an update (fixed ε, as `evaluate`).
    public func evaluate(inputs: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, batch: Int) throws -> Float {
        let net = try conditionalNetwork("evaluate_labeled")
        try checkLabels(labels, batch: batch, classes: spec.classes!, what: "evaluate_labeled")
        try BatchCheck.examples("inputs", count: inputs.count, batch: batch, perExample: inputSize, exact: true)
        try BatchCheck.finite("inputs", inputs)
        net.setMode(.evaluation)
        let x = inputs.baseAddress!
        let loss = net.loss(inputs: x, labels: labels.baseAddress!, targets: x, batch: batch)
        if !loss.isFinite { throw AECVError.nonFinite("evaluate_labeled: the loss is \(loss)") }
        return loss
    }

    /// Decodes `count` draws z ~ N(0, I) (from `seed`) conditioned on class `classIndex` into
    /// images: (count, inputSize), values in [0, 1].
    public func sample(classIndex: Int, count: Int, seed: UInt64, into images: UnsafeMutableBufferPointer<Float>) throws {
        let net = try conditionalNetwork("sample_class")
        let k = spec.classes!
        guard (0..<k).contains(classIndex) else {
            throw AECVError.invalidArgument("sample_class: class \(classIndex) is out of range 0..<\(k)")
        }
        if count < 1 { throw AECVError.invalidArgument("sample_class: count must be at least 1, got \(count)") }
        try BatchCheck.examples("images", count: images.count, batch: count, perExample: inputSize, exact: false)
        var generator = RandomSource(seed: seed)
        net.setMode(.evaluation)
        _ = net.sample(count: count, classIndex: classIndex, random: &generator, images: images.baseAddress!)
    }

    // MARK: arrays

    /// `trainStep(inputs:labels:batch:)` on flat arrays of whole examples.
    @discardableResult
    public func trainStep(inputs: [Float], labels: [Int32]) throws -> Float {
        let batch = try exampleCount(inputs, perExample: inputSize, name: "inputs")
        return try inputs.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { try trainStep(inputs: x, labels: $0, batch: batch) }
        }
    }

    public func evaluate(inputs: [Float], labels: [Int32]) throws -> Float {
        let batch = try exampleCount(inputs, perExample: inputSize, name: "inputs")
        return try inputs.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { try evaluate(inputs: x, labels: $0, batch: batch) }
        }
    }

    public func sample(classIndex: Int, count: Int, seed: UInt64) throws -> [Float] {
        if count < 1 { throw AECVError.invalidArgument("sample_class: count must be at least 1, got \(count)") }
        var images = [Float](repeating: 0, count: count * inputSize)
        try images.withUnsafeMutableBufferPointer { try sample(classIndex: classIndex, count: count, seed: seed, into: $0) }
        return images
    }
}
