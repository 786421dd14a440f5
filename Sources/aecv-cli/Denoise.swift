import AECV
import AECVData
import ArgumentParser

struct Denoise: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run images through a model (best a denoising one) and write the cleaned images.",
        discussion: """
            --in is a PNG file or a directory of them; --out is then a PNG file or a directory \
            (created if needed; files keep their names). Images must have the model's width and \
            height; grey and RGB are converted to the model's channels.
            """)

    @Argument(help: ArgumentHelp("A model file.", valueName: "model.aecv"))
    var model: String

    @Option(name: .customLong("in"), help: ArgumentHelp("A PNG image or a directory of them.", valueName: "noisy.png|dir"))
    var input: String

    @Option(help: ArgumentHelp("Where to write: a PNG file for one image, a directory for a directory.", valueName: "clean.png|dir"))
    var out: String

    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let net = try loadModel(model)
        let shape = net.inputShape
        try requireDrawable(shape, model)
        let inputs: [String]
        let outputs: [String]
        switch Directory.kind(of: input) {
        case .missing:
            throw CLIError("\(input): no such file or directory")
        case .directory:
            let names = try Directory.entries(of: input).filter { $0.lowercased().hasSuffix(".png") }.sorted()
            guard !names.isEmpty else { throw CLIError("\(input): the directory has no .png images") }
            if Directory.kind(of: out) == .file { throw CLIError("\(out): is a file; --in is a directory, so --out must be one too") }
            try Directory.create(out)
            inputs = names.map { Directory.join(input, $0) }
            outputs = names.map { Directory.join(out, $0) }
        default:
            if Directory.kind(of: out) == .directory {
                inputs = [input]
                outputs = [Directory.join(out, Directory.baseName(input))]
            } else {
                inputs = [input]
                outputs = [out]
            }
        }
        // One image at a time: each is checked (and named in errors) on its own.
        var done = 0
        for (from, to) in zip(inputs, outputs) {
            let raster = try PNG.read(path: from)
            guard raster.height == shape[1], raster.width == shape[2] else {
                throw CLIError("\(from) is \(raster.width)×\(raster.height) but \(model) takes \(shape[2])×\(shape[1]) images")
            }
            let clean = try net.reconstruct(raster.planarFloats(channels: shape[0]))
            try writePNG(RasterImage(planar: clean, shape: shape), to: to)
            done += 1
        }
        Terminal.say(inputs.count == 1 ? "wrote \(outputs[0])" : "wrote \(done) images to \(out)")
    }
}
