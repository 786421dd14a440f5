import AECVKernels
import AECVNN

/// The builders the model kinds (ModelKind.swift) share, from a FILLED spec (every default present). Shapes are
/// validated with checked arithmetic as layers are planned, before any parameter memory exists.
package enum NetworkFactory {
    package static func make(_ spec: ModelSpec) throws -> AutoencoderNetwork {
        try spec.kind.build(spec)
    }

    /// The feed-forward kinds' reconstruction term (ReconstructionObjective.swift); images of
    /// the spec's input shape.
    static func reconstructionLoss(_ spec: ModelSpec) -> ReconstructionObjective {
        switch spec.loss ?? .mse {
        case .mse: return ReconstructionObjective(pixelwise: .meanSquaredError, structural: nil)
        case .bce: return ReconstructionObjective(pixelwise: .binaryCrossEntropy, structural: nil)
        case .ssim:
            return ReconstructionObjective(pixelwise: nil, structural: StructuralSimilarityLoss(shape: spec.input))
        case .mseSSIM:
            return ReconstructionObjective(pixelwise: .meanSquaredError,
                                           structural: StructuralSimilarityLoss(shape: spec.input))
        }
    }

    static func sparsityPenalty(_ spec: ModelSpec) -> SparsityPenalty? {
        switch spec.sparsity {
        case .l1(let lambda, let reduction)?: return .l1(lambda: lambda, perUnitMean: reduction == .mean)
        case .kl(let rho, let beta)?: return .kl(rho: rho, beta: beta)
        case nil: return nil
        }
    }

    /// The seed's ConvAutoEncoder, generalized to any [C, H, W] and channel list:
    /// encoder Conv2d(k3, s2, p1)+ReLU per stage; decoder the mirror image with ConvTranspose2d whose
    /// output padding (per axis) makes each stage restore the encoder's shape exactly:
    /// a stride-2 conv maps h → ⌈h/2⌉, and ConvTranspose maps h' → 2h' − 1 + op, so op = h − (2h' − 1).
    ///
    /// Stage options (spec `batch_norm`, `downsample`, `upsample`; the defaults build exactly the
    /// layers above): with batch_norm every convolution but the decoder's last is followed by a
    /// BatchNorm2d (and has no bias, which the BatchNorm would cancel); downsample max_pool makes a
    /// stage Conv2d(k3, s1, p1) [BN] ReLU MaxPool2d(2) (h → ⌊h/2⌋); upsample nearest/bilinear makes
    /// a decoder stage Upsample(×2) Conv2d(k3, s1, p1) [BN] ReLU. Those two halve/double exactly,
    /// so they need every stage's input size even (a 64×64 input with 3 stages: 64 → 32 → 16 → 8).
    static func encoderStages(_ spec: ModelSpec) throws -> (NetworkBuilder, [[Int]]) {
        let channels = spec.hidden ?? ModelKinds.convChannels
        if channels.isEmpty { throw AECVError.config("spec.hidden: needs at least one channel count") }
        let bn = spec.batchNorm ?? false
        let pool = (spec.downsample ?? .stride) == .maxPool
        let exact = pool || (spec.upsample ?? .transposed) != .transposed
        var encoder = NetworkBuilder(inputShape: spec.input, field: "spec.hidden")
        var shapes = [spec.input]
        for (i, c) in channels.enumerated() {
            let (h, w) = (encoder.shape[1], encoder.shape[2])
            if exact && (h % 2 != 0 || w % 2 != 0) {
                let option = pool ? "spec.downsample \"max_pool\"" : "spec.upsample \"\(spec.upsample!.rawValue)\""
                throw AECVError.config("\(option): stage \(i) gets a \(h)×\(w) input; every stage needs even sizes (the input divisible by \(1 << channels.count)), or use the default stride/transposed stages")
            }
            try convStage(&encoder, channels: c, batchNorm: bn, maxPool: pool, at: "spec.hidden[\(i)]",
                          options: ("spec.batch_norm", "spec.downsample"))
            shapes.append(encoder.shape)
        }
        return (encoder, shapes)
    }

    /// One encoder stage that halves H and W: Conv2d(k3, s2, p1) [BN] ReLU, or with `maxPool`
    /// Conv2d(k3, s1, p1) [BN] ReLU MaxPool2d(2); the conv has no bias before a BatchNorm. Shared
    /// by the conv kinds and the detector's backbone, so a detector built on an autoencoder has
    /// its encoder's layers, tensor names included. `options`: the spec fields named in errors.
    package static func convStage(_ builder: inout NetworkBuilder, channels: Int, batchNorm: Bool, maxPool: Bool,
                                  at path: String, options: (batchNorm: String, downsample: String)) throws {
        try builder.conv2d(channels, kernel: 3, stride: maxPool ? 1 : 2, padding: 1, bias: !batchNorm, at: path)
        if batchNorm { try builder.add(.batchNorm2d(), at: options.batchNorm) }
        try builder.activation(.relu)
        if maxPool { try builder.add(.maxPool2d(kernel: 2), at: options.downsample) }
    }

    /// Mirrored stages from the encoder's output shape back to the input shape (see
    /// `encoderStages` for the options). `final` is the output activation (Sigmoid for the presets).
    static func mirroredDecoder(shapes: [[Int]], inputShape: [Int], final: (any ActivationFunction)?,
                                spec: ModelSpec? = nil) throws -> NetworkBuilder {
        let bn = spec?.batchNorm ?? false
        let upsample = spec?.upsample ?? .transposed
        var decoder = NetworkBuilder(inputShape: shapes.last!, field: "spec.hidden")
        for stage in stride(from: shapes.count - 1, to: 0, by: -1) {
            let target = shapes[stage - 1]
            let from = shapes[stage]
            let last = stage == 1
            switch upsample {
            case .transposed:
                let op = (target[1] - (2 * from[1] - 1), target[2] - (2 * from[2] - 1))
                try decoder.convTranspose2d(target[0], kernel: 3, stride: 2, padding: 1,
                                            outputPadding: op, at: "spec.hidden")
            case .nearest, .bilinear:
                try decoder.add(.upsample(scale: 2, bilinear: upsample == .bilinear), at: "spec.upsample")
                try decoder.conv2d(target[0], kernel: 3, stride: 1, padding: 1, bias: last || !bn, at: "spec.hidden")
            }
            if !last {
                if bn { try decoder.add(.batchNorm2d(), at: "spec.batch_norm") }
                try decoder.activation(.relu)
            } else if let final = final {
                try decoder.activation(final)
            }
        }
        return decoder
    }

    static func convolutional(_ spec: ModelSpec, corruption: InputCorruption?) throws -> AutoencoderNetwork {
        let (encoder, shapes) = try encoderStages(spec)
        let decoder = try mirroredDecoder(shapes: shapes, inputShape: spec.input, final: .sigmoid, spec: spec)
        try checkTotal(encoder.parameterCount, decoder.parameterCount)
        return FeedForwardAutoencoder(encoder: encoder.build(), decoder: decoder.build(),
                                      inputShape: spec.input, loss: reconstructionLoss(spec),
                                      penalty: nil, corruption: corruption)
    }

    /// input → hidden… → latent (ReLU; Sigmoid for KL sparsity) → reversed hidden… → input (Sigmoid).
    static func dense(_ spec: ModelSpec, penalty: SparsityPenalty?, corruption: InputCorruption?) throws
        -> AutoencoderNetwork {
        let hidden = spec.hidden ?? [256]
        let latent = spec.latent ?? 64
        var encoder = NetworkBuilder(inputShape: spec.input, field: "spec")
        for (i, h) in hidden.enumerated() {
            try encoder.dense(h, at: "spec.hidden[\(i)]")
            try encoder.activation(.relu)
        }
        try encoder.dense(latent, at: "spec.latent")
        if case .kl? = penalty { try encoder.activation(.sigmoid) } else { try encoder.activation(.relu) }
        var decoder = NetworkBuilder(inputShape: [latent], field: "spec")
        for (i, h) in hidden.enumerated().reversed() {
            try decoder.dense(h, at: "spec.hidden[\(i)]")
            try decoder.activation(.relu)
        }
        try decoder.dense(spec.input.reduce(1, *), at: "spec.input")
        try decoder.activation(.sigmoid)
        try checkTotal(encoder.parameterCount, decoder.parameterCount)
        return FeedForwardAutoencoder(encoder: encoder.build(), decoder: decoder.build(),
                                      inputShape: spec.input, loss: reconstructionLoss(spec),
                                      penalty: penalty, corruption: corruption)
    }

    static func custom(_ spec: ModelSpec) throws -> AutoencoderNetwork {
        // "decoder": [] is the identity: the encoder alone maps the image to its reconstruction
        // (a denoiser such as DnCNN, whose global skip x + f(x) is one residual block).
        guard let encoderSpecs = spec.encoder, let decoderSpecs = spec.decoder, !encoderSpecs.isEmpty else {
            throw AECVError.config("spec: a custom model needs a non-empty \"encoder\" layer list and a \"decoder\" list ([] for none)")
        }
        var encoder = NetworkBuilder(inputShape: spec.input, field: "spec.encoder")
        for (i, layer) in encoderSpecs.enumerated() { try encoder.add(layer, at: "spec.encoder[\(i)]") }
        var decoder = NetworkBuilder(inputShape: encoder.shape, field: "spec.decoder")
        for (i, layer) in decoderSpecs.enumerated() { try decoder.add(layer, at: "spec.decoder[\(i)]") }
        let inputCount = spec.input.reduce(1, *)
        if decoder.size != inputCount || (decoder.shape.count == 3 && decoder.shape != spec.input) {
            let which = decoderSpecs.isEmpty ? "spec.encoder (the decoder is empty)" : "spec.decoder"
            throw AECVError.config("\(which): outputs \(decoder.shape) but the input is \(spec.input); the decoder must reproduce the input shape")
        }
        try checkTotal(encoder.parameterCount, decoder.parameterCount)
        return FeedForwardAutoencoder(encoder: encoder.build(), decoder: decoder.build(),
                                      inputShape: spec.input, loss: reconstructionLoss(spec),
                                      penalty: nil, corruption: nil)
    }

    static func checkTotal(_ counts: Int...) throws {
        var total = 0
        for c in counts {
            let (t, o) = total.addingReportingOverflow(c)
            if o || t > SpecLimits.maxParameters {
                throw AECVError.config("spec: the model would have more than \(SpecLimits.maxParameters) parameters")
            }
            total = t
        }
    }
}
