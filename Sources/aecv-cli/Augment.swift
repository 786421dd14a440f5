import AECV
import AECVData
import ArgumentParser

/// `aecv augment`: labeled synthetic images from a conditional VAE, as .npy files a training
/// script can append to its real data.
struct Augment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate labeled images from a cvae model: --per-class images of every class, to .npy.")

    @Argument(help: ArgumentHelp("A cvae model file.", valueName: "cvae.aecv"))
    var model: String

    @Option(help: "Images per class.")
    var perClass: Int = 1000

    @Option(help: "Seed of the codes (class c uses seed + c).")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("The images: float32 .npy (K·per-class, C, H, W), class by class.", valueName: "synthetic.npy"))
    var out: String = "synthetic.npy"

    @Option(help: ArgumentHelp("The labels: uint8 .npy (K·per-class) (default: <out>_labels.npy).", valueName: "labels.npy"))
    var labelsOut: String?

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if perClass < 1 || perClass > 1_000_000 { throw ValidationError("--per-class must be in 1...1000000, got \(perClass)") }
    }

    var labelsPath: String {
        labelsOut ?? (out.hasSuffix(".npy") ? String(out.dropLast(4)) : out) + "_labels.npy"
    }

    func run() throws {
        compute.apply()
        let net = try loadModel(model)
        guard let classes = net.classCount else {
            throw CLIError("\(model) is a \(net.spec.preset.rawValue) autoencoder, which has no classes; train a cvae (\"preset\": \"cvae\", \"classes\": K) on labeled images")
        }
        guard classes <= 256 else { throw CLIError("\(model) has \(classes) classes; the labels .npy is uint8 (at most 256)") }
        let total = classes * perClass
        try MemoryCheck.require(try MemoryCheck.bytes(total, 4 * net.inputSize, "the images"), "\(total) images")
        var images: [Float] = []
        images.reserveCapacity(total * net.inputSize)
        for c in 0..<classes {
            images += try net.sample(classIndex: c, count: perClass, seed: seed &+ UInt64(c))
        }
        let labels = (0..<classes).flatMap { [UInt8](repeating: UInt8($0), count: perClass) }
        try NPYArray(shape: [total] + net.inputShape, float32: images).write(to: out)
        try NPYArray(shape: [total], elements: .uint8(labels)).write(to: labelsPath)
        Terminal.say("wrote \(out) (\(total) images, \(perClass) per class × \(classes)) and \(labelsPath)")
    }
}
