import AECV
import AECVData
import ArgumentParser

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw new images from a generative model (vae, conv_vae): codes from N(0, I), decoded.")

    @Argument(help: ArgumentHelp("A vae or conv_vae model file.", valueName: "model.aecv"))
    var model: String

    @Option(name: [.customShort("n"), .long], help: "How many images.")
    var count: Int = 64

    @Option(help: "Seed of the codes.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("The PNG to write.", valueName: "samples.png"))
    var out: String = "samples.png"

    @Option(help: "Images per row.")
    var columns: Int = 8

    @Option(help: "Pixels per image pixel (default: about 56 pixels per image).")
    var scale: Int?

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if count < 1 || count > 100_000 { throw ValidationError("-n must be in 1...100000, got \(count)") }
        if columns < 1 || columns > 1024 { throw ValidationError("--columns must be in 1...1024, got \(columns)") }
        if let s = scale, s < 1 || s > 32 { throw ValidationError("--scale must be in 1...32, got \(s)") }
    }

    func run() throws {
        compute.apply()
        let net = try loadModel(model)
        guard net.isGenerative else {
            throw CLIError("\(model) is a \(net.spec.preset.rawValue) autoencoder, which cannot sample; train a vae or conv_vae (aecv train --preset vae)")
        }
        try requireDrawable(net.inputShape, model)
        let images = try net.sample(count: count, seed: seed)
        let shape = net.inputShape
        var rows: [[RasterImage]] = []
        for start in stride(from: 0, to: count, by: columns) {
            rows.append((start..<min(count, start + columns)).map { tile(images, index: $0, shape: shape) })
        }
        let image = ImageGrid(rows: rows, scale: gridScale(scale, shape: shape)).render()
        try writePNG(image, to: out)
        Terminal.say("wrote \(out): \(count) samples of \(model) (\(image.width)×\(image.height))")
    }
}
