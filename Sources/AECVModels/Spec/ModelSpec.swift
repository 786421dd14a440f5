import AECVNN

/// The typed, validated description of a model. It is what `Autoencoder(spec:)` builds from, what a
/// model file stores (as JSON, see `ModelSpec+JSON.swift`) and what `aecv_model_spec` returns.
///
/// Every optional field is `nil` when the user did not give it; `filled()` returns the spec with the
/// preset's defaults filled in, which is the form stored in model files and reported back.
public struct ModelSpec: Equatable, Sendable {
    /// The architecture family.
    public enum Preset: String, Equatable, Sendable, CaseIterable {
        case conv, dense, sparse, denoising, vae
        case convVAE = "conv_vae"
        /// Conditional VAE (dense): encoder and decoder see the class as a one-hot.
        case cvae
        /// Explicit `encoder` / `decoder` layer lists.
        case custom
    }

    /// The reconstruction loss (Losses/ReconstructionObjective.swift). `ssim` and `mse_ssim`
    /// apply to the feed-forward kinds (conv, dense, sparse, denoising, custom), not the VAEs.
    public enum Loss: String, Equatable, Sendable, CaseIterable {
        case mse, bce
        /// 1 − SSIM (mean over examples, channels and pixels of the SSIM map).
        case ssim
        /// DRAEM's reconstructive loss: MSE + (1 − SSIM), weight 1 each.
        case mseSSIM = "mse_ssim"
    }

    public var preset: Preset
    /// Per-example input shape [C, H, W]; required.
    public var input: [Int]
    /// Seed of the model's random source (initialization, noise, reparameterization).
    public var seed: UInt64?
    /// Code size: dense/sparse default 64, vae/conv_vae default 20. Not settable for conv.
    public var latent: Int?
    /// dense/sparse/vae: hidden widths (default [256], vae [400]);
    /// conv/denoising(conv)/conv_vae: channels of the stride-2 stages (default [16, 32, 64]); JSON
    /// `"hidden"` or its synonym for these kinds, `"channels"`.
    public var hidden: [Int]?
    /// Reconstruction loss; default mse (vae: bce, i.e. a Bernoulli decoder). ssim and mse_ssim:
    /// not the VAE kinds.
    public var loss: Loss?
    public var optimizer: OptimizerSpec?
    /// sparse only.
    public var sparsity: SparsitySpec?
    /// denoising only.
    public var noise: NoiseSpec?
    /// denoising only: the architecture that is trained on corrupted inputs (conv or dense).
    public var base: Preset?
    /// vae/conv_vae only: weight of the KL term (beta-VAE); default 1.
    public var beta: Float?
    /// cvae (required) and conv_vae (optional, makes it conditional): the number of classes K;
    /// labels are 0..<K. JSON "classes": K or "conditional": {"classes": K}.
    public var classes: Int?
    /// custom only.
    public var encoder: [LayerSpec]?
    public var decoder: [LayerSpec]?
    /// conv, denoising (base conv) and conv_vae: a BatchNorm after every convolution but the
    /// last (`"batch_norm"`); nil means false, the seed's architecture.
    public var batchNorm: Bool?
    /// conv, denoising (base conv) and conv_vae: how a stage halves the size (`"downsample"`);
    /// nil means stride.
    public var downsample: Downsampling?
    /// conv, denoising (base conv) and conv_vae: how a decoder stage doubles it (`"upsample"`);
    /// nil means transposed.
    public var upsample: Upsampling?

    /// `"stride"`: Conv2d(k3, s2, p1). `"max_pool"`: Conv2d(k3, s1, p1), then MaxPool2d(2).
    public enum Downsampling: String, Equatable, Sendable, CaseIterable {
        case stride
        case maxPool = "max_pool"
    }

    /// `"transposed"`: ConvTranspose2d(k3, s2, p1). `"nearest"` / `"bilinear"`: Upsample(×2), then
    /// Conv2d(k3, s1, p1) (no checkerboard artifacts).
    public enum Upsampling: String, Equatable, Sendable, CaseIterable {
        case transposed, nearest, bilinear
    }

    public init(preset: Preset, input: [Int], seed: UInt64? = nil, latent: Int? = nil,
                hidden: [Int]? = nil, loss: Loss? = nil, optimizer: OptimizerSpec? = nil,
                sparsity: SparsitySpec? = nil, noise: NoiseSpec? = nil, base: Preset? = nil,
                beta: Float? = nil, encoder: [LayerSpec]? = nil, decoder: [LayerSpec]? = nil,
                batchNorm: Bool? = nil, downsample: Downsampling? = nil, upsample: Upsampling? = nil) {
        self.preset = preset; self.input = input; self.seed = seed; self.latent = latent
        self.hidden = hidden; self.loss = loss; self.optimizer = optimizer; self.sparsity = sparsity
        self.noise = noise; self.base = base; self.beta = beta; self.encoder = encoder
        self.decoder = decoder
        self.batchNorm = batchNorm; self.downsample = downsample; self.upsample = upsample
    }
}

/// Activity penalty on the code of a `sparse` model.
public enum SparsitySpec: Equatable, Sendable {
    public enum Reduction: String, Equatable, Sendable { case mean, sum }
    /// lambda * reduce(|z|) over the code units, averaged over the batch.
    case l1(lambda: Float, reduction: Reduction)
    /// beta * sum_j KL(rho || rho_hat_j), rho_hat_j the batch mean of sigmoid code unit j.
    case kl(rho: Float, beta: Float)
}

/// Input corruption of a `denoising` model, applied only in training.
public enum NoiseSpec: Equatable, Sendable {
    /// x + N(0, sigma^2), clipped to [0, 1].
    case gaussian(sigma: Float)
    /// A fraction p of the pixels set to 0.
    case masking(probability: Float)
    /// A fraction p of the pixels set to 0 or 1 (each with probability p/2).
    case saltPepper(probability: Float)
    /// DRAEM-style synthetic defects: smooth-noise masks filled with a blend of a source texture
    /// (Models/SyntheticAnomaly.swift).
    case syntheticAnomaly(SyntheticAnomalySpec)
}
