#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import AECV
import AECVData
import ArgumentParser

enum Split: String, ExpressibleByArgument, CaseIterable {
    case train, test

    var other: Split { self == .train ? .test : .train }
}

/// --data, --split and --limit, shared by the commands that read images.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "fashion-mnist, an IDX file (.gz or not), a directory of MNIST-style IDX files, a .npy file, a JPEG or PNG image, or a folder of .jpg/.jpeg/.png images (recursive).",
        valueName: "fashion-mnist|path"))
    var data: String

    @Option(help: "Which split of fashion-mnist or of an IDX directory (default: train for 'train', test otherwise).")
    var split: Split?

    @Option(help: "Use only the first N images.")
    var limit: Int?

    @Option(help: "Images (JPEG/PNG): resize the shorter side to N, then crop the centred N×N square (as torchvision's Resize + CenterCrop; bilinear with antialias, as Pillow).")
    var size: Int?

    @Flag(help: "Images (JPEG/PNG): convert to grey (1 channel).")
    var grey = false

    @Flag(help: "Images (JPEG/PNG): convert to RGB (3 channels).")
    var rgb = false

    @Flag(help: "Images (JPEG/PNG): leave out unreadable images with a warning and a count instead of stopping.")
    var skipBad = false

    func validate() throws {
        if let limit = limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if let s = size, s < 1 || s > 8192 { throw ValidationError("--size must be in 1...8192, got \(s)") }
        if grey && rgb { throw ValidationError("give --grey or --rgb, not both") }
    }

    /// Channels asked for on the command line (nil: the model's or the images' own).
    var requestedChannels: Int? { grey ? 1 : (rgb ? 3 : nil) }

    var imageOptions: ImageOptions {
        ImageOptions(size: size, channels: requestedChannels, skipBad: skipBad)
    }

    /// Loads the images (see `DataSource`).
    /// classFolders: an image folder's subfolders are its classes (the labels).
    func load(defaultSplit: Split, limit overrideLimit: Int? = nil, channels: Int? = nil,
              classFolders: Bool = false) throws -> LoadedData {
        try DataSource.load(data, split: split ?? defaultSplit, limit: overrideLimit ?? limit,
                            channels: channels ?? requestedChannels, images: imageOptions, classFolders: classFolders)
    }
}

/// How JPEG and PNG images are prepared (--size, --grey/--rgb, --skip-bad).
struct ImageOptions {
    var size: Int?
    var channels: Int?
    var skipBad = false

    /// The preprocessing for `files`: `channels` (the model's) or the requested ones, else 3 if
    /// the first readable image has colour, else 1.
    func preprocessing(channels modelChannels: Int?, firstFile: String) throws -> ImagePreprocessing {
        var c = modelChannels ?? channels
        if c == nil { c = try ImageFile.read(path: firstFile).isGrey ? 1 : 3 }
        guard c == 1 || c == 3 else {
            throw CLIError("images can feed 1- or 3-channel models, not \(c!) channels")
        }
        return ImagePreprocessing(channels: c!, resize: size.map { .shorterSideThenCentreCrop($0) } ?? .none)
    }

    /// Loads image files into memory, warning about skipped ones.
    func load(_ files: [String], labels: [Int32] = [], channels: Int?, name: String) throws -> ImageDataset {
        let prep = try preprocessing(channels: channels, firstFile: files[0])
        let loaded = try ImageDataset.imageFiles(files, labels: labels, preprocessing: prep, skipBad: skipBad)
        if loaded.skipped > 0 {
            Terminal.warn("\(name): skipped \(loaded.skipped) unreadable image\(loaded.skipped == 1 ? "" : "s") (first: \(loaded.firstProblem ?? "?"))")
        }
        return loaded.dataset
    }
}

