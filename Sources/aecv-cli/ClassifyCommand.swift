#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import AECV
import AECVData
import ArgumentParser

/// `aecv classify`: image classification on an autoencoder's features (issue 7).
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train and evaluate an image classifier on an autoencoder's encoder (linear probe or fine-tuning).",
        discussion: """
            Labels: fashion-mnist has them; an MNIST-style IDX directory's labels file is found \
            next to its images; a folder of JPEG/PNG images (with --size) without --labels is read \
            as torchvision's ImageFolder: one subfolder per class, classes in sorted order; \
            otherwise give --labels (an IDX labels file, or a .npy of uint8 or whole float32 values). Classifier files (.aecvc) hold the encoder's copy, the head and \
            the feature statistics: they need no autoencoder file afterwards.
            """,
        subcommands: [ClassifyTrain.self, ClassifyEval.self])
}

/// Fashion-MNIST's class names, in label order.
let fashionMNISTClassNames = ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                              "sneaker", "bag", "ankle boot"]

/// --labels, for data without built-in labels.
struct LabelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Labels of --data: an IDX labels file (.gz or not) or a .npy of uint8 or whole float32 values (default: fashion-mnist's, or the labels file of an IDX directory).",
                               valueName: "path"))
    var labels: String?

    /// The images of `data` with their labels (one per image).
    func attach(to data: inout LoadedData, source: String, split: Split) throws {
        try LabelOptions.attach(labels, to: &data, source: source, split: split)
    }

    /// Labels from `path`, or those the data came with, or those of an IDX directory.
    static func attach(_ path: String?, to data: inout LoadedData, source: String, split: Split) throws {
        let n = data.dataset.count
        if let path = path {
            data.dataset.labels = try LabelOptions.read(path, count: n)
        } else if data.dataset.labels.count < n, Directory.kind(of: source) == .directory,
                  let path = LabelOptions.idxLabels(in: source, split: split) {
            data.dataset.labels = try LabelOptions.read(path, count: n)
        }
        if data.dataset.labels.count < n {
            throw CLIError("\(data.name) has no labels; give --labels PATH (an IDX labels file or a .npy)")
        }
    }

    static func idxLabels(in directory: String, split: Split) -> String? {
        let prefix = split == .train ? "train" : "t10k"
        for name in ["\(prefix)-labels-idx1-ubyte", "\(prefix)-labels.idx1-ubyte"] {
            for suffix in [".gz", ""] {
                let path = Directory.join(directory, name + suffix)
                if Directory.kind(of: path) == .file { return path }
            }
        }
        return nil
    }

    /// The first `count` labels of a file.
    static func read(_ path: String, count: Int) throws -> [Int32] {
        guard Directory.kind(of: path) == .file else { throw CLIError("\(path): no such file") }
        let values: [Int32]
        switch try DataSource.sniff(path) {
        case .idx:
            let file = try IDXFile.read(path: path)
            guard file.dimensions.count == 1 else {
                throw CLIError("\(path): expected a 1-d IDX labels file, got dimensions \(file.dimensions)")
            }
            values = file.bytes.map { Int32($0) }
        case .npy:
            let array = try NPYArray.read(path: path)
            guard array.shape.count == 1 else {
                throw CLIError("\(path): expected a 1-d array of labels, got shape \(array.shape)")
            }
            switch array.elements {
            case .uint8(let bytes): values = bytes.map { Int32($0) }
            case .float32(let floats):
                if let bad = floats.firstIndex(where: { !($0 >= 0 && $0 < 65536 && $0 == $0.rounded()) }) {
                    throw CLIError("\(path): label \(bad) is \(floats[bad]), not a whole number in 0...65535")
                }
                values = floats.map { Int32($0) }
            }
        case .image:
            throw CLIError("\(path): an image is not a labels file")
        }
        guard values.count >= count else {
            throw CLIError("\(path): \(values.count) labels for \(count) images")
        }
        return Array(values.prefix(count))
    }
}

