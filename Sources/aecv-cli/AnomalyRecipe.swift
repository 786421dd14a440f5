import AECV

/// The training and scoring recipe of `aecv anomaly bench` when no --spec/--preset/--metric/
/// --reduction is given: the one place to change it when a better one is measured.
///
/// Today, as measured by tools/inspection_bench.py (README, "Inspection benchmark"): the
/// DRAEM-style denoiser. The conv preset's layers are trained to reconstruct the clean image
/// from a copy in which half of the examples carry a synthetic defect (a patch of the image
/// itself, shifted), so the model learns to remove defects instead of copying them; the loss
/// is MSE + SSIM. Images are scored with the SSIM map (structure, not brightness: robust to a
/// slight global blur of the reconstruction) reduced to the mean of their top 2 % pixels (a
/// small defect is drowned by the mean and the max sees noise). Against the conv preset trained
/// with MSE and scored the same way, it raised image AUROC, pixel AUROC and PRO on brick, grass
/// and gravel alike (brick pixel AUROC 0.971 → 0.982, PRO 0.899 → 0.939).
struct AnomalyRecipe {
    /// A spec without "input" and "seed" (the data and --seed fill them in).
    var spec: JSONValue
    var metric: AnomalyMetric
    var reduction: ScoreReduction
    var epochs: Int
    /// The quantile of the validation images' scores (and pixels) used as thresholds.
    var quantile: Double

    /// The fraction of the map's pixels whose mean is the image score.
    static let topFraction = 0.02

    /// The recipe for model inputs of `inputShape` [C, H, W] (the same for every shape today).
    static func recommended(inputShape: [Int]) -> AnomalyRecipe {
        let spec: JSONValue = .object([
            JSONMember("preset", .string("denoising")),
            JSONMember("base", .string("conv")),
            // Measured without BatchNorm (README, "Inspection benchmark"); the 64 px default of
            // batch_norm was chosen for reconstruction, not for anomaly maps.
            JSONMember("batch_norm", .bool(false)),
            JSONMember("loss", .string("mse_ssim")),
            JSONMember("noise", .object([JSONMember("synthetic_anomaly", .object([
                JSONMember("probability", .double(0.5)),
                JSONMember("source", .string("shifted")),
            ]))])),
        ])
        return AnomalyRecipe(spec: spec, metric: .ssim, reduction: try! .topMean(topFraction),
                             epochs: 20, quantile: 0.99)
    }
}
