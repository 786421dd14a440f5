import AECV
import AECVData
import ArgumentParser

/// `aecv augment`: labeled synthetic images, as .npy files a training script can append to its
/// real data: sampled per class from a conditional VAE, or, for any other model with --data,
/// decoded between the codes of two examples of one class (latent mixup).
struct Augment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate labeled images: --per-class images of every class, to .npy.",
        discussion: """
            A conditional model (cvae, or conv_vae with "classes") samples each class. Any other model needs labeled images (--data, with \
            --labels unless they come with their labels) and makes each image by latent mixup: \
            two different examples a, b of the class and t uniform in [--t-min, --t-max] give \
            decode((1 - t) encode(a) + t encode(b)). Class c draws with seed + c.
            """)

    @Argument(help: ArgumentHelp("A model file: a conditional model (cvae, conv_vae with classes), or any model with --data.", valueName: "model.aecv"))
    var model: String

    @Option(help: ArgumentHelp("Latent mixup (models without classes): labeled images to mix, as --data of train.", valueName: "fashion-mnist|path"))
    var data: String?

    @Option(help: "With --data: which split (default: train).")
    var split: Split = .train

    @Option(help: "With --data: use only the first N images.")
    var limit: Int?

    @OptionGroup var labelOptions: LabelOptions

    @Option(help: "Latent mixup: the smallest t.")
    var tMin: Float = 0

    @Option(help: "Latent mixup: the largest t.")
    var tMax: Float = 1

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
        if !(tMin >= 0 && tMin <= tMax && tMax <= 1) {
            throw ValidationError("--t-min and --t-max must satisfy 0 <= t-min <= t-max <= 1, got \(tMin) and \(tMax)")
        }
        if let limit = limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
    }

    var labelsPath: String {
        labelsOut ?? (out.hasSuffix(".npy") ? String(out.dropLast(4)) : out) + "_labels.npy"
    }

    func run() throws {
        compute.apply()
        let net = try loadModel(model)
        if let data = data {
            guard net.classCount == nil else {
                throw CLIError("\(model) is a conditional \(net.spec.preset.rawValue) model, which samples each class; leave out --data")
            }
            return try mixup(net, data: data)
        }
        guard let classes = net.classCount else {
            throw CLIError("\(model) is a \(net.spec.preset.rawValue) autoencoder, which has no classes; train a conditional model (\"preset\": \"cvae\", or \"conv_vae\", with \"classes\": K) on labeled images, or give --data with labels for latent mixup")
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

    /// Latent mixup over the labeled images of `data`: per class c (sorted), `perClass` images
    /// decoded from (1 - t) z_a + t z_b, a != b examples of c, drawn from RandomSource(seed + c).
    private func mixup(_ net: Autoencoder, data path: String) throws {
        var loaded = try DataSource.load(path, split: split, limit: limit, channels: net.inputShape[0])
        try net.requireInputShape(of: loaded, modelPath: model)
        try labelOptions.attach(to: &loaded, source: path, split: split)
        let labels = Array(loaded.dataset.labels.prefix(loaded.dataset.count))
        let byClass = Dictionary(grouping: labels.indices, by: { labels[$0] })
        let classes = byClass.keys.sorted()
        guard let last = classes.last, last <= 255, classes[0] >= 0 else {
            throw CLIError("\(loaded.name): labels must be in 0...255 (the labels .npy is uint8), got \(classes.first ?? 0)...\(classes.last ?? 0)")
        }
        let total = classes.count * perClass
        try MemoryCheck.require(try MemoryCheck.bytes(total, 4 * net.inputSize, "the images"), "\(total) images")
        let codes = try net.encode(loaded.dataset.floats())
        let l = net.latentSize
        var images: [Float] = []
        images.reserveCapacity(total * net.inputSize)
        var out: [UInt8] = []
        for c in classes {
            let members = byClass[c]!
            guard members.count >= 2 else {
                throw CLIError("\(loaded.name): class \(c) has \(members.count) image; latent mixup needs at least two per class")
            }
            var random = RandomSource(seed: seed &+ UInt64(c))
            var mixed = [Float](repeating: 0, count: perClass * l)
            for i in 0..<perClass {
                let first = Int(random.next() % UInt64(members.count))
                // a different second example: 1 ... count-1 places further along the class
                let second = (first + 1 + Int(random.next() % UInt64(members.count - 1))) % members.count
                let t = tMin + (tMax - tMin) * random.uniform(0, 1)
                let (a, b) = (members[first] * l, members[second] * l)
                for j in 0..<l { mixed[i * l + j] = (1 - t) * codes[a + j] + t * codes[b + j] }
            }
            images += try net.decode(mixed)
            out += [UInt8](repeating: UInt8(c), count: perClass)
        }
        try NPYArray(shape: [total] + net.inputShape, float32: images).write(to: self.out)
        try NPYArray(shape: [total], elements: .uint8(out)).write(to: labelsPath)
        Terminal.say("wrote \(self.out) (\(total) images by latent mixup, \(perClass) per class × \(classes.count)) and \(labelsPath)")
    }
}
