#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import AECV
import AECVData
import ArgumentParser

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model, with a progress bar, a checkpoint after every epoch and a loss plot.",
        discussion: """
            After every epoch the model (with its optimizer state and the history of mean training \
            losses) is saved to --out, the test loss is printed, and a plot of the losses is written \
            next to it (model.aecv -> model.loss.png). The test set is the other split for \
            fashion-mnist and IDX directories, --test-data if given, and otherwise the last 10% of \
            the data, held out.

            Ctrl-C finishes the current step, saves the model and exits (status 130). \
            --resume MODEL continues from a saved model, optimizer state included: --epochs is the \
            total, so the run continues at the first epoch not completed (an interrupted epoch is \
            run again, from the parameters it had reached).
            """)

    @Option(help: ArgumentHelp("Architecture: \(ModelSpec.Preset.allCases.map(\.rawValue).joined(separator: ", ")) (default: conv).", valueName: "name"))
    var preset: String?

    @Option(help: ArgumentHelp("A JSON model spec (see aecv.h); its \"input\" may be left out: it is taken from the data.", valueName: "spec.json"))
    var spec: String?

    @OptionGroup var data: DataOptions

    @Option(help: ArgumentHelp("Images for the test loss after each epoch (same formats as --data).", valueName: "path"))
    var testData: String?

    @Option(help: "Use only the first N test images (default: --limit, if given; else all).")
    var testLimit: Int?

    @Option(help: "Train until this many epochs are complete.")
    var epochs: Int = 5

    @Option(help: "Images per step.")
    var batchSize: Int = 64

    @Option(help: ArgumentHelp("Learning rate (default: the spec's, 1e-3 for Adam; when resuming, the saved one).", valueName: "lr"))
    var lr: Float?

    @Option(help: ArgumentHelp("Where to save the model (default: the --resume file, else model.aecv).", valueName: "model.aecv"))
    var out: String?

    @Option(help: ArgumentHelp("Continue training this model file.", valueName: "model.aecv"))
    var resume: String?

    @Option(help: "Seed of the model's initialization (new models) and of the data order.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Where to write the loss plot (default: next to --out, MODEL.loss.png).", valueName: "plot.png"))
    var plot: String?

    @OptionGroup var compute: ComputeOptions

    @Flag(help: "Data-parallel training under mpirun (an aecv built with `make cli AECV_MPI=1`): each rank trains on its shard of every batch of --batch-size × ranks images, gradients are summed with MPI_Allreduce, rank 0 prints and saves.")
    var distributed = false

    @Option(help: ArgumentHelp("With --distributed: end the job when no step finishes for this long (a rank died or hangs).", valueName: "seconds"))
    var stepTimeout: Double = 600

    @Flag(help: "A folder of JPEG/PNG images (with --size): decode batches on background threads while training instead of holding every image in memory (for sets larger than memory). The file order is reshuffled every epoch. With --distributed each rank decodes only its shards.")
    var stream = false

    @Option(help: "Decoding threads for --stream.")
    var decodeThreads: Int = 1

    @Option(help: ArgumentHelp("Train on random P×P crops of the --size images (large images by patches): the model's input is P×P, every example gets a new crop each epoch, and the test loss uses the centred crop of each test image. Score or reconstruct whole images later by overlapping tiles.", valueName: "P"))
    var patch: Int?

    func validate() throws {
        if stream && distributed && data.skipBad {
            throw ValidationError("--skip-bad cannot be combined with --stream --distributed: every rank must decode exactly its shard of each global batch; check the folder first with `aecv images DIR --size N` and remove the files it names")
        }
        if stream && data.size == nil { throw ValidationError("--stream needs --size N (every batch must have one shape)") }
        if let p = patch {
            guard let s = data.size else { throw ValidationError("--patch needs --size S (the patches are cut from S×S images)") }
            if p < 1 || p > s { throw ValidationError("--patch must be in 1...--size (\(s)), got \(p)") }
        }
        if decodeThreads < 1 || decodeThreads > 64 { throw ValidationError("--decode-threads must be in 1...64, got \(decodeThreads)") }
        if epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if batchSize < 1 || batchSize > 65536 { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
        if let t = testLimit, t < 1 { throw ValidationError("--test-limit must be at least 1, got \(t)") }
        if let lr = lr, !(lr > 0 && lr <= 1e6) { throw ValidationError("--lr must be in (0, 1e6], got \(lr)") }
        if resume != nil && (preset != nil || spec != nil) {
            throw ValidationError("--resume takes the architecture from the model file; leave out --preset and --spec")
        }
        if preset != nil && spec != nil {
            throw ValidationError("give --preset or --spec, not both (a spec names its preset)")
        }
        if !(stepTimeout > 0) { throw ValidationError("--step-timeout must be positive, got \(stepTimeout)") }
        if let p = preset, ModelSpec.Preset(rawValue: p) == nil {
            throw ValidationError("unknown preset '\(p)'; choose one of \(ModelSpec.Preset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        guard distributed else { return try train(group: .single) }
        let group = try TrainingGroup.joinWorld()
        do {
            try train(group: group)
        } catch let exit as ExitCode {
            group.leave()
            throw exit
        } catch let error as AECVError {
            group.abort("\(group.name): \(error.message)")
        } catch let error as CLIError {
            group.abort("\(group.name): \(error.message)")
        } catch {
            group.abort("\(group.name): \(error)")
        }
        group.leave()
    }

    /// The training run of this process; `group` is this process alone unless --distributed.
    func train(group: TrainingGroup) throws {
        // Only rank 0 prints; every rank computes the same values.
        func say(_ line: String) { if group.isLead { Terminal.say(line) } }
        compute.apply()
        Interrupt.install()
        let outPath = out ?? resume ?? "model.aecv"
        let plotPath = plot ?? Train.plotPath(forModel: outPath)
        // Checked before hours of training: --out must name a file (or a new name), and its
        // directory is created like --plot's and the other commands' --out.
        _ = try FileIO.resolveTarget(outPath)
        try Directory.create(Directory.parentOf(outPath))

        // The model first when resuming: it decides how PNG images are read (channels).
        var model: Autoencoder? = nil
        if let resume = resume { model = try loadModel(resume) }
        // --stream: only the file list (and a small held-out tail) is in memory.
        var streamFiles: [String]? = nil
        var streamPrep: ImagePreprocessing? = nil
        var streamTail: ImageDataset? = nil
        var train: LoadedData
        if stream {
            var files = try ImageFolder(path: data.data).files
            if let limit = data.limit { files = Array(files.prefix(limit)) }
            let prep = try data.imageOptions.preprocessing(channels: model?.inputShape[0] ?? data.requestedChannels,
                                                           firstFile: files[0])
            if testData == nil && files.count >= 20 {
                // Every rank holds the tail out of training; only rank 0 evaluates it.
                let held = min(256, max(1, files.count / 10))
                if group.isLead {
                    streamTail = try data.imageOptions.load(Array(files.suffix(held)), channels: prep.channels,
                                                            name: data.data)
                }
                files.removeLast(held)
            }
            streamFiles = files; streamPrep = prep
            train = LoadedData(dataset: ImageDataset(images: [], labels: [], shape: prep.shape!), name: data.data,
                               splitSource: nil)
        } else {
            train = try data.load(defaultSplit: .train, channels: model?.inputShape[0])
        }
        var trainSet = train.dataset
        // trainSet must own its pixels alone: holding out a tail truncates it, and a buffer shared
        // with `train` would be copied whole (a second set in memory).
        train.dataset = ImageDataset(images: [], labels: [], shape: trainSet.shape)
        // --patch: the model sees P×P crops of the S×S images.
        let crop = patch.map { PatchCrop(imageShape: streamPrep?.shape ?? trainSet.shape, patch: $0) }
        if let model = model, let crop = crop, model.inputShape != crop.patchShape {
            throw CLIError("\(resume!) was trained on \(describeShape(model.inputShape)) images, but --patch \(crop.patch) gives \(describeShape(crop.patchShape)) patches")
        }
        if let model = model, crop == nil, streamFiles == nil { try model.requireInputShape(of: train, modelPath: resume!) }
        if let model = model, crop == nil, let shape = streamPrep?.shape, shape != model.inputShape {
            throw CLIError("\(resume!) was trained on \(describeShape(model.inputShape)) images, but --size/--grey/--rgb give \(describeShape(shape))")
        }
        if model == nil { model = try makeModel(inputShape: crop?.patchShape ?? trainSet.shape) }
        let net = model!
        if let lr = lr { try net.setLearningRate(lr) }

        // The test set: the other split, --test-data, or a held-out tail.
        var test: LoadedData?
        let testCount = testLimit ?? data.limit
        if let tail = streamTail {
            test = LoadedData(dataset: tail, name: "the last \(tail.count) images of \(train.name) (held out)", splitSource: nil)
        } else if let path = testData {
            test = try DataSource.load(path, split: .test, limit: testCount, channels: net.inputShape[0],
                                       images: data.imageOptions)
        } else if let (source, split) = train.splitSource {
            test = try DataSource.load(source, split: split.other, limit: testCount, channels: net.inputShape[0])
        } else if streamFiles == nil && trainSet.count >= 20 {
            let held = max(1, trainSet.count / 10)
            let keep = trainSet.count - held
            var tail = trainSet.subset(Array(keep..<trainSet.count))
            tail.labels = []
            trainSet.truncate(to: keep)
            test = LoadedData(dataset: tail, name: "the last \(held) images of \(train.name) (held out)", splitSource: nil)
        }
        if let crop = crop, let t = test {
            guard t.dataset.shape == crop.imageShape else {
                throw CLIError("\(t.name) has \(describeShape(t.dataset.shape)) images, but --patch cuts from \(describeShape(crop.imageShape)) images (give the test data the same --size)")
            }
            test = LoadedData(dataset: crop.centred(t.dataset), name: "\(t.name), centred \(crop.patch)×\(crop.patch) crops", splitSource: nil)
        }
        if let test = test { try net.requireInputShape(of: test, modelPath: resume ?? "the model") }
        if Interrupt.requested {
            say("interrupted before training started; nothing was saved")
            throw ExitCode(130)
        }

        let n = streamFiles?.count ?? trainSet.count
        // A step takes batchSize images per rank; a last batch with fewer images than ranks
        // is left out of the epoch (every rank must have an example). Without --distributed
        // this is ceil(n / batchSize) steps.
        let globalBatch = batchSize * group.size
        let steps = n / globalBatch + (n % globalBatch >= group.size ? 1 : 0)
        if steps == 0 { throw CLIError("--distributed: \(n) images are fewer than the \(group.size) ranks") }
        try group.broadcastState(of: net)
        if group.distributed { group.startWatchdog(timeout: stepTimeout) }
        let firstEpoch = net.history.count + 1
        say("\(resume == nil ? "training" : "resuming") a \(net.spec.preset.rawValue) autoencoder "
                     + "(\(TextFormat.grouped(net.parameterCount)) parameters, input \(describeShape(net.inputShape)), "
                     + "code \(net.latentSize)) on \(n) images of \(train.name)"
                     + (crop.map { " (a random \($0.patch)×\($0.patch) crop of each per epoch)" } ?? "") + ", batch \(batchSize)"
                     + (group.distributed ? " per rank × \(group.size) ranks = \(globalBatch)" : "") + ", "
                     + "learning rate \(show(net.learningRate))"
                     + (test.map { "; test: \($0.dataset.count) images of \($0.name)" } ?? "; no test set (under 20 images)"))
        if firstEpoch > epochs {
            say("\(outPath): already trained for \(net.history.count) epochs (--epochs \(epochs)); nothing to do")
            return
        }

        var curve = LossCurve(history: net.history, firstEpoch: firstEpoch)
        let plotTitle = "\(net.spec.preset.rawValue) autoencoder on \(train.name)"
        var batch = [Float](repeating: 0, count: batchSize * net.inputSize)
        var order = Array(0..<n)
        let size = net.inputSize
        var decoded = ImageDataset(images: [], labels: [], shape: trainSet.shape)
        for epoch in firstEpoch...epochs {
            // The order of an epoch depends only on (seed, epoch), so a resumed run sees the
            // same order as an uninterrupted one.
            var random = RandomSource(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
            order = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = Int(random.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
            // This rank's examples of the epoch, step after step: its shard of every global batch
            // (in one process, the whole order). --stream decodes only these files, so each rank
            // reads 1/size of them; in memory they are gathered from the training set.
            let mine = shardOrder(order, steps: steps, group: group)
            var taken = 0
            let epochStream = try streamFiles.map {
                try BatchStream(files: $0, order: mine, preprocessing: streamPrep!, batchSize: batchSize,
                                workers: decodeThreads, capacity: 2 * decodeThreads + 1, skipBad: data.skipBad)
            }
            var progress = ProgressBar(label: "epoch \(epoch)/\(epochs)", total: n)
            var lossSum = 0.0
            var seen = 0
            for s in 0..<steps {
                var count = min(globalBatch, n - s * globalBatch)
                if let epochStream = epochStream {
                    // --stream: the decoder hands out this rank's batches in order; in one
                    // process a batch may be short when --skip-bad dropped files.
                    let next: (images: [Float], count: Int)?
                    do { next = try epochStream.next() } catch let error as AECVError {
                        throw CLIError("\(group.distributed ? "\(group.name): " : "")epoch \(epoch), step \(s + 1): \(error.message); the last checkpoint is \(outPath)")
                    }
                    // Ranks must all take every step (their collectives pair up), so a rank
                    // whose shard came out short is an error, never an early end.
                    let expected = group.shard(ofBatch: count).count
                    guard let next = next, !group.distributed || next.count == expected else {
                        if !group.distributed { break }
                        throw CLIError("\(group.name): epoch \(epoch), step \(s + 1): decoded \(next?.count ?? 0) images for its shard of \(expected)")
                    }
                    if !group.distributed { count = next.count }
                    decoded = ImageDataset(images: next.images, labels: [], shape: trainSet.shape)
                }
                let shard = group.shard(ofBatch: count)
                // This rank's examples of the step: from the decoded batch (--stream) or gathered
                // from the training set; with --patch, each example's crop of the epoch.
                let source = epochStream == nil ? trainSet : decoded
                batch.withUnsafeMutableBufferPointer { dst in
                    for b in 0..<shard.count {
                        let example = epochStream == nil ? mine[taken + b] : b
                        if let crop {
                            let (top, left) = crop.corner(seed: seed, epoch: epoch, index: mine[taken + b])
                            crop.copy(source, example: example, top: top, left: left, into: dst.baseAddress! + b * size)
                        } else {
                            source.copyExample(example, into: dst.baseAddress! + b * size)
                        }
                    }
                }
                taken += shard.count
                let loss: Float
                var interrupted = Interrupt.requested
                do {
                    let inputs = batch.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[0..<(shard.count * size)]) }
                    if group.distributed {
                        (loss, interrupted) = try distributedStep(net, group: group, inputs: inputs, shard: shard, of: count)
                    } else {
                        loss = try net.trainStep(inputs: inputs, targets: nil, batch: count)
                    }
                } catch let error as AECVError {
                    throw CLIError("epoch \(epoch), step \(s + 1): \(error.message); the last checkpoint is \(outPath)")
                }
                lossSum += Double(loss) * Double(count)
                seen += count
                curve.addStep(epoch: epoch, fraction: Double(seen) / Double(n), loss: Double(loss))
                if group.isLead { progress.update(done: seen, loss: lossSum / Double(seen)) }
                if interrupted {
                    try stop(group, net, outPath: outPath, plotPath: plotPath, curve: curve, title: plotTitle,
                             note: "in epoch \(epoch) at \(seen * 100 / n)%")
                }
            }
            if group.isLead { progress.finish(loss: lossSum / Double(max(1, seen))) }
            if let epochStream = epochStream {
                let skipped = epochStream.skipped
                if skipped.count > 0 {
                    Terminal.warn("epoch \(epoch): skipped \(skipped.count) unreadable images (first: \(skipped.first ?? "?"))")
                }
                if epochStream.stallSeconds > 0.05 * max(progress.elapsed, 1e-9) {
                    say("epoch \(epoch): waited \(TextFormat.c("%.1f", epochStream.stallSeconds)) s for decoding (the decoder is the bottleneck; try --decode-threads)")
                }
            }
            let trainTime = progress.elapsed
            let trainLoss = lossSum / Double(max(1, seen))
            net.history.append(Float(trainLoss))
            curve.endEpoch(epoch, trainLoss: trainLoss)

            var line = "epoch \(epoch)/\(epochs): train loss \(show(trainLoss))"
            try group.requireAgreement(on: net, "after epoch \(epoch)")
            if let test = test, group.isLead {
                let testLoss = try meanLoss(net, test.dataset)
                if !Interrupt.requested {
                    curve.testLosses.append((Double(epoch), testLoss))
                    line += ", test loss \(show(testLoss))"
                }
            }
            line += ", \(TextFormat.grouped(Int((Double(n) / max(trainTime, 1e-9)).rounded()))) img/s, "
                + "\(TextFormat.fixed(trainTime, 1)) s"
            if group.isLead {
                try net.save(to: outPath)
                try writePNG(curve.plot(title: plotTitle, epochs: epochs), to: plotPath)
            }
            say(line + "; saved \(outPath)")
            if try group.anyInterrupted() {
                try stop(group, net, outPath: outPath, plotPath: plotPath, curve: curve, title: plotTitle, note: "after epoch \(epoch)")
            }
        }
        say("loss plot: \(plotPath)")
        if group.distributed { say("ranks agree on the parameters (checksum over \(group.size) ranks)") }
    }

    /// Saves after Ctrl-C and ends the process with status 130.
    func stop(_ group: TrainingGroup, _ model: Autoencoder, outPath: String, plotPath: String, curve: LossCurve,
              title plotTitle: String, note: String) throws -> Never {
        Terminal.finishProgressLine()
        guard group.isLead else { throw ExitCode(130) }
        try model.save(to: outPath)
        try? writePNG(curve.plot(title: plotTitle, epochs: epochs), to: plotPath)
        Terminal.say("interrupted \(note): saved \(outPath) (\(model.history.count) complete epochs); "
                     + "continue with: aecv train --resume \(outPath) --data \(data.data) --epochs \(epochs)")
        throw ExitCode(130)
    }

    func makeModel(inputShape: [Int]) throws -> Autoencoder {
        guard let specPath = spec else {
            let preset = ModelSpec.Preset(rawValue: preset ?? "conv")!
            return try Autoencoder(spec: ModelSpec(preset: preset, input: inputShape, seed: seed))
        }
        let bytes = try FileIO.readAll(path: specPath, maxBytes: SpecLimits.maxSpecBytes)
        let value: JSONValue
        do {
            value = try JSONValue.parse(String(decoding: bytes, as: UTF8.self))
        } catch let error as JSONError {
            throw CLIError("\(specPath): invalid JSON: \(error)")
        }
        return try SpecFile.model(value, name: specPath, inputShape: inputShape, seed: seed)
    }

    /// model.aecv -> model.loss.png; other names get ".loss.png" appended.
    static func plotPath(forModel path: String) -> String {
        let stem = path.hasSuffix(".aecv") ? String(path.dropLast(5)) : path
        return stem + ".loss.png"
    }
}

/// The losses of a training run, for the plot: every step of this run (smoothed), the mean
/// training loss of every epoch (including those before a resume, from the model's history),
/// and the test loss after each epoch of this run.
struct LossCurve {
    var epochMeans: [(Double, Double)] = []
    var steps: [(Double, Double)] = []
    var testLosses: [(Double, Double)] = []

    init(history: [Float], firstEpoch: Int) {
        for (i, loss) in history.enumerated() { epochMeans.append((Double(i) + 0.5, Double(loss))) }
    }

    mutating func addStep(epoch: Int, fraction: Double, loss: Double) {
        steps.append((Double(epoch - 1) + fraction, loss))
    }

    mutating func endEpoch(_ epoch: Int, trainLoss: Double) {
        epochMeans.append((Double(epoch) - 0.5, trainLoss))
    }

    func plot(title: String, epochs: Int) -> RasterImage {
        var chart = LinePlot(title: title, xLabel: "epoch", yLabel: "loss")
        chart.xMinimum = 0
        chart.xMaximum = Double(max(epochs, Int(ceil(steps.last?.0 ?? 0))))
        // A moving mean over about 1/40 of the steps smooths the per-batch noise.
        let window = max(1, steps.count / 40)
        var smoothed: [(x: Double, y: Double)] = []
        var sum = 0.0
        for (i, s) in steps.enumerated() {
            sum += s.1
            if i >= window { sum -= steps[i - window].1 }
            if i + 1 >= window || i == steps.count - 1 { smoothed.append((s.0, sum / Double(min(i + 1, window)))) }
        }
        if !smoothed.isEmpty {
            chart.series.append(.init(name: "train, per step", colour: [150, 190, 235], points: smoothed))
        }
        chart.series.append(.init(name: "train, epoch mean", colour: [31, 100, 190],
                                  points: epochMeans.map { (x: $0.0, y: $0.1) }, markers: true, thickness: 2))
        if !testLosses.isEmpty {
            chart.series.append(.init(name: "test", colour: [230, 110, 20],
                                      points: testLosses.map { (x: $0.0, y: $0.1) }, markers: true, thickness: 2))
        }
        return chart.render()
    }
}

