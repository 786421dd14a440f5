import AECV
import AECVData
import ArgumentParser

/// `aecv anomaly`: anomaly detection from reconstruction error (issue 8).
struct Anomaly: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Anomaly detection from reconstruction error: calibrate, score, draw heatmaps, benchmark on MVTec AD.",
        discussion: """
            A model trained on normal images only reconstructs them well and anything else worse. \
            Metrics (--metric): mse (squared error per pixel), ssim (1 − SSIM per pixel, 11×11 \
            Gaussian window) and blurred_mse (squared error after a σ = 1 Gaussian blur of the \
            difference). An image's pixel map is the metric's map averaged over channels; images \
            larger than the model's input are cut into overlapping tiles of its size (every \
            --tile-stride pixels, default half a tile) whose maps are averaged. An image's score \
            is the --reduction of its map: mean (default), max, or top_mean:F (the mean of the \
            largest fraction F of the pixels). 'fit' calibrates thresholds on normal images and \
            stores them in the model file, so that 'score', 'heatmap', the C API and Python all \
            decide alike from that one file; 'bench' trains, calibrates and evaluates on an MVTec \
            AD category folder.
            """,
        subcommands: [AnomalyFit.self, AnomalyScore.self, AnomalyHeatmap.self, AnomalyBench.self])
}

extension AnomalyMetric: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public var defaultValueDescription: String { name }
    public static var allValueStrings: [String] { allCases.map(\.name) }
}

extension ScoreReduction {
    /// The `transform` of every --reduction option: the core's parser, its message as the
    /// option's error (ArgumentParser's own "is invalid" would not say what is allowed).
    static func argument(_ text: String) throws -> ScoreReduction {
        do { return try ScoreReduction(name: text) } catch let error as AECVError {
            throw ValidationError(error.message)
        }
    }
}

/// --metric, --reduction and --tile-stride: how maps and scores are computed.
struct ScoringOptions: ParsableArguments {
    @Option(help: ArgumentHelp("mse, ssim or blurred_mse (default: the model's calibration, else mse).", valueName: "metric"))
    var metric: AnomalyMetric?

    @Option(help: ArgumentHelp("Image score from its pixel map: mean, max, top_mean (1%) or top_mean:F (default: the model's calibration, else mean).", valueName: "reduction"),
            transform: { try ScoreReduction.argument($0) })
    var reduction: ScoreReduction?

    @Option(help: ArgumentHelp("Images larger than the model's input: pixels between tile origins, 0 = half a tile (default: the model's calibration, else 0).", valueName: "pixels"))
    var tileStride: Int?

    func validate() throws {
        if let t = tileStride, t < 0 { throw ValidationError("--tile-stride must be 0 (half a tile) or positive, got \(t)") }
    }

    /// True when none of the three was given.
    var isDefault: Bool { metric == nil && reduction == nil && tileStride == nil }

    /// The scoring: the model's calibration (`stored`; options given must agree with it, so
    /// that nothing decides differently from the file), else the options with their defaults.
    func scoring(stored: AnomalyScoring?, modelPath: String) throws -> AnomalyScoring {
        if let stored {
            func mismatch(_ option: String, _ given: String, _ saved: String) -> CLIError {
                CLIError("\(option) \(given) does not match the calibration stored in \(modelPath) (\(saved)); leave it out, or calibrate again with 'aecv anomaly fit'")
            }
            if let m = metric, m != stored.metric { throw mismatch("--metric", m.name, stored.metric.name) }
            if let r = reduction, r != stored.reduction { throw mismatch("--reduction", r.name, stored.reduction.name) }
            if let t = tileStride, t != stored.tileStride { throw mismatch("--tile-stride", "\(t)", "\(stored.tileStride)") }
            return stored
        }
        return try AnomalyScoring(metric: metric ?? .mse, reduction: reduction ?? .mean, tileStride: tileStride ?? 0)
    }
}

/// The model argument, --data/--split/--limit, the scoring options and --threads, shared by
/// 'fit' and 'score'.
struct AnomalyInputs: ParsableArguments {
    @Argument(help: ArgumentHelp("A model file (trained on normal images).", valueName: "model.aecv"))
    var model: String

    @OptionGroup var data: DataOptions

    @OptionGroup var scoringOptions: ScoringOptions

    @OptionGroup var compute: ComputeOptions

