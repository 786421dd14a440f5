import AECV

/// The training and scoring recipe of `aecv anomaly bench` when no --spec/--preset/--metric/
/// --reduction is given: the one place to change it when a better one is measured.
///
/// Today: the conv preset with an MSE loss, sized so that the code holds about 1/8 of the input
/// values (an autoencoder that can copy its input reconstructs defects too), scored with the
/// SSIM metric (structure, not brightness: robust to a slight global blur of the
/// reconstruction), images scored by the mean of their top 1 % pixels (a small defect is drowned
/// by the mean and the max sees noise). The core also reads the DRAEM-style recipe
/// (`"preset": "denoising", "base": "conv", "loss": "mse_ssim", "noise": {"synthetic_anomaly":
/// {…}}`); `--spec` passes it (or any spec) through, and it becomes the default here once
/// measured on MVTec AD to do better.
struct AnomalyRecipe {
    /// A spec without "input" and "seed" (the data and --seed fill them in).
    var spec: JSONValue
    var metric: AnomalyMetric
    var reduction: ScoreReduction
    var epochs: Int
    /// The quantile of the validation images' scores (and pixels) used as thresholds.
    var quantile: Double

    /// The recipe for model inputs of `inputShape` [C, H, W].
    static func recommended(inputShape: [Int]) -> AnomalyRecipe {
        let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
        // Stride-2 stages down to about 4 pixels a side (1 to 4 stages), 32, 64, 128 channels,
        // the last stage narrow enough for the 1/8 code.
        var side = min(h, w), stages = 0
        while side >= 8 && stages < 4 { side = (side + 1) / 2; stages += 1 }
        stages = max(1, stages)
        let codePlane = ((h + (1 << stages) - 1) >> stages) * ((w + (1 << stages) - 1) >> stages)
        let last = max(4, c * h * w / (8 * codePlane))
        let channels = (0..<(stages - 1)).map { min(128, 32 << $0) } + [last]
        let spec: JSONValue = .object([
            JSONMember("preset", .string("conv")),
            JSONMember("hidden", .array(channels.map { .int(Int64($0)) })),
            JSONMember("loss", .string("mse")),
        ])
        return AnomalyRecipe(spec: spec, metric: .ssim, reduction: try! .topMean(ScoreReduction.defaultTopFraction),
                             epochs: 20, quantile: 0.99)
    }
}