/// A data set and how to name it in messages.
struct LoadedData {
    var dataset: ImageDataset
    /// e.g. "fashion-mnist test" or "images/".
    var name: String
    /// The source, to find a matching held-out split: (path or "fashion-mnist", split) when the
    /// source has splits.
    var splitSource: (String, Split)?
    /// The class names of an image folder read with one subfolder per class (labels = their
    /// index, names sorted as torchvision's ImageFolder); nil otherwise.
    var classNames: [String]? = nil
}

/// Where images come from: the `--data` argument resolved to a loader.
enum DataSource {
    static let fashionMNIST = "fashion-mnist"

    /// `channels` converts PNG images to a model's channel count (1 or 3); other formats must
    /// already match (checked by the caller against the model's input shape).
    /// classFolders: when `argument` is a folder of JPEG/PNG images, read it as torchvision's
    /// ImageFolder (one subfolder per class; the labels and `classNames` come from them).
    static func load(_ argument: String, split: Split, limit: Int?, channels: Int?,
                     images: ImageOptions = ImageOptions(), classFolders: Bool = false) throws -> LoadedData {
        let loaded = try loadAny(argument, split: split, limit: limit, channels: channels, images: images,
                                 classFolders: classFolders)
        let shape = loaded.dataset.shape
        if shape.count != 3 || shape.contains(where: { $0 < 1 }) || loaded.dataset.count == 0 {
            throw CLIError("\(loaded.name): holds no images (shape \(shape), \(loaded.dataset.pixels.count) values)")
        }
        return loaded
    }

    private static func loadAny(_ argument: String, split: Split, limit: Int?, channels: Int?,
                                images: ImageOptions, classFolders: Bool) throws -> LoadedData {
        if argument == fashionMNIST {
            let directory = ImageDataset.fashionMNISTDirectory
            guard Directory.kind(of: directory) == .directory else {
                throw CLIError("fashion-mnist: \(directory) does not exist; install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data PATH")
            }
            let data = try ImageDataset.fashionMNIST(train: split == .train, limit: limit)
            return LoadedData(dataset: data, name: "fashion-mnist \(split.rawValue)", splitSource: (argument, split))
        }
        switch Directory.kind(of: argument) {
        case .missing:
            throw CLIError("\(argument): no such file or directory")
        case .other:
            throw CLIError("\(argument): not a regular file or directory")
        case .directory:
            if let images = idxImages(in: argument, split: split) {
                let data = try ImageDataset.idx(images: images, labels: nil, limit: limit)
                return LoadedData(dataset: data, name: "\(argument) (\(split.rawValue))", splitSource: (argument, split))
            }
            let folder = try ImageFolder(path: argument, classFolders: classFolders)
            let files = Array(folder.files.prefix(limit ?? Int.max))
            // (--skip-bad drops a file's label with it)
            let data = try images.load(files, labels: Array(folder.labels.prefix(files.count)), channels: channels, name: argument)
            return LoadedData(dataset: data, name: argument, splitSource: nil,
                              classNames: classFolders ? folder.classes : nil)
        case .file:
            let data: ImageDataset
            switch try sniff(argument) {
            case .npy: data = try ImageDataset.npy(path: argument, limit: limit)
            case .idx: data = try ImageDataset.idx(images: argument, labels: nil, limit: limit)
            case .image: data = try images.load([argument], channels: channels, name: argument)
            }
            return LoadedData(dataset: data, name: argument, splitSource: nil)
        }
    }

    /// True when `argument` names a folder of JPEG/PNG images (not an MNIST-style IDX directory).
    static func isImageFolder(_ argument: String, split: Split) -> Bool {
        argument != fashionMNIST && Directory.kind(of: argument) == .directory && idxImages(in: argument, split: split) == nil
    }

    /// The images file of `split` in an MNIST-style directory, if there is one.
    static func idxImages(in directory: String, split: Split) -> String? {
        let prefix = split == .train ? "train" : "t10k"
        for name in ["\(prefix)-images-idx3-ubyte", "\(prefix)-images.idx3-ubyte"] {
            for suffix in [".gz", ""] {
                let path = Directory.join(directory, name + suffix)
                if Directory.kind(of: path) == .file { return path }
            }
        }
        return nil
    }