    var metric: AnomalyMetric? { scoringOptions.metric }

    /// The model and its images: of its input shape, or larger with its channels (tiled).
    func load(defaultSplit: Split, limit: Int? = nil) throws -> (Autoencoder, LoadedData) {
        compute.apply()
        let net = try loadModel(model)
        let loaded = try data.load(defaultSplit: defaultSplit, limit: limit, channels: net.inputShape[0])
        try net.requireScorableShape(of: loaded, modelPath: model)
        return (net, loaded)
    }
}

extension Autoencoder {
    /// Anomaly maps and scores take the model's input shape or larger images with its channels.
    func requireScorableShape(of data: LoadedData, modelPath: String) throws {
        let s = data.dataset.shape, input = inputShape
        if s == input || (s.count == 3 && s[0] == input[0] && s[1] >= input[1] && s[2] >= input[2]) { return }
        throw CLIError("\(modelPath) takes \(describeShape(input)) images (or larger ones with \(input[0]) channel\(input[0] == 1 ? "" : "s"), scored by tiles), but \(data.name) has \(describeShape(s)) images")
    }

    /// Image scores of (N, C, H, W) images by `scoring` (tiled when larger than the input).
    func imageScores(_ images: [Float], shape: [Int], scoring: AnomalyScoring) throws -> [Float] {
        let n = images.count / shape.reduce(1, *)
        var scores = [Float](repeating: 0, count: n)
        try images.withUnsafeBufferPointer { x in
            try scores.withUnsafeMutableBufferPointer {
                try anomalyImageScores(inputs: x, batch: n, height: shape[1], width: shape[2], scoring: scoring, into: $0)
            }
        }
        return scores
    }
}

/// A threshold file: {"metric", "quantile", "threshold", "n"}, and from 'fit' with a stored
/// calibration also "reduction", "tile_stride" and "pixel_threshold".
struct AnomalyThresholdFile {
    var metric: AnomalyMetric
    var quantile: Double
    var threshold: Float
    var n: Int
    var reduction: ScoreReduction? = nil
    var tileStride: Int? = nil
    var pixelThreshold: Float? = nil

    var json: JSONValue {
        var members = [JSONMember("metric", .string(metric.name)), JSONMember("quantile", .double(quantile)),
                       JSONMember("threshold", .double(Double(threshold))), JSONMember("n", .int(Int64(n)))]
        if let reduction { members.append(JSONMember("reduction", .string(reduction.name))) }
        if let tileStride { members.append(JSONMember("tile_stride", .int(Int64(tileStride)))) }
        if let pixelThreshold { members.append(JSONMember("pixel_threshold", .double(Double(pixelThreshold)))) }
        return .object(members)
    }

    /// The scoring the file was made with (mean and no tiling for files without it).
    var scoring: AnomalyScoring {
        get throws { try AnomalyScoring(metric: metric, reduction: reduction ?? .mean, tileStride: tileStride ?? 0) }
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
        var file = AnomalyThresholdFile(metric: metric, quantile: quantile, threshold: Float(threshold), n: n)
        if let r = value["reduction"] {
            guard let text = r.asString, let reduction = try? ScoreReduction(name: text) else { throw bad("unknown \"reduction\"") }
            file.reduction = reduction
        }
        if let t = value["tile_stride"] {
            guard let stride = t.asInt, stride >= 0, stride <= Int64(Int32.max) else { throw bad("invalid \"tile_stride\"") }
            file.tileStride = Int(stride)
        }
        file.pixelThreshold = value["pixel_threshold"]?.asDouble.map { Float($0) }
        return file
    }
}

