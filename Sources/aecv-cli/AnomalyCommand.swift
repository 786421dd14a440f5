import AECV
import AECVData
import ArgumentParser

/// `aecv anomaly`: anomaly detection from reconstruction error (issue 8).
struct Anomaly: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Anomaly detection from reconstruction error: calibrate a threshold, score images, draw heatmaps.",
        discussion: """
            A model trained on normal images only reconstructs them well and anything else worse. \
            Metrics (--metric): mse (squared error per pixel), ssim (1 − SSIM per pixel, 11×11 \
            Gaussian window) and blurred_mse (squared error after a σ = 1 Gaussian blur of the \
            difference); an image's score is the mean of its map. 'fit' calibrates a threshold on \
            normal images, 'score' scores images (and flags those above a threshold), 'heatmap' \
            draws images next to their anomaly maps.
            """,
        subcommands: [AnomalyFit.self, AnomalyScore.self, AnomalyHeatmap.self])
}

extension AnomalyMetric: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public var defaultValueDescription: String { name }
    public static var allValueStrings: [String] { allCases.map(\.name) }
}

/// The model argument, --data/--split/--limit, --metric and --threads, shared by the subcommands.
struct AnomalyInputs: ParsableArguments {
    @Argument(help: ArgumentHelp("A model file (trained on normal images).", valueName: "model.aecv"))
    var model: String

    @OptionGroup var data: DataOptions

    @Option(help: ArgumentHelp("mse, ssim or blurred_mse (default: mse, or the threshold file's).", valueName: "metric"))
    var metric: AnomalyMetric?

    @OptionGroup var compute: ComputeOptions

    /// The model and its images (checked against its input shape).
    func load(defaultSplit: Split, limit: Int? = nil) throws -> (Autoencoder, LoadedData) {
        compute.apply()
        let net = try loadModel(model)
        let loaded = try data.load(defaultSplit: defaultSplit, limit: limit, channels: net.inputShape[0])
        try net.requireInputShape(of: loaded, modelPath: model)
        return (net, loaded)
    }
}

/// A threshold file: {"metric", "quantile", "threshold", "n"}.
struct AnomalyThresholdFile {
    var metric: AnomalyMetric
    var quantile: Double
    var threshold: Float
    var n: Int

    var json: JSONValue {
        .object([JSONMember("metric", .string(metric.name)), JSONMember("quantile", .double(quantile)),
                 JSONMember("threshold", .double(Double(threshold))), JSONMember("n", .int(Int64(n)))])
    }

    func write(to path: String) throws {
        let parent = Directory.parentOf(path)
        if Directory.kind(of: parent) == .missing { try Directory.create(parent) }
        try FileIO.writeAtomically(path: path, bytes: Array((json.serialized(pretty: true) + "\n").utf8))
    }

    static func read(_ path: String) throws -> AnomalyThresholdFile {
        let bytes = try FileIO.readAll(path: path, maxBytes: 1 << 20)
        let value: JSONValue
        do {
            value = try bytes.withUnsafeBufferPointer { try JSONValue.parse(bytes: $0) }
        } catch let error as JSONError {
            throw CLIError("\(path): not JSON: \(error)")
        }
        func bad(_ what: String) -> CLIError {
            CLIError("\(path): not a threshold file of 'aecv anomaly fit' (\(what))")
        }
        guard value.asObject != nil else { throw bad("expected an object") }
        guard let name = value["metric"]?.asString else { throw bad("no \"metric\" string") }
        guard let metric = AnomalyMetric(name: name) else {
            throw bad("unknown metric '\(name)'; expected one of \(AnomalyMetric.allValueStrings.joined(separator: ", "))")
        }
        guard let threshold = value["threshold"]?.asDouble, threshold.isFinite else { throw bad("no finite \"threshold\"") }
        let quantile = value["quantile"]?.asDouble ?? .nan
        let n = value["n"]?.asInt.map { Int($0) } ?? 0
        return AnomalyThresholdFile(metric: metric, quantile: quantile, threshold: Float(threshold), n: n)
    }
}

