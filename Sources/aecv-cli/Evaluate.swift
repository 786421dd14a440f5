import AECV
import AECVData
import ArgumentParser

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a model on images: its loss, and the MSE, PSNR and SSIM of its reconstructions.",
        discussion: """
            loss: the model's training objective, without training-time corruption (VAE: the \
            negative ELBO per image). MSE: per pixel, over all images. PSNR: 10·log10(1/MSE) per \
            image in dB, averaged (capped at 100 dB for exact reconstructions). SSIM: Wang et al. \
            with an 11×11 Gaussian window (σ = 1.5), per image, averaged. With --noise σ the \
            inputs are corrupted with Gaussian noise first (clipped to [0, 1]) and compared with \
            the clean images: the measures of a denoiser.
            """)

    @Argument(help: ArgumentHelp("A model file.", valueName: "model.aecv"))
    var model: String

    @OptionGroup var data: DataOptions

    @Option(help: ArgumentHelp("Corrupt the inputs with Gaussian noise of this standard deviation.", valueName: "σ"))
    var noise: Float?

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let s = noise, !(s >= 0 && s <= 10) { throw ValidationError("--noise must be in [0, 10], got \(s)") }
    }

    func run() throws {
        compute.apply()
        let net = try loadModel(model)
        let loaded = try data.load(defaultSplit: .test, channels: net.inputShape[0])
        try net.requireInputShape(of: loaded, modelPath: model)
        let clean = loaded.dataset.floats()
        let inputs = noise.map { addNoise(clean, sigma: $0, seed: 1) } ?? clean
        let loss = try meanLoss(net, inputs, targets: noise == nil ? nil : clean)
        let outputs = try reconstructAll(net, inputs)
        let m = try measure(outputs, against: clean, shape: net.inputShape)
        let lossName = net.isGenerative ? "negative ELBO per image" : (net.spec.loss ?? .mse).rawValue
        Terminal.say("\(model) (\(net.spec.preset.rawValue)) on \(loaded.dataset.count) images of \(loaded.name)"
                     + (noise.map { ", inputs with Gaussian noise σ = \(show($0))" } ?? "") + ":")
        Terminal.say("  loss  \(show(loss)) (\(lossName))")
        Terminal.say("  MSE   \(show(m.mse)) per pixel")
        Terminal.say("  PSNR  \(TextFormat.fixed(m.psnr, 2)) dB")
        Terminal.say("  SSIM  " + (m.ssim.map { TextFormat.fixed($0, 4) } ?? "n/a (images under 3 pixels wide)"))
        if noise != nil {
            let n = try measure(inputs, against: clean, shape: net.inputShape)
            Terminal.say("  (noisy inputs themselves: MSE \(show(n.mse)), PSNR \(TextFormat.fixed(n.psnr, 2)) dB, SSIM "
                         + (n.ssim.map { TextFormat.fixed($0, 4) } ?? "n/a") + ")")
        }
    }
}

/// MSE per pixel over all images, and the mean over images of PSNR and SSIM.
func measure(_ outputs: [Float], against targets: [Float], shape: [Int]) throws
    -> (mse: Double, psnr: Double, ssim: Double?) {
    let size = shape.reduce(1, *)
    let count = targets.count / size
    var squared = 0.0, psnr = 0.0, ssim = 0.0
    var ssimValid = true
    outputs.withUnsafeBufferPointer { o in
        targets.withUnsafeBufferPointer { t in
            for i in 0..<count {
                let a = UnsafeBufferPointer(rebasing: o[(i * size)..<((i + 1) * size)])
                let b = UnsafeBufferPointer(rebasing: t[(i * size)..<((i + 1) * size)])
                let mse = ImageMetrics.meanSquaredError(a, b)
                squared += mse
                psnr += ImageMetrics.psnr(meanSquaredError: mse)
                if let s = ImageMetrics.ssim(a, b, shape: shape) { ssim += s } else { ssimValid = false }
            }
        }
    }
    let n = Double(max(1, count))
    return (squared / n, psnr / n, ssimValid ? ssim / n : nil)
}