struct AnomalyFit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Calibrate thresholds on normal images and store them in the model file.",
        discussion: """
            The image threshold is the --quantile of the images' scores and the pixel threshold \
            that of all their pixels' map values (with 0.99, about 1% of normal images are \
            flagged); quantiles interpolate linearly, as numpy's np.quantile. The thresholds and \
            the scoring (--metric, --reduction, --tile-stride) are stored in the model (its \
            calibration), which is written back in place (atomically) or to --out; 'score', \
            'heatmap', aecv_model_anomaly_predict and Python's AnomalyDetector then decide the \
            same way from that file. --threshold-file also writes {"metric", "quantile", \
            "threshold", "n", "reduction", "tile_stride", "pixel_threshold"}. An --out ending in \
            .json writes only the threshold file of earlier versions ({"metric", "quantile", \
            "threshold", "n"}, mean scores) and leaves the model unchanged. --split defaults to \
            train.
            """)

    @OptionGroup var inputs: AnomalyInputs

    @Option(help: "The quantile of the normal images' scores (and pixels) to use as thresholds, in [0, 1].")
    var quantile: Double = 0.99

    @Option(help: ArgumentHelp("Where to write the calibrated model (default: the model file itself); a .json name writes only a threshold file.", valueName: "model.aecv"))
    var out: String?

    @Option(help: ArgumentHelp("Also write the thresholds as JSON.", valueName: "threshold.json"))
    var thresholdFile: String?

    private var legacyJSON: Bool { out?.lowercased().hasSuffix(".json") ?? false }

    func validate() throws {
        if !(quantile >= 0 && quantile <= 1) { throw ValidationError("--quantile must be in [0, 1], got \(quantile)") }
        if legacyJSON && (inputs.scoringOptions.reduction != nil || inputs.scoringOptions.tileStride != nil) {
            throw ValidationError("--reduction and --tile-stride are stored in the model: give --out MODEL.aecv (or leave --out out), and --threshold-file for a JSON copy")
        }
    }

    func run() throws {
        let (net, loaded) = try inputs.load(defaultSplit: .train)
        if legacyJSON { return try writeLegacyThreshold(net, loaded) }
        let shape = loaded.dataset.shape
        let scoring = try inputs.scoringOptions.scoring(stored: nil, modelPath: inputs.model)
        let c = try loaded.dataset.floats().withUnsafeBufferPointer {
            try net.calibrateAnomaly(inputs: $0, batch: loaded.dataset.count, height: shape[1], width: shape[2],
                                     scoring: scoring, quantile: quantile)
        }
        let target = out ?? inputs.model
        _ = try FileIO.resolveTarget(target)
        let parent = Directory.parentOf(target)
        if Directory.kind(of: parent) == .missing { try Directory.create(parent) }
        try net.save(to: target)
        Terminal.say("thresholds: image \(c.imageThreshold), pixel \(c.pixelThreshold) (\(scoring.metric.name), "
                     + "\(scoring.reduction.name), \(quantile) quantile of \(c.count) images of \(loaded.name))")
        Terminal.say("stored the calibration in \(target)")
        if let thresholdFile {
            try AnomalyThresholdFile(metric: scoring.metric, quantile: quantile, threshold: c.imageThreshold, n: c.count,
                                     reduction: scoring.reduction, tileStride: scoring.tileStride,
                                     pixelThreshold: c.pixelThreshold).write(to: thresholdFile)
            Terminal.say("wrote \(thresholdFile)")
        }
    }

    /// --out *.json: the threshold file of earlier versions only (mean scores, model untouched).
    private func writeLegacyThreshold(_ net: Autoencoder, _ loaded: LoadedData) throws {
        try net.requireInputShape(of: loaded, modelPath: inputs.model)
        let metric = inputs.metric ?? .mse
        let scores = try net.anomalyScores(loaded.dataset.floats(), metric: metric)
        let threshold = try anomalyThreshold(scores: scores, quantile: quantile)
        let file = AnomalyThresholdFile(metric: metric, quantile: quantile, threshold: threshold, n: scores.count)
        for path in [out!] + (thresholdFile.map { [$0] } ?? []) { try file.write(to: path) }
        Terminal.say("threshold \(threshold) (\(metric.name), \(quantile) quantile of the scores of \(scores.count) images of \(loaded.name))")
        Terminal.say("wrote \(out!) (the model is unchanged)")
    }
}

