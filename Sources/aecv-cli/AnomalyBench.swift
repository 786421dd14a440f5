import AECV
import AECVData
import ArgumentParser

/// `aecv anomaly bench CATEGORY`: train on an MVTec AD category's good images, calibrate on held
/// out good images, and evaluate on its test set as the MVTec AD protocol does.
struct AnomalyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Train, calibrate and evaluate on an MVTec AD category folder (image/pixel AUROC, PRO, F1).",
        discussion: """
            CATEGORY holds train/good/*.png, test/<good|defect type>/*.png and \
            ground_truth/<defect type>/<name>_mask.png, as MVTec AD is distributed. Images are \
            resized to --size (bilinear, as Pillow), masks by nearest neighbour. A model is \
            trained on train/good minus a held-out --validation fraction (with --patch P: on \
            random P×P patches, and S×S images are then scored by overlapping tiles), its \
            thresholds are the --quantile of the held-out images' scores and pixels, stored in \
            --out/model.aecv. On test: image AUROC, pixel AUROC, PRO (per-region overlap up to \
            FPR 0.3), best image and pixel F1, per defect type (its images and the good ones) \
            and overall; --json writes them. --out/overlays/ gets one PNG per test image: \
            image | heatmap (the pixel threshold at mid-ramp) | thresholded map | ground truth. \
            Without --spec/--preset/--metric/--reduction the recommended recipe is used.
            """)

    @Argument(help: ArgumentHelp("An MVTec AD category folder.", valueName: "CATEGORY_DIR"))
    var category: String

    @Option(help: "Images (and masks) are resized to S×S.")
    var size: Int = 256

    @Option(help: ArgumentHelp("Train on random P×P patches and score S×S images by tiles.", valueName: "P"))
    var patch: Int?

    @Option(help: "Patches per training image and epoch (default: (S/P)², the image's area once).")
    var patchesPerImage: Int?

    @Option(help: "Epochs (default: the recipe's).")
    var epochs: Int?

    @Option(help: "Images (or patches) per step.")
    var batchSize: Int = 32

    @Option(help: ArgumentHelp("Learning rate (default: the spec's, 1e-3 for Adam).", valueName: "lr"))
    var lr: Float?

    @Option(help: ArgumentHelp("A JSON model spec, as a file or inline JSON text; \"input\" is filled in.", valueName: "JSON|spec.json"))
    var spec: String?

    @Option(help: ArgumentHelp("A preset instead of a spec: \(ModelSpec.Preset.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "name"))
    var preset: String?

    @Option(help: ArgumentHelp("mse, ssim or blurred_mse (default: the recipe's).", valueName: "metric"))
    var metric: AnomalyMetric?

    @Option(help: ArgumentHelp("Image score from the pixel map: mean, max, top_mean or top_mean:F (default: the recipe's).", valueName: "reduction"),
            transform: { try ScoreReduction.argument($0) })
    var reduction: ScoreReduction?

    @Option(help: "Pixels between tile origins when scoring by tiles (0: half a tile).")
    var tileStride: Int = 0

    @Option(help: "Thresholds: this quantile of the held-out good images' scores and pixels (default: the recipe's).")
    var quantile: Double?

    @Option(help: "Fraction of train/good held out for calibration.")
    var validation: Double = 0.15

    @Flag(help: "Read the images as RGB (default: RGB when the first training image has colour).")
    var rgb = false

    @Flag(help: "Read the images as grey.")
    var grey = false

    @Option(help: "Use only the first N training images.")
    var trainLimit: Int?

    @Option(help: "Seed of the model, the validation split and the patches.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Write the metrics as JSON.", valueName: "FILE"))
    var json: String?

    @Option(help: ArgumentHelp("Folder for model.aecv and overlays/.", valueName: "DIR"))
    var out: String = "bench"

    @Option(help: "Overlays to write (default: every test image; 0: none).")
    var overlays: Int?

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if size < 8 || size > 4096 { throw ValidationError("--size must be in 8...4096, got \(size)") }
        if let p = patch, p < 8 || p > size { throw ValidationError("--patch must be in 8...--size (\(size)), got \(p)") }
        if let k = patchesPerImage, k < 1 || k > 10_000 { throw ValidationError("--patches-per-image must be in 1...10000, got \(k)") }
        if let e = epochs, e < 1 { throw ValidationError("--epochs must be at least 1, got \(e)") }
        if batchSize < 1 || batchSize > 65536 { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
        if let lr, !(lr > 0 && lr <= 1e6) { throw ValidationError("--lr must be in (0, 1e6], got \(lr)") }
        if spec != nil && preset != nil { throw ValidationError("give --spec or --preset, not both") }
        if let p = preset, ModelSpec.Preset(rawValue: p) == nil {
            throw ValidationError("unknown preset '\(p)'; choose one of \(ModelSpec.Preset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if tileStride < 0 { throw ValidationError("--tile-stride must be 0 or positive, got \(tileStride)") }
        if let q = quantile, !(q >= 0 && q <= 1) { throw ValidationError("--quantile must be in [0, 1], got \(q)") }
        if !(validation > 0 && validation < 1) { throw ValidationError("--validation must be in (0, 1), got \(validation)") }
        if rgb && grey { throw ValidationError("give --rgb or --grey, not both") }
        if let t = trainLimit, t < 2 { throw ValidationError("--train-limit must be at least 2, got \(t)") }
        if let o = overlays, o < 0 { throw ValidationError("--overlays must be 0 or more, got \(o)") }
    }

    func run() throws {
        compute.apply()
        Interrupt.install()
        let folder = try MVTecCategory(path: category)
        let channels = grey ? 1 : (rgb ? 3 : (try ImageFile.read(path: folder.trainFiles[0]).isGrey ? 1 : 3))
        let data = try folder.load(size: size, channels: channels, trainLimit: trainLimit)
        let side = patch ?? size
        let inputShape = [channels, side, side]
        let recipe = AnomalyRecipe.recommended(inputShape: inputShape)
        let scoring = try AnomalyScoring(metric: metric ?? recipe.metric,
                                         reduction: reduction ?? recipe.reduction,
                                         tileStride: tileStride)

        // Held-out good images for the thresholds: a seeded random subset, at least one.
        let count = data.train.count
        guard count >= 2 else { throw CLIError("\(category)/train/good: \(count) image; at least 2 are needed (training and calibration)") }
        var order = Array(0..<count)
        var random = RandomSource(seed: seed ^ 0x5EED_0F_CA1B)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        let held = min(count - 1, max(1, Int((validation * Double(count)).rounded())))
        let validationSet = gather(data.train, Array(order[0..<held]))
        let trainSet = gather(data.train, Array(order[held...]))

        let (specJSON, specName): (JSONValue, String)
        if let spec { (specJSON, specName) = try SpecFile.json(spec) }
        else if let preset { (specJSON, specName) = (.object([JSONMember("preset", .string(preset))]), "--preset \(preset)") }
        else { (specJSON, specName) = (recipe.spec, "the recommended recipe") }
        let net = try SpecFile.model(specJSON, name: specName, inputShape: inputShape, seed: seed)
        if let lr { try net.setLearningRate(lr) }
        let epochCount = epochs ?? recipe.epochs
        let perImage = patch == nil ? 1 : (patchesPerImage ?? max(1, (size / side) * (size / side)))
        Terminal.say("\(category): \(data.train.count) good training images (\(held) held out for calibration), "
                     + "\(data.test.count) test images of \(folder.types.count) types, \(describeShape([channels, size, size]))")
        Terminal.say("training a \(net.spec.preset.rawValue) autoencoder (\(specName), \(TextFormat.grouped(net.parameterCount)) parameters, "
                     + "input \(describeShape(inputShape))) for \(epochCount) epochs on "
                     + (patch == nil ? "the images" : "\(perImage) random \(side)×\(side) patches per image"))
        try train(net, trainSet, epochs: epochCount, perImage: perImage)

        let q = quantile ?? recipe.quantile
        let calibration = try validationSet.floats().withUnsafeBufferPointer {
            try net.calibrateAnomaly(inputs: $0, batch: validationSet.count, height: size, width: size,
                                     scoring: scoring, quantile: q)
        }
        try Directory.create(out)
        let modelPath = Directory.join(out, "model.aecv")
        try net.save(to: modelPath)
        Terminal.say("thresholds (\(q) quantile of \(held) held-out images, \(scoring.metric.name), \(scoring.reduction.name)): "
                     + "image \(calibration.imageThreshold), pixel \(calibration.pixelThreshold); saved \(modelPath)")

        let result = try evaluate(net, data)
        var report = BenchReport(data: data, types: folder.types.filter { $0 != MVTecCategory.good },
                                 maps: result.maps, scores: result.scores)
        try report.compute()
        Terminal.say(report.table())
        let flagged = result.flags.enumerated().filter { $0.element != 0 }
        let correct = zip(result.flags, data.labels).filter { ($0 != 0) == ($1 != 0) }.count
        Terminal.say("at the stored image threshold: \(flagged.count) of \(data.test.count) flagged, "
                     + "\(correct) of \(data.test.count) decided right")
        if let json {
            var members: [JSONMember] = [
                JSONMember("category", .string(category)), JSONMember("size", .int(Int64(size))),
                JSONMember("patch", patch.map { .int(Int64($0)) } ?? .null),
                JSONMember("epochs", .int(Int64(epochCount))), JSONMember("spec", net.spec.jsonValue()),
                JSONMember("metric", .string(scoring.metric.name)), JSONMember("reduction", .string(scoring.reduction.name)),
                JSONMember("tile_stride", .int(Int64(tileStride))),
                JSONMember("image_threshold", .double(Double(calibration.imageThreshold))),
                JSONMember("pixel_threshold", .double(Double(calibration.pixelThreshold))),
                JSONMember("test_images", .int(Int64(data.test.count))),
                JSONMember("decided_right", .int(Int64(correct))),
            ]
            members += report.overall.json
            members.append(JSONMember("per_type", .object(report.perType.map { JSONMember($0.type, .object($0.json)) })))
            let parent = Directory.parentOf(json)
            if Directory.kind(of: parent) == .missing { try Directory.create(parent) }
            try FileIO.writeAtomically(path: json, bytes: Array((JSONValue.object(members).serialized(pretty: true) + "\n").utf8))
            Terminal.say("wrote \(json)")
        }
        let overlayCount = min(overlays ?? data.test.count, data.test.count)
        if overlayCount > 0 {
            let directory = Directory.join(out, "overlays")
            try Directory.create(directory)
            for i in 0..<overlayCount {
                let image = BenchOverlay.render(data: data, index: i, maps: result.maps, predicted: result.masks,
                                                pixelThreshold: calibration.pixelThreshold)
                try PNG.write(image, to: Directory.join(directory, BenchOverlay.name(data: data, index: i)))
            }
            Terminal.say("wrote \(overlayCount) overlays to \(directory)/ (image | heatmap | thresholded | ground truth)")
        }
    }

    /// Examples `indices` of `set`.
    func gather(_ set: ImageDataset, _ indices: [Int]) -> ImageDataset {
        var picked = set.subset(indices)
        picked.labels = []
        return picked
    }

    /// Trains on whole images, or on `perImage` random patches of each image per epoch.
    func train(_ net: Autoencoder, _ set: ImageDataset, epochs: Int, perImage: Int) throws {
        let crop = PatchCrop(imageShape: set.shape, patch: net.inputShape[1])
        let size = net.inputSize
        let n = set.count * perImage
        var batch = [Float](repeating: 0, count: batchSize * size)
        var random = RandomSource(seed: seed &+ 0x9E37_79B9_7F4A_7C15)
        for epoch in 1...epochs {
            var progress = ProgressBar(label: "epoch \(epoch)/\(epochs)", total: n)
            var order = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
            var lossSum = 0.0, seen = 0
            var start = 0
            while start < n {
                let k = min(batchSize, n - start)
                batch.withUnsafeMutableBufferPointer { dst in
                    for b in 0..<k {
                        let (top, left) = crop.randomCorner(&random)
                        crop.copy(set, example: order[start + b] / perImage, top: top, left: left,
                                  into: dst.baseAddress! + b * size)
                    }
                }
                let loss = try batch.withUnsafeBufferPointer {
                    try net.trainStep(inputs: UnsafeBufferPointer(rebasing: $0[0..<(k * size)]), targets: nil, batch: k)
                }
                lossSum += Double(loss) * Double(k)
                seen += k
                start += k
                progress.update(done: seen, loss: lossSum / Double(seen))
                if Interrupt.requested { throw CLIError("interrupted in epoch \(epoch); nothing was saved", exitCode: 130) }
            }
            progress.finish(loss: lossSum / Double(max(1, seen)))
            net.history.append(Float(lossSum / Double(max(1, seen))))
        }
    }

    /// Scores and flags (`anomalyPredict`) and maps and thresholded masks (`anomalySegment`) of
    /// the test images: the calls C and Python make, so the benchmark measures their decisions.
    func evaluate(_ net: Autoencoder, _ data: MVTecData) throws
        -> (scores: [Float], flags: [UInt8], maps: [Float], masks: [UInt8]) {
        let m = data.test.count, plane = size * size
        var scores = [Float](repeating: 0, count: m), flags = [UInt8](repeating: 0, count: m)
        var maps = [Float](repeating: 0, count: m * plane), masks = [UInt8](repeating: 0, count: m * plane)
        try forEachBatch(total: m, size: 8) { start, k in
            try data.test.slice(start, count: k).withUnsafeBufferPointer { inputs in
                try scores.withUnsafeMutableBufferPointer { s in
                    try flags.withUnsafeMutableBufferPointer { f in
                        try net.anomalyPredict(inputs: inputs, batch: k, height: size, width: size,
                                               scores: UnsafeMutableBufferPointer(rebasing: s[start..<(start + k)]),
                                               flags: UnsafeMutableBufferPointer(rebasing: f[start..<(start + k)]))
                    }
                }
                try maps.withUnsafeMutableBufferPointer { p in
                    try masks.withUnsafeMutableBufferPointer { q in
                        try net.anomalySegment(inputs: inputs, batch: k, height: size, width: size,
                                               maps: UnsafeMutableBufferPointer(rebasing: p[(start * plane)..<((start + k) * plane)]),
                                               masks: UnsafeMutableBufferPointer(rebasing: q[(start * plane)..<((start + k) * plane)]))
                    }
                }
            }
        }
        return (scores, flags, maps, masks)
    }
}

/// The MVTec AD measures of a set of test images: overall, and per defect type (its images and
/// all good ones, as the MVTec AD evaluation scripts do).
struct BenchReport {
    struct Row {
        var type: String
        var images: Int
        var imageAUROC: Double?
        var pixelAUROC: Double?
        var pro: Double?
        var imageF1: Double?
        var pixelF1: Double?

        var json: [JSONMember] {
            func value(_ x: Double?) -> JSONValue { x.map { .double($0) } ?? .null }
            return [JSONMember("images", .int(Int64(images))), JSONMember("image_auroc", value(imageAUROC)),
                    JSONMember("pixel_auroc", value(pixelAUROC)), JSONMember("pro", value(pro)),
                    JSONMember("image_f1_max", value(imageF1)), JSONMember("pixel_f1_max", value(pixelF1))]
        }
    }

    var data: MVTecData
    var types: [String]
    var maps: [Float]
    var scores: [Float]
    var overall = Row(type: "overall", images: 0)
    var perType: [Row] = []

    init(data: MVTecData, types: [String], maps: [Float], scores: [Float]) {
        (self.data, self.types, self.maps, self.scores) = (data, types, maps, scores)
    }

    mutating func compute() throws {
        overall = try row("overall", Array(0..<data.test.count))
        let good = data.types.indices.filter { data.types[$0] == MVTecCategory.good }
        perType = try types.map { type in try row(type, good + data.types.indices.filter { data.types[$0] == type }) }
    }

    /// The measures of test images `indices`; nil where one is undefined (one class only).
    func row(_ type: String, _ indices: [Int]) throws -> Row {
        let plane = data.size * data.size
        let s = indices.map { scores[$0] }, l = indices.map { data.labels[$0] }
        var m: [Float] = [], k: [UInt8] = []
        m.reserveCapacity(indices.count * plane); k.reserveCapacity(indices.count * plane)
        for i in indices {
            m += maps[(i * plane)..<((i + 1) * plane)]
            k += data.masks[(i * plane)..<((i + 1) * plane)]
        }
        // Undefined measures (one class only) are nil; any other error is real.
        func defined(_ body: () throws -> Double) throws -> Double? {
            do { return try body() } catch AECVError.invalidArgument(_) { return nil }
        }
        return try s.withUnsafeBufferPointer { s in
            try l.withUnsafeBufferPointer { l in
                try m.withUnsafeBufferPointer { m in
                    try k.withUnsafeBufferPointer { k in
                        Row(type: type, images: indices.count,
                            imageAUROC: try defined { try InspectionMetrics.rocAUC(scores: s, labels: l) },
                            pixelAUROC: try defined { try InspectionMetrics.rocAUC(scores: m, labels: k, what: "maps") },
                            pro: try defined { try InspectionMetrics.perRegionOverlap(maps: m, masks: k, count: indices.count,
                                                                                      height: data.size, width: data.size) },
                            imageF1: try defined { try InspectionMetrics.bestF1(scores: s, labels: l).f1 },
                            pixelF1: try defined { try InspectionMetrics.bestF1(scores: m, labels: k, what: "maps").f1 })
                    }
                }
            }
        }
    }

    func table() -> String {
        func cell(_ x: Double?) -> String { x.map { TextFormat.fixed($0, 3) } ?? "-" }
        let width = max(12, (types + ["overall"]).map(\.count).max()! + 2)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        func left(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        var lines = [pad("type", width) + left("images", 7) + ["image AUROC", "pixel AUROC", "PRO", "image F1", "pixel F1"].map { left($0, 13) }.joined()]
        for r in perType + [overall] {
            lines.append(pad(r.type, width) + left("\(r.images)", 7)
                         + [r.imageAUROC, r.pixelAUROC, r.pro, r.imageF1, r.pixelF1].map { left(cell($0), 13) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}

/// One test image's picture: image | heatmap | thresholded map | ground truth.
enum BenchOverlay {
    static let gap = 2

    /// "TYPE_NAME.png" for test image `index`.
    static func name(data: MVTecData, index: Int) -> String {
        var stem = Directory.baseName(data.testFiles[index])
        if let dot = stem.lastIndex(of: ".") { stem = String(stem[..<dot]) }
        return "\(data.types[index])_\(stem).png"
    }

    /// The heatmap is scaled so that the pixel threshold sits mid-ramp (red → yellow): what is
    /// flagged looks bright in every overlay of a run.
    static func render(data: MVTecData, index i: Int, maps: [Float], predicted: [UInt8], pixelThreshold: Float) -> RasterImage {
        let s = data.size, plane = s * s
        let map = Array(maps[(i * plane)..<((i + 1) * plane)])
        let largest = pixelThreshold > 0 ? 2 * pixelThreshold : (map.max() ?? 0)
        let image = RasterImage(planar: data.test.slice(i, count: 1), shape: data.test.shape)
        let heat = AnomalyOverlay.rgb(AnomalyOverlay.colours(map, largest: largest), width: s, height: s)
        func mask(_ bytes: ArraySlice<UInt8>) -> RasterImage {
            RasterImage(width: s, height: s, channels: 1, pixels: bytes.map { $0 != 0 ? 255 : 0 })
        }
        let panels = [image, heat, mask(predicted[(i * plane)..<((i + 1) * plane)]), mask(data.masks[(i * plane)..<((i + 1) * plane)])]
        var out = RasterImage(width: gap + panels.count * (s + gap), height: 2 * gap + s, fill: [48, 48, 48])
        for (k, panel) in panels.enumerated() { out.draw(panel, x: gap + k * (s + gap), y: gap) }
        return out
    }
}
