import AECVNN

/// One autoencoder kind (a spec's `"preset"`), declared in one place: the optional fields it
/// accepts, their defaults (written once, here), how its network is built, and what it can do.
/// `ModelKinds.all` lists them; the spec validator, `filled()`, `NetworkFactory` and every
/// downstream task (classifier, detector, C API) ask the kind instead of testing the preset.
package protocol ModelKind: Sendable {
    var preset: ModelSpec.Preset { get }
    /// Whether the kind takes an optional spec field ("latent", "hidden", "sparsity", "noise",
    /// "base", "beta", "encoder", "decoder") in this spec.
    func accepts(_ field: String, in spec: ModelSpec) -> Bool
    /// The message for a refused field when a generic "only applies to …" would not say why.
    func refusal(_ field: String, in spec: ModelSpec) -> String?
    /// Checks that need the kind (required fields); runs after the field checks.
    func validate(_ spec: ModelSpec) throws
    /// Fills in the kind's defaults (the spec has been validated).
    func fill(_ spec: inout ModelSpec)
    /// The network of a FILLED spec, validated with checked arithmetic before any allocation.
    func build(_ spec: ModelSpec) throws -> AutoencoderNetwork
    /// What a model of this kind (and filled spec) can do.
    func capabilities(_ spec: ModelSpec) -> ModelCapabilities
    /// Whether `"loss"` may be ssim or mse_ssim: image losses of a deterministic reconstruction
    /// (the VAEs' losses are likelihoods of their decoder distribution).
    var acceptsStructuralLoss: Bool { get }
}

extension ModelKind {
    package func refusal(_ field: String, in spec: ModelSpec) -> String? { nil }
    package var acceptsStructuralLoss: Bool { true }
    package func validate(_ spec: ModelSpec) throws {}
}

/// What a model can do, for the tasks built on it.
public struct ModelCapabilities: Equatable, Sendable {
    /// Which of its outputs serve as features for a classifier.
    public enum Features: Equatable, Sendable {
        /// The encoder's output (or of its first k layers).
        case encoderOutput
        /// μ of the approximate posterior (the VAE kinds); no truncation.
        case posteriorMean
    }

    /// `sample` decodes draws from N(0, I).
    public var isGenerative: Bool
    public var features: Features
    /// Channels of the encoder's conv stages (`NetworkFactory.convStage`: a conv, BatchNorm with
    /// `batch_norm`, ReLU, a max pool with `downsample` "max_pool") when the encoder is exactly
    /// such a chain, which a detector can take as its backbone; nil otherwise.
    public var convBackbone: [Int]?
}

/// The registry of model kinds.
package enum ModelKinds {
    package static let all: [any ModelKind] = [
        ConvKind(), DenseKind(), SparseKind(), DenoisingKind(),
        VariationalKind(preset: .vae, defaultHidden: [400], convolutional: false),
        VariationalKind(preset: .convVAE, defaultHidden: ModelKinds.convChannels, convolutional: true),
        ConditionalKind(),
        CustomKind(),
    ]

    package static func kind(_ preset: ModelSpec.Preset) -> any ModelKind {
        all.first { $0.preset == preset }!
    }

    /// "the vae and conv_vae presets", "the sparse preset": the kinds that take `field` in any spec.
    package static func describeAccepting(_ field: String, base: ModelSpec) -> String {
        let names = all.filter { kind in
            var probe = base
            probe.preset = kind.preset
            return kind.accepts(field, in: probe)
        }.map(\.preset.rawValue)
        if names.count == 1 { return "the \(names[0]) preset" }
        return "the \(names.dropLast().joined(separator: ", ")) and \(names.last!) presets"
    }

    /// The options of the conv stages (conv, denoising with base conv, conv_vae).
    package static let stageOptions = ["batch_norm", "downsample", "upsample"]

    /// The channels of the conv stages: `hidden`, default [16, 32, 64].
    package static let convChannels = [16, 32, 64]

    /// Inputs at least this large on both sides get `"batch_norm": true` by default (conv and
    /// denoising with base conv). Measured by tools/stage_options_bench.py on 64×64 crops of
    /// photographs (README, "Stage options"): BatchNorm after each conv reconstructed unseen
    /// photos at 26.5 dB against 25.0 without, for 7% more time per step, while the bilinear and
    /// nearest decoders and max-pool stages were both worse and 4–6× slower per step at equal
    /// steps. Smaller inputs keep the seed's architecture, bit for bit.
    /// conv_vae does not take this default: measured the same way (`--preset conv_vae`, 2,000
    /// steps), BatchNorm reconstructed at 19.75 dB against 20.04 dB without, with a worse ELBO.
    package static let batchNormFromSize = 64

    /// True when `input` ([C, H, W]) is large enough for the size-dependent stage defaults.
    package static func isLarge(_ input: [Int]) -> Bool {
        input.count == 3 && min(input[1], input[2]) >= batchNormFromSize
    }
}