struct AnomalyScore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score images (higher = more anomalous) and flag those above the model's threshold.",
        discussion: """
            A calibrated model ('aecv anomaly fit') scores and flags images with its stored \
            scoring and image threshold (score > threshold), as aecv_model_anomaly_predict does; \
            --threshold-file uses a threshold file instead. Images may be larger than the \
            model's input (scored by tiles). --out: a .csv (index,score and, with a threshold, \
            anomalous as 0/1) or a .npy (float32 scores, shape (N,)); without --out only the \
            summary is printed.
            """)

    @OptionGroup var inputs: AnomalyInputs

    @Option(help: ArgumentHelp("A threshold file written by 'aecv anomaly fit' (instead of the model's calibration).", valueName: "threshold.json"))
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
        let (net, loaded) = try inputs.load(defaultSplit: .test)
        let images = loaded.dataset.floats(), shape = loaded.dataset.shape
        let options = inputs.scoringOptions
        var scores: [Float]
        var flags: [UInt8]? = nil
        var decision: String? = nil
        let scoring: AnomalyScoring
        if let file {
            scoring = try file.scoring
            // A threshold file of mean scores on images of the input's size: the scores it
            // was made from (anomalyScores, the mean over C·H·W).
            if file.reduction == nil && file.tileStride == nil && shape == net.inputShape {
                scores = try net.anomalyScores(images, metric: scoring.metric)
            } else {
                scores = try net.imageScores(images, shape: shape, scoring: scoring)
            }
            flags = scores.map { $0 > file.threshold ? 1 : 0 }
            decision = "score > \(file.threshold) from \(thresholdFile!)"
        } else if let c = net.anomalyCalibration {
            scoring = try options.scoring(stored: c.scoring, modelPath: inputs.model)
            scores = [Float](repeating: 0, count: loaded.dataset.count)
            var f = [UInt8](repeating: 0, count: loaded.dataset.count)
            try images.withUnsafeBufferPointer { x in
                try scores.withUnsafeMutableBufferPointer { s in
                    try f.withUnsafeMutableBufferPointer {
                        try net.anomalyPredict(inputs: x, batch: loaded.dataset.count, height: shape[1], width: shape[2],
                                               scores: s, flags: $0)
                    }
                }
            }
            flags = f
            decision = "score > \(c.imageThreshold), the threshold stored in \(inputs.model)"
        } else {
            scoring = try options.scoring(stored: nil, modelPath: inputs.model)
            scores = options.reduction == nil && options.tileStride == nil && shape == net.inputShape
                ? try net.anomalyScores(images, metric: scoring.metric)
                : try net.imageScores(images, shape: shape, scoring: scoring)
        }
        if let out {
            let parent = Directory.parentOf(out)
            if Directory.kind(of: parent) == .missing { try Directory.create(parent) }
            if out.lowercased().hasSuffix(".npy") {
                try NPYArray(shape: [scores.count], float32: scores).write(to: out)
            } else {
                var text = flags == nil ? "index,score\n" : "index,score,anomalous\n"
                for (i, s) in scores.enumerated() {
                    text += "\(i),\(s)" + (flags.map { $0[i] != 0 ? ",1" : ",0" } ?? "") + "\n"
                }
                try FileIO.writeAtomically(path: out, bytes: Array(text.utf8))
            }
        }
        let mean = scores.reduce(0.0) { $0 + Double($1) } / Double(scores.count)
        let how = scoring.metric.name + (scoring.reduction == .mean ? "" : ", \(scoring.reduction.name)")
        Terminal.say("\(scores.count) images of \(loaded.name) (\(how)): mean score \(TextFormat.significant(mean, 5)), "
                     + "min \(scores.min()!), max \(scores.max()!)")
        if let flags, let decision {
            let k = flags.filter { $0 != 0 }.count
            Terminal.say("flagged \(k) of \(scores.count) as anomalous (\(decision))")
        }
        if let out { Terminal.say("wrote \(out)") }
    }
}