/// Accuracy and confusion matrix of a classifier on labelled images (batches of 256).
struct ClassificationResult {
    var counts: [[Int]]
    var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    var correct: Int { counts.indices.reduce(0) { $0 + counts[$1][$1] } }
    var accuracy: Double { Double(correct) / Double(max(1, total)) }

    init(_ classifier: Classifier, _ data: ImageDataset) throws {
        let k = classifier.classes, size = classifier.inputSize
        counts = Array(repeating: Array(repeating: 0, count: k), count: k)
        let batch = inferenceBatch(exampleSize: size)
        var probabilities = [Float](repeating: 0, count: batch * k)
        var x = [Float](repeating: 0, count: batch * size)
        try probabilities.withUnsafeMutableBufferPointer { p in
            try forEachBatch(total: data.count, size: batch) { start, n in
                try x.withUnsafeMutableBufferPointer { x in
                    data.copyValues(from: start * size, count: n * size, into: x.baseAddress!)
                    try classifier.predict(inputs: UnsafeBufferPointer(rebasing: x[0..<(n * size)]),
                                           batch: n, into: UnsafeMutableBufferPointer(rebasing: p[0..<(n * k)]))
                    for i in 0..<n {
                        var best = 0
                        for c in 1..<k where p[i * k + c] > p[i * k + best] { best = c }
                        counts[Int(data.labels[start + i])][best] += 1
                    }
                }
            }
        }
    }
}

/// Class subfolders as labels (torchvision's ImageFolder).
enum ClassFolders {
    /// A test folder must have the training folder's classes: a label is an index into the
    /// sorted names, so a missing or extra class would silently shift the others.
    static func requireSameClasses(_ test: LoadedData, as train: [String]?) throws {
        guard let train, let names = test.classNames, names != train else { return }
        throw CLIError("\(test.name) has the classes \(names.joined(separator: ", ")), but the training folder has \(train.joined(separator: ", ")) (labels are indices into the sorted class names, so they must be the same)")
    }
}

/// Checks labels against the classifier's classes.
func requireLabels(_ labels: [Int32], classes: Int, name: String) throws {
    if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
        throw CLIError("\(name): label \(labels[bad]) of image \(bad) is outside 0...\(classes - 1) (the classifier has \(classes) classes)")
    }
}