struct AnomalyFit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Score normal images and write the decision threshold (a quantile of their scores) as JSON.",
        discussion: """
            Writes {"metric", "quantile", "threshold", "n"}: with the 0.99 quantile, about 1% of \
            normal images score above the threshold. Quantiles interpolate linearly between order \
            statistics, as numpy's np.quantile. --split defaults to train.
            """)

    @OptionGroup var inputs: AnomalyInputs

    @Option(help: "The quantile of the normal images' scores to use as threshold, in [0, 1].")
    var quantile: Double = 0.99

    @Option(help: ArgumentHelp("The JSON file to write.", valueName: "threshold.json"))
    var out: String = "threshold.json"

    func validate() throws {
        if !(quantile >= 0 && quantile <= 1) { throw ValidationError("--quantile must be in [0, 1], got \(quantile)") }
    }

    func run() throws {
        let (net, loaded) = try inputs.load(defaultSplit: .train)
        let metric = inputs.metric ?? .mse
        let scores = try net.anomalyScores(loaded.dataset.images, metric: metric)
        let threshold = try anomalyThreshold(scores: scores, quantile: quantile)
        let file = AnomalyThresholdFile(metric: metric, quantile: quantile, threshold: threshold, n: scores.count)
        try file.write(to: out)
        Terminal.say("threshold \(threshold) (\(metric.name), \(quantile) quantile of the scores of \(scores.count) images of \(loaded.name))")
        Terminal.say("wrote \(out)")
    }
}

struct AnomalyScore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score images (higher = more anomalous); with a threshold file, flag those above it.",
        discussion: """
            --out: a .csv (index,score and, with --threshold-file, anomalous as 0/1 for score > \
            threshold) or a .npy (float32 scores, shape (N,)); without --out only the summary is \
            printed. With --threshold-file the metric defaults to the file's.
            """)

    @OptionGroup var inputs: AnomalyInputs

    @Option(help: ArgumentHelp("A threshold file written by 'aecv anomaly fit'.", valueName: "threshold.json"))
    var thresholdFile: String?

    @Option(help: ArgumentHelp("Where to write the scores.", valueName: "scores.csv|scores.npy"))
    var out: String?

    func validate() throws {
        if let out, !(out.lowercased().hasSuffix(".csv") || out.lowercased().hasSuffix(".npy")) {
            throw ValidationError("--out must end in .csv or .npy, got '\(out)'")
        }
    }

    func run() throws {
        let file = try thresholdFile.map(AnomalyThresholdFile.read)
        if let file, let metric = inputs.metric, metric != file.metric {
            throw CLIError("--metric \(metric.name) does not match \(thresholdFile!), calibrated with \(file.metric.name)")
        }
        let metric = inputs.metric ?? file?.metric ?? .mse
        let (net, loaded) = try inputs.load(defaultSplit: .test)
        let scores = try net.anomalyScores(loaded.dataset.images, metric: metric)
        let flagged = file.map { f in scores.map { $0 > f.threshold } }
        if let out {
            let parent = Directory.parentOf(out)
            if Directory.kind(of: parent) == .missing { try Directory.create(parent) }
            if out.lowercased().hasSuffix(".npy") {
                try NPYArray(shape: [scores.count], float32: scores).write(to: out)
            } else {
                var text = flagged == nil ? "index,score\n" : "index,score,anomalous\n"
                for (i, s) in scores.enumerated() {
                    text += "\(i),\(s)" + (flagged.map { $0[i] ? ",1" : ",0" } ?? "") + "\n"
                }
                try FileIO.writeAtomically(path: out, bytes: Array(text.utf8))
            }
        }
        let mean = scores.reduce(0.0) { $0 + Double($1) } / Double(scores.count)
        Terminal.say("\(scores.count) images of \(loaded.name) (\(metric.name)): mean score \(TextFormat.significant(mean, 5)), "
                     + "min \(scores.min()!), max \(scores.max()!)")
        if let file, let flagged {
            let k = flagged.filter { $0 }.count
            Terminal.say("flagged \(k) of \(scores.count) as anomalous (score > \(file.threshold) from \(thresholdFile!))")
        }
        if let out { Terminal.say("wrote \(out)") }
    }
}