struct AnomalyHeatmap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heatmap",
        abstract: "Draw images next to their anomaly heatmaps (and, for a calibrated model, the thresholded mask) as PNGs.",
        discussion: """
            --data: a grid, in groups of rows: the images in grey, their anomaly maps (black → \
            red → yellow → white, scaled by the largest value of all the maps drawn), a 50% blend \
            of the two, and for a calibrated model the pixels above its pixel threshold. \
            --limit defaults to 16. --images FILE|FOLDER: images of any size at least the \
            model's input (e.g. 1024×1024 photographs, scored by tiles), one PNG per image: \
            image | heatmap | blend (| thresholded mask); the heatmap is scaled by the image's \
            largest value, or for a calibrated model so that the pixel threshold is mid-ramp. \
            --out is the PNG for one image, and a folder (default heatmaps/) for a folder.
            """)

    @Argument(help: ArgumentHelp("A model file (trained on normal images).", valueName: "model.aecv"))
    var model: String

    @Option(help: ArgumentHelp("Images of the model's size, drawn as one grid (the formats of 'aecv train --data').", valueName: "path"))
    var data: String?

    @Option(help: "With --data: which split (default test).")
    var split: Split?

    @Option(help: "With --data: use only the first N images (default 16).")
    var limit: Int?

    @Option(help: ArgumentHelp("A JPEG/PNG image or a folder of them (recursive), of any size at least the model's input.", valueName: "FILE|FOLDER"))
    var images: String?

    @Option(help: "Resize images: shorter side to N, then the centred N×N crop (as 'aecv train --size').")
    var size: Int?

    @OptionGroup var scoringOptions: ScoringOptions

    @OptionGroup var compute: ComputeOptions

    @Option(help: ArgumentHelp("The PNG to write (a folder for --images FOLDER).", valueName: "overlay.png"))
    var out: String?

    @Option(help: "Images per row (--data).")
    var columns: Int = 8

    @Option(help: "Pixels per image pixel (--data; default: about 56 pixels per image).")
    var scale: Int?

    func validate() throws {
        if (data == nil) == (images == nil) { throw ValidationError("give --data (a grid) or --images (one PNG per image), one of them") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if let s = size, s < 1 || s > 8192 { throw ValidationError("--size must be in 1...8192, got \(s)") }
        if columns < 1 || columns > 1024 { throw ValidationError("--columns must be in 1...1024, got \(columns)") }
        if let s = scale, s < 1 || s > 32 { throw ValidationError("--scale must be in 1...32, got \(s)") }
    }

    func run() throws {
        compute.apply()
        let net = try loadModel(model)
        let scoring = try scoringOptions.scoring(stored: net.anomalyCalibration?.scoring, modelPath: model)
        if let images { return try drawEach(net, images, scoring: scoring) }
        let loaded = try DataSource.load(data!, split: split ?? .test, limit: limit ?? 16, channels: net.inputShape[0],
                                         images: ImageOptions(size: size, channels: nil))
        try net.requireScorableShape(of: loaded, modelPath: model)
        let shape = loaded.dataset.shape, count = loaded.dataset.count
        let images = loaded.dataset.floats()
        let (heat, masks) = try AnomalyOverlay.maps(net, images, count: count, height: shape[1],
                                                    width: shape[2], scoring: scoring)
        let grey = AnomalyOverlay.channelMeans(images, shape: shape)
        let largest = heat.max() ?? 0
        let plane = shape[1] * shape[2], tileShape = [1, shape[1], shape[2]]
        var rows: [[RasterImage]] = []
        for start in stride(from: 0, to: count, by: columns) {
            let indices = start..<min(count, start + columns)
            var imageRow: [RasterImage] = [], heatRow: [RasterImage] = [], blendRow: [RasterImage] = [], maskRow: [RasterImage] = []
            for i in indices {
                let g = Array(grey[(i * plane)..<((i + 1) * plane)])
                let h = Array(heat[(i * plane)..<((i + 1) * plane)])
                imageRow.append(RasterImage(planar: g, shape: tileShape))
                let colours = AnomalyOverlay.colours(h, largest: largest)
                heatRow.append(AnomalyOverlay.rgb(colours, width: shape[2], height: shape[1]))
                blendRow.append(AnomalyOverlay.rgb(AnomalyOverlay.blend(grey: g, colours: colours),
                                                   width: shape[2], height: shape[1]))
                if let masks { maskRow.append(AnomalyOverlay.mask(masks[(i * plane)..<((i + 1) * plane)], width: shape[2], height: shape[1])) }
            }
            rows += [imageRow, heatRow, blendRow] + (masks == nil ? [] : [maskRow])
        }
        var grid = ImageGrid(rows: rows, scale: gridScale(scale, shape: shape))
        grid.groupSize = masks == nil ? 3 : 4
        let image = grid.render()
        let path = out ?? "anomaly.png"
        try writePNG(image, to: path)
        Terminal.say("wrote \(path): \(count) images of \(loaded.name) above their \(scoring.metric.name) anomaly maps "
                     + "(scaled to \(largest)) and the blends" + (masks == nil ? "" : " and the thresholded masks")
                     + " (\(image.width)×\(image.height))")
    }

    /// --images: one PNG per image, image | heatmap | blend (| mask).
    func drawEach(_ net: Autoencoder, _ path: String, scoring: AnomalyScoring) throws {
        let isFolder = Directory.kind(of: path) == .directory
        if Directory.kind(of: path) == .missing { throw CLIError("\(path): no such file or directory") }
        let files = isFolder ? try ImageFolder(path: path).files : [path]
        let target = out ?? (isFolder ? "heatmaps" : "anomaly.png")
        if isFolder {
            if target.lowercased().hasSuffix(".png") { throw CLIError("--out \(target): --images \(path) is a folder, so --out names a folder (one PNG per image)") }
            try Directory.create(target)
        }
        let channels = net.inputShape[0]
        let calibration = net.anomalyCalibration
        for file in files {
            var image = try ImageFile.read(path: file).converted(channels: channels)
            if let size { image = image.shorterSideResizedAndCentreCropped(size) }
            let (h, w) = (image.height, image.width)
            if h < net.inputShape[1] || w < net.inputShape[2] {
                throw CLIError("\(file): \(w)×\(h) is smaller than the model's input \(net.inputShape[2])×\(net.inputShape[1])")
            }
            var x = [Float](repeating: 0, count: channels * h * w)
            x.withUnsafeMutableBufferPointer { image.writePlanar(into: $0.baseAddress!) }
            let (map, masks) = try AnomalyOverlay.maps(net, x, count: 1, height: h, width: w, scoring: scoring)
            let largest = calibration.map { 2 * $0.pixelThreshold } ?? (map.max() ?? 0)
            let grey = AnomalyOverlay.channelMeans(x, shape: [channels, h, w])
            let colours = AnomalyOverlay.colours(map, largest: largest)
            var panels = [RasterImage(planar: grey, shape: [1, h, w]), AnomalyOverlay.rgb(colours, width: w, height: h),
                          AnomalyOverlay.rgb(AnomalyOverlay.blend(grey: grey, colours: colours), width: w, height: h)]
            if let masks { panels.append(AnomalyOverlay.mask(masks[...], width: w, height: h)) }
            let picture = ImageGrid(rows: [panels]).render()
            let destination: String
            if isFolder {
                let relative = String(file.dropFirst(path.count).drop(while: { $0 == "/" }))
                var stem = relative.replacingSlashes()
                if let dot = stem.lastIndex(of: ".") { stem = String(stem[..<dot]) }
                destination = Directory.join(target, stem + ".png")
            } else {
                destination = target
            }
            try writePNG(picture, to: destination)
            Terminal.say("wrote \(destination): \(file) (\(w)×\(h), \(scoring.metric.name)"
                         + (masks.map { ", \($0.filter { $0 != 0 }.count) pixels above the threshold" } ?? "") + ")")
        }
    }
}

