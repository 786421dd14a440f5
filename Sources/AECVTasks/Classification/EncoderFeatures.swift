import AECVKernels
import AECVNN
import AECVModels

/// The encoder of an autoencoder, rebuilt from its spec and used as a feature extractor with its
/// own copy of the weights (so the autoencoder itself stays usable and unchanged).
///
/// For the deterministic kinds the features are the output of the encoder (or of its first
/// `featureLayers` layers); for the VAE kinds they are μ, the first rows of the heads' output.
/// x: batch-minor (input, N); features: batch-minor (F, N).
package final class EncoderFeatures {
    package let layers: Sequential
    /// VAE kinds: the [μ; log σ²] heads, and the latent size.
    package let heads: Dense?
    package let latent: Int
    /// (name, shape) of the parameters, named as in the autoencoder.
    let parameterShapes: [(name: String, shape: [Int])]
    let bufferShapes: [(name: String, shape: [Int])]
    private let headOutput = Workspace()
    private let headGradient = Workspace()
    private let trunkGradient = Workspace()

    init(autoencoderSpec spec: ModelSpec, featureLayers: Int?) throws {
        // A cvae's encoder reads [x; one-hot(y)]: its features would need the label to predict.
        if spec.classes != nil {
            throw AECVError.unsupported("classifier: a conditional \(spec.preset.rawValue) model's encoder needs the class as input, so it cannot serve as features (use an unconditional vae or conv_vae)")
        }
        let network = try NetworkFactory.make(spec)
        let encoder = network.encoderLayers
        switch spec.kind.capabilities(spec).features {
        case .encoderOutput:
            var kept = encoder.layers
            if let k = featureLayers {
                guard k <= kept.count else {
                    throw AECVError.config("classifier.feature: the encoder has \(kept.count) layers, asked for \(k)")
                }
                kept = Array(kept.prefix(k))
            }
            layers = Sequential(layers: kept, inputShape: spec.input)
            heads = nil
            latent = layers.outputSize
        case .posteriorMean:
            if featureLayers != nil {
                throw AECVError.config("classifier.feature: a \(spec.preset.rawValue) model offers only its code μ (\"code\")")
            }
            layers = encoder
            heads = network.posteriorHeads
            latent = network.latentSize
        }
        // The autoencoder lays out its encoder's tensors first (then, for the VAE kinds, the four
        // head tensors), so the features' tensors are a prefix of its list, with its names.
        let tensors = layers.parameterShapes.count + (heads?.parameterShapes.count ?? 0)
        parameterShapes = Array(network.parameterShapes.prefix(tensors))
        bufferShapes = Array(network.bufferShapes.prefix(layers.bufferShapes.count))
    }

    var featureSize: Int { latent }
    var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    func bind(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        layers.bind(parameters: parameters, gradients: gradients)
        if let heads = heads {
            let offset = layers.parameterCount
            heads.bind(parameters: parameters + offset, gradients: gradients + offset)
        }
    }

    func forward(_ x: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float> {
        let h = layers.forward(x, batch: batch)
        guard let heads = heads else { return h }
        let out = headOutput.reserve(batch * 2 * latent)
        heads.forward(input: h, output: out, batch: batch)
        return UnsafePointer(out)   // μ is the first latent × N block
    }

    /// Accumulates parameter gradients for ∂L/∂features (batch-minor (F, N)).
    func backward(input x: UnsafePointer<Float>, featureGradient: UnsafePointer<Float>, batch: Int) {
        guard let heads = heads else {
            layers.backward(input: x, outputGradient: featureGradient, inputGradient: nil, batch: batch)
            return
        }
        let count = latent * batch
        let dHeads = headGradient.reserve(2 * count)
        dHeads.update(from: featureGradient, count: count)
        (dHeads + count).update(repeating: 0, count: count)   // log σ² does not feed the features
        let dTrunk = trunkGradient.reserve(batch * heads.inputFeatures)
        heads.backward(input: layers.output, output: UnsafePointer(headOutput.pointer), outputGradient: dHeads,
                       inputGradient: dTrunk, batch: batch)
        layers.backward(input: x, outputGradient: dTrunk, inputGradient: nil, batch: batch)
    }
}