struct AnomalyHeatmap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heatmap",
        abstract: "Draw images above their anomaly heatmaps and the blend of the two, as a PNG grid.",
        discussion: """
            Each group has three rows: the images in grey, their anomaly maps (black → red → \
            yellow → white, scaled by the largest value of all the maps drawn), and a 50% blend of \
            the two. Channels are averaged for multi-channel images. --limit defaults to 16.
            """)

    @OptionGroup var inputs: AnomalyInputs

    @Option(help: ArgumentHelp("The PNG to write.", valueName: "overlay.png"))
    var out: String = "anomaly.png"

    @Option(help: "Images per row.")
    var columns: Int = 8

    @Option(help: "Pixels per image pixel (default: about 56 pixels per image).")
    var scale: Int?

    func validate() throws {
        if columns < 1 || columns > 1024 { throw ValidationError("--columns must be in 1...1024, got \(columns)") }
        if let s = scale, s < 1 || s > 32 { throw ValidationError("--scale must be in 1...32, got \(s)") }
    }

    func run() throws {
        let (net, loaded) = try inputs.load(defaultSplit: .test, limit: inputs.data.limit ?? 16)
        let metric = inputs.metric ?? .mse
        let shape = net.inputShape
        let images = loaded.dataset.images
        let maps = try net.anomalyMaps(images, metric: metric)
        let grey = AnomalyOverlay.channelMeans(images, shape: shape)
        let heat = AnomalyOverlay.channelMeans(maps, shape: shape)
        let largest = heat.max() ?? 0
        let plane = shape[1] * shape[2]
        let count = loaded.dataset.count
        var rows: [[RasterImage]] = []
        for start in stride(from: 0, to: count, by: columns) {
            let indices = start..<min(count, start + columns)
            var imageRow: [RasterImage] = [], heatRow: [RasterImage] = [], blendRow: [RasterImage] = []
            for i in indices {
                let g = Array(grey[(i * plane)..<((i + 1) * plane)])
                let h = Array(heat[(i * plane)..<((i + 1) * plane)])
                imageRow.append(RasterImage(planar: g, shape: [1, shape[1], shape[2]]))
                let colours = AnomalyOverlay.colours(h, largest: largest)
                heatRow.append(AnomalyOverlay.rgb(colours, width: shape[2], height: shape[1]))
                blendRow.append(AnomalyOverlay.rgb(AnomalyOverlay.blend(grey: g, colours: colours),
                                                   width: shape[2], height: shape[1]))
            }
            rows += [imageRow, heatRow, blendRow]
        }
        var grid = ImageGrid(rows: rows, scale: gridScale(scale, shape: shape))
        grid.groupSize = 3
        let image = grid.render()
        try writePNG(image, to: out)
        Terminal.say("wrote \(out): \(count) images of \(loaded.name) above their \(metric.name) anomaly maps "
                     + "(scaled to \(largest)) and the blends (\(image.width)×\(image.height))")
    }
}

/// The pictures of `aecv anomaly heatmap`.
enum AnomalyOverlay {
    /// (N, C, H, W) → (N, H, W): the mean over channels.
    static func channelMeans(_ values: [Float], shape: [Int]) -> [Float] {
        let c = shape[0], plane = shape[1] * shape[2]
        if c == 1 { return values }
        let n = values.count / (c * plane)
        var out = [Float](repeating: 0, count: n * plane)
        for i in 0..<n {
            for k in 0..<c {
                let base = (i * c + k) * plane
                for p in 0..<plane { out[i * plane + p] += values[base + p] }
            }
            for p in 0..<plane { out[i * plane + p] /= Float(c) }
        }
        return out
    }

    /// The colour of t in [0, 1]: black → red → yellow → white (each third ramps one channel).
    static func colour(_ t: Float) -> (Float, Float, Float) {
        let t = t > 0 ? min(t, 1) : 0
        return (min(1, 3 * t), min(1, max(0, 3 * t - 1)), min(1, max(0, 3 * t - 2)))
    }

    /// Colours of a map scaled by `largest` (all black when it is 0): (H·W) RGB triples, flat.
    static func colours(_ map: [Float], largest: Float) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(map.count * 3)
        for v in map {
            let (r, g, b) = colour(largest > 0 ? v / largest : 0)
            out += [r, g, b]
        }
        return out
    }

    /// 50% of the grey image and 50% of the heatmap colours.
    static func blend(grey: [Float], colours: [Float]) -> [Float] {
        var out = colours
        for p in 0..<grey.count {
            let g = grey[p] > 0 ? min(grey[p], 1) : 0
            for k in 0..<3 { out[p * 3 + k] = 0.5 * g + 0.5 * colours[p * 3 + k] }
        }
        return out
    }

    /// Interleaved RGB floats in [0, 1] as an 8-bit RGB image.
    static func rgb(_ values: [Float], width: Int, height: Int) -> RasterImage {
        RasterImage(width: width, height: height, channels: 3,
                    pixels: values.map { UInt8((($0 > 0 ? min($0, 1) : 0) * 255).rounded()) })
    }
}