extension String {
    /// "a/b/c.png" → "a_b_c.png": one file name for a path inside a folder.
    func replacingSlashes() -> String { String(map { $0 == "/" ? "_" : $0 }) }
}

/// The pictures of `aecv anomaly heatmap`.
enum AnomalyOverlay {
    /// Pixel maps (N, H, W) of images (N, C, H, W) by `scoring`, and for a calibrated model the
    /// masks of its pixel threshold (`anomalySegment`, the C API's decision).
    static func maps(_ net: Autoencoder, _ images: [Float], count: Int, height: Int, width: Int,
                     scoring: AnomalyScoring) throws -> (maps: [Float], masks: [UInt8]?) {
        var maps = [Float](repeating: 0, count: count * height * width)
        var masks: [UInt8]? = nil
        try images.withUnsafeBufferPointer { x in
            try maps.withUnsafeMutableBufferPointer { m in
                if net.anomalyCalibration != nil {
                    var k = [UInt8](repeating: 0, count: count * height * width)
                    try k.withUnsafeMutableBufferPointer {
                        try net.anomalySegment(inputs: x, batch: count, height: height, width: width, maps: m, masks: $0)
                    }
                    masks = k
                } else {
                    try net.anomalyPixelMaps(inputs: x, batch: count, height: height, width: width, scoring: scoring, into: m)
                }
            }
        }
        return (maps, masks)
    }

    /// A mask (H·W bytes, non-zero = anomalous) as white on black.
    static func mask(_ bytes: ArraySlice<UInt8>, width: Int, height: Int) -> RasterImage {
        RasterImage(width: width, height: height, channels: 1, pixels: bytes.map { $0 != 0 ? 255 : 0 })
    }

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