struct ClassifyTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier on a pretrained autoencoder's encoder.",
        discussion: """
            --freeze (the default) trains only the head on the frozen, standardized code: a \
            linear probe, or an MLP with --hidden. --finetune trains the encoder too, with \
            --encoder-lr (default: 2 × --lr, as in aecv.Classifier; the C library's own default, \
            --lr / 10, fine-tunes too slowly). After each epoch the accuracy on the \
            test set (the other split of fashion-mnist or an IDX directory, or --test-data) is \
            printed. Ctrl-C saves the classifier trained so far and exits (status 130).
            """)

    @Option(help: ArgumentHelp("The pretrained autoencoder.", valueName: "model.aecv"))
    var autoencoder: String

    @OptionGroup var data: DataOptions
    @OptionGroup var labelOptions: LabelOptions

    @Option(help: ArgumentHelp("Labelled images for the accuracy after each epoch (default: the other split, when --data has splits).", valueName: "path"))
    var testData: String?

    @Option(help: ArgumentHelp("Labels of --test-data (IDX or .npy).", valueName: "path"))
    var testLabels: String?

    @Option(help: "Use only the first N test images.")
    var testLimit: Int?

    @Option(help: "Passes over the training images.")
    var epochs: Int = 10

    @Option(help: "Images per step.")
    var batchSize: Int = 64

    @Flag(inversion: .prefixedNo, help: "Grow the batches of the last third of the epochs 4× per epoch (up to 4096): anneals the gradient noise like a learning-rate decay, as aecv.Classifier.fit does.")
    var anneal = true

    @Flag(exclusivity: .exclusive, help: ArgumentHelp("Keep the encoder frozen (linear probe / MLP on codes; default), or fine-tune it."))
    var mode: Mode = .freeze

    enum Mode: String, EnumerableFlag {
        case freeze, finetune
    }

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Widths of the head's hidden layers (e.g. --hidden 256, or --hidden 256 128); none: a linear head.", valueName: "width"))
    var hidden: [Int] = []

    @Option(help: ArgumentHelp("Number of classes (default: the largest label + 1).", valueName: "n"))
    var classes: Int?

    @Option(help: ArgumentHelp("Learning rate of the head (Adam; default 1e-3).", valueName: "lr"))
    var lr: Float?

    @Option(help: ArgumentHelp("Learning rate of the encoder with --finetune (default: 2 × --lr).", valueName: "lr"))
    var encoderLr: Float?

    @Option(help: "Seed of the head's initialization and of the data order.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Where to save the classifier.", valueName: "clf.aecvc"))
    var out: String = "classifier.aecvc"

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if batchSize < 1 || batchSize > 65536 { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
        if let t = testLimit, t < 1 { throw ValidationError("--test-limit must be at least 1, got \(t)") }
        if let c = classes, c < 2 || c > 65536 { throw ValidationError("--classes must be in 2...65536, got \(c)") }
        for h in hidden where h < 1 || h > 65536 { throw ValidationError("--hidden widths must be in 1...65536, got \(h)") }
        for (name, value) in [("--lr", lr), ("--encoder-lr", encoderLr)] {
            if let v = value, !(v > 0 && v <= 1e6) { throw ValidationError("\(name) must be in (0, 1e6], got \(v)") }
        }
        if encoderLr != nil && mode == .freeze { throw ValidationError("--encoder-lr applies only with --finetune") }
    }

    func run() throws {
        compute.apply()
        Interrupt.install()
        let net = try loadModel(autoencoder)
        let byFolder = labelOptions.labels == nil && DataSource.isImageFolder(data.data, split: data.split ?? .train)
        var train = try data.load(defaultSplit: .train, channels: net.inputShape[0], classFolders: byFolder)
        try net.requireInputShape(of: train, modelPath: autoencoder)
        try labelOptions.attach(to: &train, source: data.data, split: data.split ?? .train)
        let maxLabel = Int(train.dataset.labels.max() ?? 0)
        let classCount = classes ?? train.classNames?.count ?? max(2, maxLabel + 1)
        try requireLabels(train.dataset.labels, classes: classCount, name: train.name)
        if let names = train.classNames {
            Terminal.say("\(names.count) classes from the subfolders of \(train.name): \(names.joined(separator: ", "))")
        }

        var test: LoadedData?
        let testCount = testLimit ?? data.limit
        if let path = testData {
            let testByFolder = testLabels == nil && DataSource.isImageFolder(path, split: .test)
            var t = try DataSource.load(path, split: .test, limit: testCount, channels: net.inputShape[0],
                                        images: data.imageOptions, classFolders: testByFolder)
            try LabelOptions.attach(testLabels, to: &t, source: path, split: .test)
            try ClassFolders.requireSameClasses(t, as: train.classNames)
            test = t
        } else if let (source, split) = train.splitSource {
            var t = try DataSource.load(source, split: split.other, limit: testCount, channels: net.inputShape[0])
            try LabelOptions.attach(nil, to: &t, source: source, split: split.other)
            test = t
        }
        if let t = test {
            try net.requireInputShape(of: t, modelPath: autoencoder)
            try requireLabels(t.dataset.labels, classes: classCount, name: t.name)
        }

        var spec = ClassifierSpec(classes: classCount, hidden: hidden, freezeEncoder: mode == .freeze)
        spec.seed = seed
        if let lr = lr { spec.optimizer.learningRate = lr }
        if mode == .finetune { spec.encoderLearningRate = encoderLr ?? 2 * spec.optimizer.learningRate }
        let classifier = try Classifier(autoencoder: net, spec: spec)
        let n = train.dataset.count, size = classifier.inputSize
        let head = hidden.isEmpty ? "a linear head" : "an MLP head (\(hidden.map(String.init).joined(separator: "-")))"
        Terminal.say("training \(head) on the \(mode == .freeze ? "frozen" : "fine-tuned") \(net.spec.preset.rawValue) encoder of \(autoencoder) "
                     + "(\(classifier.featureSize) features, \(classCount) classes, \(TextFormat.grouped(classifier.parameterCount)) parameters) "
                     + "on \(n) images of \(train.name), batch \(batchSize)"
                     + (test.map { "; test: \($0.dataset.count) images of \($0.name)" } ?? "; no test set"))

        let schedule = ClassifyTrain.batchSchedule(epochs: epochs, batchSize: batchSize, anneal: anneal)
        var batch = [Float](repeating: 0, count: schedule.max()! * size)
        var labels = [Int32](repeating: 0, count: schedule.max()!)
        for epoch in 1...epochs {
            let batchSize = schedule[epoch - 1]
            var random = RandomSource(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
            var order = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
            var progress = ProgressBar(label: "epoch \(epoch)/\(epochs)" + (batchSize == self.batchSize ? "" : " (batch \(batchSize))"), total: n)
            var lossSum = 0.0, seen = 0
            for start in stride(from: 0, to: n, by: batchSize) {
                let count = min(batchSize, n - start)
                batch.withUnsafeMutableBufferPointer { dst in
                    for b in 0..<count {
                        train.dataset.copyExample(order[start + b], into: dst.baseAddress! + b * size)
                        labels[b] = train.dataset.labels[order[start + b]]
                    }
                }
                let loss = try batch.withUnsafeBufferPointer { x in
                    try labels.withUnsafeBufferPointer { y in
                        try classifier.trainStep(inputs: UnsafeBufferPointer(rebasing: x[0..<(count * size)]),
                                                 labels: UnsafeBufferPointer(rebasing: y[0..<count]), batch: count)
                    }
                }
                lossSum += Double(loss) * Double(count)
                seen += count
                progress.update(done: seen, loss: lossSum / Double(seen))
                if Interrupt.requested {
                    Terminal.finishProgressLine()
                    try classifier.save(to: out)
                    Terminal.say("interrupted in epoch \(epoch) at \(seen * 100 / n)%: saved \(out)")
                    throw ExitCode(130)
                }
            }
            progress.finish(loss: lossSum / Double(max(1, seen)))
            var line = "epoch \(epoch)/\(epochs)" + (batchSize == self.batchSize ? "" : " (batch \(batchSize))")
                + ": train loss \(show(lossSum / Double(max(1, seen))))"
            if let t = test {
                line += ", test accuracy \(TextFormat.fixed(try ClassificationResult(classifier, t.dataset).accuracy, 4))"
            }
            line += ", \(TextFormat.grouped(Int((Double(n) / max(progress.elapsed, 1e-9)).rounded()))) img/s"
            try classifier.save(to: out)
            Terminal.say(line + "; saved \(out)")
        }
    }
}