extension ModelSpec {
    /// The descriptor of this spec's preset.
    package var kind: any ModelKind { ModelKinds.kind(preset) }
}

// MARK: - The kinds

/// The seed's ConvAutoEncoder: stride-2 conv stages (`hidden` channels) and a mirrored decoder.
package struct ConvKind: ModelKind {
    package let preset = ModelSpec.Preset.conv
    package func accepts(_ field: String, in spec: ModelSpec) -> Bool { field == "hidden" || ModelKinds.stageOptions.contains(field) }
    package func refusal(_ field: String, in spec: ModelSpec) -> String? {
        field == "latent" ? "spec.latent: does not apply to the conv preset (its code is the output of the last convolution; set the channels with \"hidden\")" : nil
    }
    package func fill(_ spec: inout ModelSpec) {
        spec.hidden = spec.hidden ?? ModelKinds.convChannels
        if spec.batchNorm == nil && ModelKinds.isLarge(spec.input) { spec.batchNorm = true }
    }
    package func build(_ spec: ModelSpec) throws -> AutoencoderNetwork { try NetworkFactory.convolutional(spec, corruption: nil) }
    package func capabilities(_ spec: ModelSpec) -> ModelCapabilities {
        // A detector rebuilds the same stages (batch_norm and downsample come from the spec).
        ModelCapabilities(isGenerative: false, features: .encoderOutput,
                          convBackbone: spec.hidden ?? ModelKinds.convChannels)
    }
}

/// input → hidden… → latent → hidden… → input, dense layers.
package struct DenseKind: ModelKind {
    package let preset = ModelSpec.Preset.dense
    package func accepts(_ field: String, in spec: ModelSpec) -> Bool { field == "hidden" || field == "latent" }
    package func fill(_ spec: inout ModelSpec) {
        spec.hidden = spec.hidden ?? [256]
        spec.latent = spec.latent ?? 64
    }
    package func build(_ spec: ModelSpec) throws -> AutoencoderNetwork { try NetworkFactory.dense(spec, penalty: nil, corruption: nil) }
    package func capabilities(_ spec: ModelSpec) -> ModelCapabilities {
        ModelCapabilities(isGenerative: false, features: .encoderOutput, convBackbone: nil)
    }
}

/// The dense kind with an activity penalty on the code (L1, or KL to a target rate).
package struct SparseKind: ModelKind {
    package let preset = ModelSpec.Preset.sparse
    package func accepts(_ field: String, in spec: ModelSpec) -> Bool { ["hidden", "latent", "sparsity"].contains(field) }
    package func fill(_ spec: inout ModelSpec) {
        DenseKind().fill(&spec)
        spec.sparsity = spec.sparsity ?? .l1(lambda: 1e-3, reduction: .mean)
    }
    package func build(_ spec: ModelSpec) throws -> AutoencoderNetwork {
        try NetworkFactory.dense(spec, penalty: NetworkFactory.sparsityPenalty(spec), corruption: nil)
    }
    package func capabilities(_ spec: ModelSpec) -> ModelCapabilities {
        ModelCapabilities(isGenerative: false, features: .encoderOutput, convBackbone: nil)
    }
}

/// A conv (or dense, `"base"`) autoencoder trained on corrupted inputs.
package struct DenoisingKind: ModelKind {
    package let preset = ModelSpec.Preset.denoising
    private func isDense(_ spec: ModelSpec) -> Bool { (spec.base ?? .conv) == .dense }
    package func accepts(_ field: String, in spec: ModelSpec) -> Bool {
        ["hidden", "noise", "base"].contains(field) || (field == "latent" && isDense(spec))
            || (ModelKinds.stageOptions.contains(field) && !isDense(spec))
    }
    package func refusal(_ field: String, in spec: ModelSpec) -> String? {
        field == "latent" ? "spec.latent: does not apply to denoising with base conv (its code is the output of the last convolution; set the channels with \"hidden\")" : nil
    }
    package func fill(_ spec: inout ModelSpec) {
        spec.base = spec.base ?? .conv
        spec.noise = spec.noise ?? .gaussian(sigma: 0.3)
        if isDense(spec) { DenseKind().fill(&spec) } else { ConvKind().fill(&spec) }
    }
    package func build(_ spec: ModelSpec) throws -> AutoencoderNetwork {
        let corruption = spec.noise.map { InputCorruption(noise: $0, shape: spec.input) }
        return isDense(spec)
            ? try NetworkFactory.dense(spec, penalty: nil, corruption: corruption)
            : try NetworkFactory.convolutional(spec, corruption: corruption)
    }
    package func capabilities(_ spec: ModelSpec) -> ModelCapabilities {
        isDense(spec) ? DenseKind().capabilities(spec) : ConvKind().capabilities(spec)
    }
}

