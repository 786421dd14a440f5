import AECV
import AECVData
import ArgumentParser

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Find objects in images with a detector (.aecvd) and write the boxes as JSON and overlays.",
        discussion: """
            --in is a PNG image or a directory of them (the detector's width and height; grey and \
            RGB are converted to its channels). --json receives, per image, its detections \
            {"class", "name", "score", "box": [x_min, y_min, x_max, y_max]} in pixels. --out is a \
            PNG (one image) or a directory: the image scaled up with labelled boxes. Detectors are \
            made with the C API, the Python binding (aecv.Detector) or Swift.
            """)

    @Argument(help: ArgumentHelp("A detector file.", valueName: "detector.aecvd"))
    var detector: String

    @Option(name: .customLong("in"), help: ArgumentHelp("A PNG image or a directory of them.", valueName: "image.png|dir"))
    var input: String

    @Option(help: ArgumentHelp("Where to write the boxes (JSON); '-' for standard output.", valueName: "boxes.json"))
    var json: String = "-"

    @Option(help: ArgumentHelp("Overlay PNG (one image) or directory (several).", valueName: "overlay.png|dir"))
    var out: String?

    @Option(help: "Keep detections with at least this score.")
    var scoreThreshold: Float = 0.3

    @Option(help: "Per-class NMS: drop a box overlapping a better one of its class above this IoU.")
    var iouThreshold: Float = 0.5

    @Option(help: "Class names, comma-separated (default: fashion-mnist's when there are 10 classes).")
    var classNames: String?

    @OptionGroup var compute: ComputeOptions

    static let fashionNames = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                               "sneaker", "bag", "boot"]

    func run() throws {
        compute.apply()
        let det = try Detector(contentsOf: detector)
        let shape = det.inputShape
        guard shape[0] == 1 || shape[0] == 3 else { throw CLIError("\(detector): takes \(shape[0])-channel images; PNG input needs 1 or 3") }
        let names = classNames.map { $0.split(separator: ",").map(String.init) }
            ?? (det.classes == 10 ? Detect.fashionNames : (0..<det.classes).map(String.init))
        let paths: [String]
        switch Directory.kind(of: input) {
        case .missing: throw CLIError("\(input): no such file or directory")
        case .directory:
            paths = try Directory.entries(of: input).filter { $0.lowercased().hasSuffix(".png") }.sorted().map { Directory.join(input, $0) }
            guard !paths.isEmpty else { throw CLIError("\(input): the directory has no .png images") }
        default: paths = [input]
        }
        var entries: [String] = []
        for path in paths {
            let raster = try PNG.read(path: path)
            guard raster.height == shape[1], raster.width == shape[2] else {
                throw CLIError("\(path) is \(raster.width)×\(raster.height) but \(detector) takes \(shape[2])×\(shape[1]) images")
            }
            let x = raster.planarFloats(channels: shape[0])
            let found = try x.withUnsafeBufferPointer {
                try det.detect(images: $0, batch: 1, scoreThreshold: scoreThreshold, iouThreshold: iouThreshold)[0]
            }
            let items = found.map { d -> String in
                let name = d.classIndex < names.count ? names[d.classIndex] : "\(d.classIndex)"
                return "{\"class\": \(d.classIndex), \"name\": \(jsonString(name)), \"score\": \(d.score), "
                    + "\"box\": [\(d.xMin), \(d.yMin), \(d.xMax), \(d.yMax)]}"
            }
            entries.append("  {\"image\": \(jsonString(path)), \"detections\": [\(items.joined(separator: ", "))]}")
            if let out {
                let target = paths.count == 1 && Directory.kind(of: out) != .directory
                    ? out : Directory.join(out, Directory.baseName(path))
                if paths.count > 1 { try Directory.create(out) }
                let overlay = DetectionOverlay(image: raster, boxes: found.map {
                    .init(classIndex: $0.classIndex, score: $0.score, xMin: $0.xMin, yMin: $0.yMin, xMax: $0.xMax, yMax: $0.yMax)
                }, classNames: names)
                try writePNG(overlay.render(), to: target)
            }
        }
        let text = "[\n" + entries.joined(separator: ",\n") + "\n]\n"
        if json == "-" { print(text, terminator: "") } else {
            try FileIO.writeAtomically(path: json, bytes: Array(text.utf8))
            Terminal.say("wrote \(json) (\(paths.count) image\(paths.count == 1 ? "" : "s"))")
        }
    }

    private func jsonString(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            default: r += u.value < 0x20 ? "\\u" + String(u.value, radix: 16).leftPadded(4) : String(u)
            }
        }
        return r + "\""
    }
}

private extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