extension ClassifyTrain {
    /// The batch size of each epoch: batchSize, except with `anneal` the last third of the epochs
    /// (at least one when epochs >= 2), whose batches grow 4× per epoch up to 4096 (never below
    /// batchSize). The same rule as aecv.classifier.batch_schedule in the Python binding.
    static func batchSchedule(epochs: Int, batchSize: Int, anneal: Bool) -> [Int] {
        var sizes = Array(repeating: batchSize, count: epochs)
        guard anneal && epochs >= 2 else { return sizes }
        let k = max(1, epochs / 3)
        var grown = batchSize
        for j in 1...k {
            grown = min(grown * 4, 4096)
            sizes[epochs - k + j - 1] = max(batchSize, grown)
        }
        return sizes
    }
}

struct ClassifyEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy and confusion matrix of a classifier on labelled images (printed, and written as a PNG).")

    @Argument(help: ArgumentHelp("A classifier file.", valueName: "clf.aecvc"))
    var classifier: String

    @OptionGroup var data: DataOptions
    @OptionGroup var labelOptions: LabelOptions

    @Option(help: ArgumentHelp("Where to write the confusion matrix picture (default: next to the classifier, CLF.confusion.png).", valueName: "path.png"))
    var confusionPng: String?

    @OptionGroup var compute: ComputeOptions

    /// clf.aecvc -> clf.confusion.png; other names get ".confusion.png" appended.
    static func pngPath(forClassifier path: String) -> String {
        (path.hasSuffix(".aecvc") ? String(path.dropLast(6)) : path) + ".confusion.png"
    }

    func run() throws {
        compute.apply()
        let clf = try Classifier(contentsOf: classifier)
        let byFolder = labelOptions.labels == nil && DataSource.isImageFolder(data.data, split: data.split ?? .test)
        var loaded = try data.load(defaultSplit: .test, channels: clf.inputShape[0], classFolders: byFolder)
        if loaded.dataset.shape != clf.inputShape {
            throw CLIError("\(classifier) classifies \(describeShape(clf.inputShape)) images, but \(loaded.name) has \(describeShape(loaded.dataset.shape)) images")
        }
        try labelOptions.attach(to: &loaded, source: data.data, split: data.split ?? .test)
        if let folders = loaded.classNames, folders.count != clf.classes {
            throw CLIError("\(loaded.name) has \(folders.count) class subfolders (\(folders.joined(separator: ", "))), but \(classifier) has \(clf.classes) classes")
        }
        try requireLabels(loaded.dataset.labels, classes: clf.classes, name: loaded.name)
        let result = try ClassificationResult(clf, loaded.dataset)
        let k = clf.classes
        let names = loaded.classNames ?? (data.data == DataSource.fashionMNIST && k == 10 ? fashionMNISTClassNames : nil)

        let head = clf.spec.hidden.isEmpty ? "linear head" : "MLP head (\(clf.spec.hidden.map(String.init).joined(separator: "-")))"
        Terminal.say("\(classifier) (\(head) on the \(clf.spec.freezeEncoder ? "frozen" : "fine-tuned") \(clf.autoencoderSpec.preset.rawValue) encoder, "
                     + "\(k) classes) on \(result.total) images of \(loaded.name):")
        Terminal.say("  accuracy \(TextFormat.fixed(result.accuracy, 4)) (\(result.correct) of \(result.total))")
        Terminal.say("confusion matrix (rows: true class, columns: predicted):")
        let width = max(5, String(result.counts.flatMap { $0 }.max() ?? 0).count + 1)
        let nameWidth = (names ?? []).map(\.count).max().map { $0 + 1 } ?? 0
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        func padRight(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        Terminal.say(padRight("", nameWidth + 4) + (0..<k).map { pad(String($0), width) }.joined() + pad("recall", 8))
        for t in 0..<k {
            let row = result.counts[t]
            let recall = Double(row[t]) / Double(max(1, row.reduce(0, +)))
            Terminal.say(pad(String(t), 3) + " " + padRight(names?[t] ?? "", nameWidth)
                         + row.map { pad(String($0), width) }.joined() + pad(TextFormat.fixed(recall, 3), 8))
        }

        let pngPath = confusionPng ?? ClassifyEval.pngPath(forClassifier: classifier)
        let rowNames = (0..<k).map { t in names.map { "\(t) \($0[t])" } ?? String(t) }
        let plot = ConfusionMatrixPlot(counts: result.counts, classNames: rowNames,
                                       title: "accuracy \(TextFormat.fixed(result.accuracy, 4)) on \(loaded.name)")
        try writePNG(plot.render(), to: pngPath)
        Terminal.say("confusion matrix picture: \(pngPath)")
    }
}