/// The variational kinds: `vae` (dense trunk, hidden [400]) and `conv_vae` (the conv stages,
/// hidden [16, 32, 64]), both with μ / log σ² heads and a Bernoulli decoder by default.
/// conv_vae with `"classes": K` is conditional, the class broadcast as K input channels.
package struct VariationalKind: ModelKind {
    package let preset: ModelSpec.Preset
    package let defaultHidden: [Int]
    /// Conv trunk and mirrored ConvTranspose decoder (conv_vae) or dense layers (vae).
    package let convolutional: Bool
    /// The code size when the spec gives none.
    package static let defaultLatent = 20
    package func accepts(_ field: String, in spec: ModelSpec) -> Bool {
        ["hidden", "latent", "beta"].contains(field)
            || (convolutional && (ModelKinds.stageOptions.contains(field) || field == "classes"))
    }
    package func fill(_ spec: inout ModelSpec) {
        spec.hidden = spec.hidden ?? defaultHidden
        spec.latent = spec.latent ?? Self.defaultLatent
        spec.beta = spec.beta ?? 1
        spec.loss = spec.loss ?? .bce
    }
    package func build(_ spec: ModelSpec) throws -> AutoencoderNetwork {
        try VariationalAutoencoder.make(spec, convolutional: convolutional)
    }
    package var acceptsStructuralLoss: Bool { false }
    package func capabilities(_ spec: ModelSpec) -> ModelCapabilities {
        ModelCapabilities(isGenerative: true, features: .posteriorMean, convBackbone: nil)
    }
}

/// The conditional VAE (dense): the vae with the class one-hot appended to the encoder's input
/// and to the code (ConditionalVAE.swift); "classes" K is required.
package struct ConditionalKind: ModelKind {
    package let preset = ModelSpec.Preset.cvae
    private let base = VariationalKind(preset: .vae, defaultHidden: [400], convolutional: false)
    package func accepts(_ field: String, in spec: ModelSpec) -> Bool { ["hidden", "latent", "beta", "classes"].contains(field) }
    package func validate(_ spec: ModelSpec) throws {
        if spec.classes == nil { throw config("spec.classes: required by the cvae preset (the number of classes K, or \"conditional\": {\"classes\": K})") }
    }
    package func fill(_ spec: inout ModelSpec) { base.fill(&spec) }
    package func build(_ spec: ModelSpec) throws -> AutoencoderNetwork { try VariationalAutoencoder.make(spec, convolutional: false) }
    package var acceptsStructuralLoss: Bool { false }
    package func capabilities(_ spec: ModelSpec) -> ModelCapabilities {
        ModelCapabilities(isGenerative: true, features: .posteriorMean, convBackbone: nil)
    }
}

/// Explicit `encoder` / `decoder` layer lists (any registered layer types).
package struct CustomKind: ModelKind {
    package let preset = ModelSpec.Preset.custom
    package func accepts(_ field: String, in spec: ModelSpec) -> Bool { field == "encoder" || field == "decoder" }
    package func refusal(_ field: String, in spec: ModelSpec) -> String? {
        switch field {
        case "latent": return "spec.latent: does not apply to the custom preset (the code is the encoder's output)"
        case "hidden": return "spec.hidden: does not apply to the custom preset (give \"encoder\" and \"decoder\")"
        default: return nil
        }
    }
    package func validate(_ spec: ModelSpec) throws {
        if spec.encoder == nil { throw config("spec.encoder: required by the custom preset") }
        if spec.decoder == nil { throw config("spec.decoder: required by the custom preset") }
    }
    package func fill(_ spec: inout ModelSpec) {}
    package func build(_ spec: ModelSpec) throws -> AutoencoderNetwork { try NetworkFactory.custom(spec) }
    package func capabilities(_ spec: ModelSpec) -> ModelCapabilities {
        ModelCapabilities(isGenerative: false, features: .encoderOutput, convBackbone: nil)
    }
}
