import AECV
import AECVData
import ArgumentParser

struct Interpolate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode points on the line between the codes of two images, as a PNG grid.",
        discussion: """
            Each row shows image A, the decodings of (1 − t)·code(A) + t·code(B) for --steps values \
            of t from 0 to 1, and image B. The pairs are images (0, 1), (2, 3), … of the data \
            (--pairs of them), or --from I --to J. A VAE's code is its mean.
            """)

    @Argument(help: ArgumentHelp("A model file.", valueName: "model.aecv"))
    var model: String

    @OptionGroup var data: DataOptions

    @Option(help: ArgumentHelp("Index of image A in the data.", valueName: "I"))
    var from: Int?

    @Option(help: ArgumentHelp("Index of image B in the data.", valueName: "J"))
    var to: Int?

    @Option(help: "How many pairs (rows) when --from/--to are not given.")
    var pairs: Int = 4

    @Option(help: "Decoded images per row, t = 0 … 1.")
    var steps: Int = 10

    @Option(help: ArgumentHelp("The PNG to write.", valueName: "interp.png"))
    var out: String = "interpolation.png"

    @Option(help: "Pixels per image pixel (default: about 56 pixels per image).")
    var scale: Int?

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if (from == nil) != (to == nil) { throw ValidationError("give both --from and --to, or neither") }
        if let f = from, f < 0 { throw ValidationError("--from must be at least 0, got \(f)") }
        if let t = to, t < 0 { throw ValidationError("--to must be at least 0, got \(t)") }
        if pairs < 1 || pairs > 1000 { throw ValidationError("--pairs must be in 1...1000, got \(pairs)") }
        if steps < 2 || steps > 1000 { throw ValidationError("--steps must be in 2...1000, got \(steps)") }
        if let s = scale, s < 1 || s > 32 { throw ValidationError("--scale must be in 1...32, got \(s)") }
    }

    func run() throws {
        compute.apply()
        let net = try loadModel(model)
        let chosen: [(Int, Int)] = from.map { [($0, to!)] } ?? (0..<pairs).map { (2 * $0, 2 * $0 + 1) }
        let needed = chosen.map { max($0.0, $0.1) }.max()! + 1
        let loaded = try data.load(defaultSplit: .test, limit: data.limit ?? needed, channels: net.inputShape[0])
        try net.requireInputShape(of: loaded, modelPath: model)
        try requireDrawable(net.inputShape, model)
        guard loaded.dataset.count >= needed else {
            throw CLIError("\(loaded.name) has \(loaded.dataset.count) images; the pairs need \(needed)")
        }
        let shape = net.inputShape
        let images = loaded.dataset.floats()
        var rows: [[RasterImage]] = []
        for pair in chosen {
            let decoded = try net.interpolate(from: loaded.dataset.slice(pair.0, count: 1),
                                              to: loaded.dataset.slice(pair.1, count: 1), steps: steps)
            var row = [tile(images, index: pair.0, shape: shape)]
            row += (0..<steps).map { tile(decoded, index: $0, shape: shape) }
            row.append(tile(images, index: pair.1, shape: shape))
            rows.append(row)
        }
        let image = ImageGrid(rows: rows, scale: gridScale(scale, shape: shape)).render()
        try writePNG(image, to: out)
        Terminal.say("wrote \(out): \(chosen.count) interpolations in \(steps) steps between images of \(loaded.name) (\(image.width)×\(image.height))")
    }
}
