/// An autoencoder of any kind (dense, sparse, denoising, variational, convolutional, custom),
/// built from a validated `ModelSpec`. This is the public Swift API; the C API is a thin layer
/// over it. All buffers are float32, NCHW, one example after another.
///
/// Not thread-safe: use one instance from one thread at a time (the C API serializes calls on a
/// handle with a lock).
public final class Autoencoder {
    /// The spec with every default filled in.
    public let spec: ModelSpec

    /// [C, H, W] of one example.
    public var inputShape: [Int] { spec.input }
    /// Floats per example, C*H*W.
    public var inputSize: Int { spec.input.reduce(1, *) }
    /// Floats per code.
    public private(set) var latentSize: Int = 0
    /// Number of trainable parameters, as PyTorch counts them.
    public private(set) var parameterCount: Int = 0
    /// True for kinds that can `sample` (vae, conv_vae).
    public var isGenerative: Bool { spec.preset == .vae || spec.preset == .convVAE }

    public init(spec: ModelSpec) throws {
        fatalError("TODO")
    }

    /// Parses and validates a JSON spec (see ModelSpec+JSON.swift), then builds the model.
    public convenience init(specJSON: String) throws {
        try self.init(spec: ModelSpec(json: specJSON))
    }

    /// Loads a model file written by `save(to:)`.
    public convenience init(contentsOf path: String) throws {
        fatalError("TODO")
    }

    /// The filled spec as JSON.
    public var specJSON: String { spec.jsonString() }

    /// One optimizer step on one batch; returns the loss before the update.
    /// inputs, targets: (batch, inputSize); targets nil means targets = inputs.
    /// Throws `.nonFinite` (leaving parameters, optimizer state and random state bit-identical)
    /// when the inputs, the loss or a gradient are not finite.
    @discardableResult
    public func trainStep(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                          batch: Int) throws -> Float {
        fatalError("TODO")
    }

    /// The model's objective on a batch, without an update (VAE: negative ELBO per example).
    public func evaluate(inputs: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>?,
                         batch: Int) throws -> Float {
        fatalError("TODO")
    }

    /// codes: (batch, latentSize). VAE: the mean.
    public func encode(inputs: UnsafeBufferPointer<Float>, batch: Int,
                       into codes: UnsafeMutableBufferPointer<Float>) throws {
        fatalError("TODO")
    }

    /// images: (batch, inputSize).
    public func decode(codes: UnsafeBufferPointer<Float>, batch: Int,
                       into images: UnsafeMutableBufferPointer<Float>) throws {
        fatalError("TODO")
    }

    /// images: (batch, inputSize).
    public func reconstruct(inputs: UnsafeBufferPointer<Float>, batch: Int,
                            into images: UnsafeMutableBufferPointer<Float>) throws {
        fatalError("TODO")
    }

    /// Generative kinds only: decodes `count` codes drawn from N(0, I) with `seed`.
    public func sample(count: Int, seed: UInt64, into images: UnsafeMutableBufferPointer<Float>) throws {
        fatalError("TODO")
    }

    public func setLearningRate(_ learningRate: Float) throws {
        fatalError("TODO")
    }

    /// Writes the model file atomically: a failed save leaves an existing file intact.
    public func save(to path: String) throws {
        fatalError("TODO")
    }
}
