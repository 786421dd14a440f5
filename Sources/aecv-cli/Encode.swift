import AECV
import AECVData
import ArgumentParser

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the codes of images as a NumPy .npy file: float32, shape (N, code size).",
        discussion: "The code of a VAE is its mean; of a conv model, the flattened last feature map.")

    @Argument(help: ArgumentHelp("A model file.", valueName: "model.aecv"))
    var model: String

    @OptionGroup var data: DataOptions

    @Option(help: ArgumentHelp("The .npy file to write.", valueName: "codes.npy"))
    var out: String = "codes.npy"

    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let net = try loadModel(model)
        let loaded = try data.load(defaultSplit: .test, channels: net.inputShape[0])
        try net.requireInputShape(of: loaded, modelPath: model)
        let codes = try encodeAll(net, loaded.dataset.floats())
        let count = loaded.dataset.count
        try NPYArray(shape: [count, net.latentSize], float32: codes).write(to: out)
        Terminal.say("wrote \(out): \(count) codes of \(net.latentSize) floats (float32, shape (\(count), \(net.latentSize))) of \(loaded.name)")
    }
}