    enum Format { case npy, idx, image }

    /// The format of a data file from its first bytes.
    static func sniff(_ path: String) throws -> Format {
        guard let file = fopen(path, "rb") else {
            throw CLIError("\(path): cannot open: \(FileIO.describeErrno(errno))")
        }
        defer { fclose(file) }
        var head = [UInt8](repeating: 0, count: 8)
        let n = fread(&head, 1, 8, file)
        if n >= 6 && head[0] == 0x93 && Array(head[1..<6]) == Array("NUMPY".utf8) { return .npy }
        if n >= 2 && head[0] == 0x1F && head[1] == 0x8B { return .idx }  // gzip: IDX inside
        if n >= 3 && head[0] == 0 && head[1] == 0 && head[2] == 0x08 { return .idx }
        if ImageFile.format(of: Array(head[0..<n])) != nil { return .image }
        throw CLIError("\(path): not a data file this tool reads (IDX, gzipped IDX, .npy, JPEG or PNG)")
    }
}

extension Autoencoder {
    /// Throws a clear message when `data` does not have this model's input shape.
    func requireInputShape(of data: LoadedData, modelPath: String) throws {
        if data.dataset.shape != inputShape {
            throw CLIError("\(modelPath) was trained on \(describeShape(inputShape)) images, but \(data.name) has \(describeShape(data.dataset.shape)) images")
        }
    }
}

/// Loads a model file, with the thread count in force first.
func loadModel(_ path: String) throws -> Autoencoder {
    try Autoencoder(contentsOf: path)
}

/// --threads, for the commands that compute.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for the math (default: OpenBLAS's choice, all cores).")
    var threads: Int?

    func validate() throws {
        if let t = threads, t < 1 || t > 1024 { throw ValidationError("--threads must be in 1...1024, got \(t)") }
    }

    func apply() {
        if let t = threads { ComputeThreads.set(t) }
    }
}

/// The batch for inference over a whole set: 256 examples, fewer for large ones, so that the
/// inference workspace (im2col and activations, roughly linear in batch × pixels) stays near a
/// training step's instead of growing to gigabytes at 256² (2¹⁹ input values: 256 at 28², 42 at
/// 3×64², 10 at 3×128², 8 at 3×256²).
func inferenceBatch(exampleSize: Int) -> Int { max(8, min(256, (1 << 19) / max(1, exampleSize))) }

/// Runs `body` on consecutive batches [start, start + count) of `total` examples.
func forEachBatch(total: Int, size: Int, _ body: (_ start: Int, _ count: Int) throws -> Void) rethrows {
    var start = 0
    while start < total {
        let n = min(size, total - start)
        try body(start, n)
        start += n
    }
}

/// Reconstructions of all examples (batches of `inferenceBatch`).
func reconstructAll(_ model: Autoencoder, _ images: [Float]) throws -> [Float] {
    let size = model.inputSize
    var out = [Float](repeating: 0, count: images.count)
    try images.withUnsafeBufferPointer { x in
        try out.withUnsafeMutableBufferPointer { y in
            try forEachBatch(total: images.count / size, size: inferenceBatch(exampleSize: size)) { start, n in
                let input = UnsafeBufferPointer(rebasing: x[(start * size)..<((start + n) * size)])
                let output = UnsafeMutableBufferPointer(rebasing: y[(start * size)..<((start + n) * size)])
                try model.reconstruct(inputs: input, batch: n, into: output)
            }
        }
    }
    return out
}

