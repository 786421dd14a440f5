import AECV
import AECVData
import ArgumentParser

struct Reconstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw images (top rows) above their reconstructions (rows below) as a PNG grid.",
        discussion: "With --noise σ, each group has three rows: clean, noisy input, reconstruction.")

    @Argument(help: ArgumentHelp("A model file.", valueName: "model.aecv"))
    var model: String

    @OptionGroup var data: DataOptions

    @Option(help: ArgumentHelp("The PNG to write.", valueName: "grid.png"))
    var out: String = "reconstructions.png"

    @Option(help: "Images per row.")
    var columns: Int = 8

    @Option(help: "Pixels per image pixel (default: about 56 pixels per image).")
    var scale: Int?

    @Option(help: ArgumentHelp("Corrupt the inputs with Gaussian noise of this standard deviation.", valueName: "σ"))
    var noise: Float?

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if columns < 1 || columns > 1024 { throw ValidationError("--columns must be in 1...1024, got \(columns)") }
        if let s = scale, s < 1 || s > 32 { throw ValidationError("--scale must be in 1...32, got \(s)") }
        if let s = noise, !(s >= 0 && s <= 10) { throw ValidationError("--noise must be in [0, 10], got \(s)") }
    }

    func run() throws {
        compute.apply()
        let net = try loadModel(model)
        let loaded = try data.load(defaultSplit: .test, limit: data.limit ?? 32, channels: net.inputShape[0])
        try net.requireInputShape(of: loaded, modelPath: model)
        try requireDrawable(net.inputShape, model)
        let shape = net.inputShape
        let clean = loaded.dataset.floats()
        let inputs = noise.map { addNoise(clean, sigma: $0, seed: 1) } ?? clean
        let outputs = try reconstructAll(net, inputs)
        let count = loaded.dataset.count
        var rows: [[RasterImage]] = []
        for start in stride(from: 0, to: count, by: columns) {
            let indices = start..<min(count, start + columns)
            rows.append(indices.map { tile(clean, index: $0, shape: shape) })
            if noise != nil { rows.append(indices.map { tile(inputs, index: $0, shape: shape) }) }
            rows.append(indices.map { tile(outputs, index: $0, shape: shape) })
        }
        var grid = ImageGrid(rows: rows, scale: gridScale(scale, shape: shape))
        grid.groupSize = noise == nil ? 2 : 3
        let image = grid.render()
        try writePNG(image, to: out)
        Terminal.say("wrote \(out): \(count) images of \(loaded.name) above their reconstructions (\(image.width)×\(image.height))")
    }
}