/// Codes of all examples (batches of `inferenceBatch`): (N, latentSize).
func encodeAll(_ model: Autoencoder, _ images: [Float]) throws -> [Float] {
    let size = model.inputSize, latent = model.latentSize
    let count = images.count / size
    var out = [Float](repeating: 0, count: count * latent)
    try images.withUnsafeBufferPointer { x in
        try out.withUnsafeMutableBufferPointer { z in
            try forEachBatch(total: count, size: inferenceBatch(exampleSize: size)) { start, n in
                let input = UnsafeBufferPointer(rebasing: x[(start * size)..<((start + n) * size)])
                let codes = UnsafeMutableBufferPointer(rebasing: z[(start * latent)..<((start + n) * latent)])
                try model.encode(inputs: input, batch: n, into: codes)
            }
        }
    }
    return out
}

/// The model's objective averaged over the examples of `set`, converted to float32 one batch
/// (`inferenceBatch`) at a time.
func meanLoss(_ model: Autoencoder, _ set: ImageDataset) throws -> Double {
    let size = model.inputSize
    var sum = 0.0
    try forEachBatch(total: set.count, size: inferenceBatch(exampleSize: size)) { start, n in
        if Interrupt.requested { return }
        let loss = try set.slice(start, count: n).withUnsafeBufferPointer {
            try model.evaluate(inputs: $0, targets: nil, batch: n)
        }
        sum += Double(loss) * Double(n)
    }
    return sum / Double(max(1, set.count))
}

/// The model's objective averaged over all examples (batches of `inferenceBatch`, weighted by their size).
func meanLoss(_ model: Autoencoder, _ images: [Float], targets: [Float]? = nil) throws -> Double {
    let size = model.inputSize
    let count = images.count / size
    var sum = 0.0
    try images.withUnsafeBufferPointer { x in
        try forEachBatch(total: count, size: inferenceBatch(exampleSize: size)) { start, n in
            if Interrupt.requested { return }
            let input = UnsafeBufferPointer(rebasing: x[(start * size)..<((start + n) * size)])
            let loss: Float
            if let targets = targets {
                loss = try targets.withUnsafeBufferPointer { t in
                    try model.evaluate(inputs: input, targets: UnsafeBufferPointer(rebasing: t[(start * size)..<((start + n) * size)]), batch: n)
                }
            } else {
                loss = try model.evaluate(inputs: input, targets: nil, batch: n)
            }
            sum += Double(loss) * Double(n)
        }
    }
    return sum / Double(max(1, count))
}

/// Example i of a flat (N, C, H, W) array as a grey or RGB tile.
func tile(_ images: [Float], index: Int, shape: [Int]) -> RasterImage {
    let size = shape.reduce(1, *)
    return images.withUnsafeBufferPointer { b in
        RasterImage(planar: UnsafeBufferPointer(rebasing: b[(index * size)..<((index + 1) * size)]), shape: shape)
    }
}

/// PNG pictures need 1 (grey) or 3 (RGB) channels.
func requireDrawable(_ shape: [Int], _ what: String) throws {
    if shape.count != 3 || (shape[0] != 1 && shape[0] != 3) {
        throw CLIError("\(what): \(describeShape(shape)) images cannot be drawn as PNG (1 or 3 channels only)")
    }
}

/// Gaussian noise of standard deviation sigma added to every value, then clipped to [0, 1]
/// (the `denoising` preset's corruption), with a fixed seed.
func addNoise(_ images: [Float], sigma: Float, seed: UInt64) -> [Float] {
    var random = RandomSource(seed: seed)
    return images.map { min(1, max(0, $0 + sigma * random.normal())) }
}

/// Writes a PNG, creating the parent directory if needed.
func writePNG(_ image: RasterImage, to path: String) throws {
    let parent = Directory.parentOf(path)
    if Directory.kind(of: parent) == .missing { try Directory.create(parent) }
    try PNG.write(image, to: path)
}

/// The grid's tile scale: --scale, or about 56 pixels per tile.
func gridScale(_ option: Int?, shape: [Int]) -> Int {
    option ?? ImageGrid.autoScale(tileSide: max(shape[1], shape[2]))
}
