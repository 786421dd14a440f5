#if canImport(Glibc)
import Glibc
#endif
import AECVKernels
import AECVNN
import AECVModels

/// A single-stage grid object detector whose backbone is the conv autoencoder's encoder:
///
///     x (C, H, W) → backbone: [Conv(k3, s2, p1) → ReLU] per stage → (C_b, H/s, W/s), s = 2^stages
///                 → head: Conv3×3(C_b → head_channels, p1) → ReLU → Conv1×1(→ 5 + classes)
///                 → per cell: objectness, box, class logits (see `DetectionGrid`)
///
/// The backbone is copied from a trained conv autoencoder (transfer learning; the conv weights do
/// not depend on the spatial size, so a 28×28 autoencoder gives a 96×96 detector its weights) or
/// initialized at random (PyTorch's default). With `freeze_backbone` only the head trains.
/// Initialization of the head: PyTorch's default, except the objectness bias, set to
/// −log((1 − π)/π) with π = 0.01 (RetinaNet's prior), so the initial loss is not dominated by the
/// ~140 empty cells of every image.
///
/// All parameters live in one `ParameterStore` (backbone "encoder.*" named as in the autoencoder,
/// then "head.*"); one optimizer covers the trainable range. Steps are transactional: a non-finite
/// loss or update leaves the detector bit-identical. A batch is split into parts run on the
/// library's threads, each on its own replica of the network (a `ReplicaSet`, as the autoencoders).
///
/// Images are (N, C·H·W) floats; boxes are rows of 5 floats (class, x_min, y_min, x_max, y_max) in
/// pixels, `maxBoxes` rows per image, class −1 marking padding rows.
public final class Detector {
    public let spec: DetectorSpec
    let grid: DetectionGrid
    package let network: DetectorNetwork
    /// Store, optimizer and transactional commit (shared with the autoencoders); with
    /// `freeze_backbone` the backbone's entries are marked frozen in the store.
    package let core: TrainableCore
    /// Checks memory before a batch larger than any before grows the workspaces.
    private var workspaceProbe = WorkspaceProbe()
    package var store: ParameterStore { core.store }
    var optimizer: Optimizer { core.optimizer }
    /// Copies of the network for the other threads of a split batch (`ReplicaSet`).
    lazy var replicas = ReplicaSet<DetectorNetwork>(
        minimumPart: Detector.minimumPart, make: { [spec] in try? DetectorNetwork(spec: spec) }, stored: { $0 })
    private var partLosses = [Double](repeating: 0, count: 1024)

    public var classes: Int { spec.classes }
    public var inputShape: [Int] { spec.input }
    public var inputSize: Int { spec.input.reduce(1, *) }
    public var parameterCount: Int { store.count }
    public var step: Int { optimizer.step }
    static let minimumPart = 4
    static let objectnessPrior: Float = 0.01

    /// A detector with a randomly initialized backbone (from the spec's seed).
    public init(spec: DetectorSpec) throws {
        // Before OpenBLAS's first use by this detector: its buffers must fit, or it would hang.
        try OpenBLASBuffer.reserveForCall()
        try spec.validate()
        self.spec = spec
        grid = DetectionGrid(spec: spec)
        network = try DetectorNetwork(spec: spec)
        let freeze = spec.freezeBackbone
        core = try TrainableCore(network: network, optimizer: spec.optimizer) { store in
            store.configure(where: { freeze && $0.name.hasPrefix("encoder.") }, trainable: false)
        }
        var random = RandomSource(seed: spec.seed)
        network.backbone.initialize(random: &random)
        network.head.initialize(random: &random)
        if let bias = store.entries.last, bias.name.hasSuffix(".bias") {
            store.parameters[bias.offset] = -log((1 - Detector.objectnessPrior) / Detector.objectnessPrior)
        }
    }

    public convenience init(specJSON: String) throws {
        try self.init(spec: DetectorSpec(json: specJSON))
    }

    /// A detector whose backbone is a copy of a conv autoencoder's encoder (presets "conv" and
    /// "denoising" with a conv base): its parameters and, with batch_norm, its running
    /// statistics. The spec's "backbone", "batch_norm" and "downsample" are replaced by the
    /// autoencoder's; its input channel count must match the autoencoder's.
    public convenience init(backbone autoencoder: Autoencoder, spec: DetectorSpec) throws {
        let a = autoencoder.spec
        guard let channels = autoencoder.capabilities.convBackbone else {
            throw AECVError.unsupported("detector: the backbone must be a conv autoencoder (preset \"conv\" or \"denoising\" with base \"conv\"), got \"\(a.preset.rawValue)\"")
        }
        guard spec.input.count == 3, a.input[0] == spec.input[0] else {
            throw AECVError.config("detector.input: \(spec.input[0]) channels, but the backbone autoencoder takes \(a.input[0])")
        }
        var spec = spec
        spec.backbone = channels
        spec.batchNorm = a.batchNorm ?? false
        spec.downsample = a.downsample ?? .stride
        try self.init(spec: spec)
        func copy(_ tensors: [(name: String, tensor: Tensor)], into entries: [ParameterStore.Entry], at base: UnsafeMutablePointer<Float>) throws {
            let source = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) })
            for e in entries where e.name.hasPrefix("encoder.") {
                guard let t = source[e.name], t.shape == e.shape else {
                    throw AECVError.internal("detector: backbone tensor \(e.name) \(e.shape) not found in the autoencoder")
                }
                t.values.withUnsafeBufferPointer { (base + e.offset).update(from: $0.baseAddress!, count: e.count) }
            }
        }
        try copy(autoencoder.parameters(), into: store.entries, at: store.parameters)
        try copy(autoencoder.buffers(), into: store.bufferEntries, at: store.buffers)
    }


    // MARK: - Checks

    func checkImages(_ images: UnsafeBufferPointer<Float>, batch: Int) throws {
        try BatchCheck.inputs("images", images, batch: batch, perExample: inputSize)
        try workspaceProbe.require(batch: batch, floatsPerExample: network.trainingFloatsPerExample + 4 * inputSize,
                                   what: "images")
    }

    /// Ground truth of a batch from rows of (class, x_min, y_min, x_max, y_max); class −1 rows are
    /// padding. Every other row must have an integral class in 0..<classes and a finite box of
    /// positive size inside the image (0 ≤ x_min < x_max ≤ W, same for y), else INVALID_ARGUMENT.
    public func groundTruth(boxes: UnsafeBufferPointer<Float>, maxBoxes: Int, batch: Int) throws -> [[DetectionBox]] {
        if maxBoxes < 0 || maxBoxes > 1 << 20 { throw AECVError.invalidArgument("max_boxes: must be in 0...\(1 << 20), got \(maxBoxes)") }
        let needed = batch * maxBoxes * 5
        if boxes.count != needed {
            throw AECVError.shape("boxes: batch \(batch) × max_boxes \(maxBoxes) needs \(needed) floats, got \(boxes.count)")
        }
        let (w, h) = (Float(spec.input[2]), Float(spec.input[1]))
        var result: [[DetectionBox]] = []
        result.reserveCapacity(batch)
        for i in 0..<batch {
            var image: [DetectionBox] = []
            for r in 0..<maxBoxes {
                let row = boxes.baseAddress! + (i * maxBoxes + r) * 5
                let where_ = "boxes[image \(i), row \(r)]"
                let c = row[0]
                if c == -1 { continue }
                guard c.isFinite, c == c.rounded(), c >= 0, c < Float(classes) else {
                    throw AECVError.invalidArgument("\(where_): class \(c) is not an integer in 0..<\(classes) (or −1 for padding)")
                }
                let b = DetectionBox(classIndex: Int(c), xMin: row[1], yMin: row[2], xMax: row[3], yMax: row[4])
                guard [b.xMin, b.yMin, b.xMax, b.yMax].allSatisfy(\.isFinite) else {
                    throw AECVError.invalidArgument("\(where_): coordinates contain NaN or Inf")
                }
                guard b.xMin >= 0, b.yMin >= 0, b.xMax <= w, b.yMax <= h else {
                    throw AECVError.invalidArgument("\(where_): box (\(b.xMin), \(b.yMin), \(b.xMax), \(b.yMax)) is not inside the \(Int(w))×\(Int(h)) image")
                }
                guard b.xMin < b.xMax, b.yMin < b.yMax else {
                    throw AECVError.invalidArgument("\(where_): box (\(b.xMin), \(b.yMin), \(b.xMax), \(b.yMax)) has no area (needs x_min < x_max, y_min < y_max)")
                }
                image.append(b)
            }
            result.append(image)
        }
        return result
    }

    // MARK: - Training

    /// One optimizer step on a batch; returns the loss before the update (mean over images).
    @discardableResult
    public func trainStep(images: UnsafeBufferPointer<Float>, boxes: UnsafeBufferPointer<Float>,
                          maxBoxes: Int, batch: Int) throws -> Float {
        let loss = try computeGradients(images: images, boxes: boxes, maxBoxes: maxBoxes, batch: batch, what: "train_step")
        try core.applyGradients("train_step", owner: "detector")
        return loss
    }

    /// `trainStep` without the update: the gradient of the loss (normalized by this batch) is
    /// left in the flat gradient buffer (`gradientBuffer`). A non-finite loss leaves the
    /// detector unchanged.
    @discardableResult
    public func computeGradients(images: UnsafeBufferPointer<Float>, boxes: UnsafeBufferPointer<Float>,
                                 maxBoxes: Int, batch: Int) throws -> Float {
        try computeGradients(images: images, boxes: boxes, maxBoxes: maxBoxes, batch: batch, what: "compute_gradients")
    }

    private func computeGradients(images: UnsafeBufferPointer<Float>, boxes: UnsafeBufferPointer<Float>,
                                  maxBoxes: Int, batch: Int, what: String) throws -> Float {
        core.hasPendingGradients = false
        try checkImages(images, batch: batch)
        let truth = try groundTruth(boxes: boxes, maxBoxes: maxBoxes, batch: batch)
        store.beginStep()
        let loss = lossAndGradients(images: images.baseAddress!, truth: truth, batch: batch)
        guard loss.isFinite else {
            throw AECVError.nonFinite("\(what): the loss is \(loss); the detector was left unchanged")
        }
        core.hasPendingGradients = true
        return loss
    }

    /// Forward, loss and backward over the batch (split in parts); leaves the summed gradient in
    /// store.gradients and returns the loss. images: (N, C·H·W) caller layout.
    func lossAndGradients(images: UnsafePointer<Float>, truth: [[DetectionBox]], batch: Int) -> Float {
        let grid = self.grid, inputSize = self.inputSize, count = store.count
        let targets = truth.map { grid.assign($0) }
        let trainBackbone = !spec.freezeBackbone
        let parts = partLosses.withUnsafeMutableBufferPointer { losses in
            replicas.forEachPart(replicas.partCount(batch: batch),
                                 batch: batch, primary: network, store: store, mode: .training) { net, gradients, offset, n, part in
                gradients.update(repeating: 0, count: count)
                let out = net.forward(images + offset * inputSize, batch: n)
                let dOut = net.outputGradient.reserve(n * net.head.outputSize)
                losses[part] = grid.lossAndGradient(out: out, batch: n, targets: targets[offset..<(offset + n)],
                                                    normalization: batch, gradient: dOut)
                net.backward(outputGradient: dOut, batch: n, throughBackbone: trainBackbone)
            }
        }
        replicas.sumGradients(parts, into: store)
        return Float(partLosses.prefix(parts).reduce(0, +))
    }

    // MARK: - Detection

    /// Detections per image after per-class NMS, by descending score: score = σ(objectness) ×
    /// class probability for the spec's `classes_per_cell` most likely classes of each cell, kept
    /// when ≥ scoreThreshold; boxes clipped to the image.
    public func detect(images: UnsafeBufferPointer<Float>, batch: Int, scoreThreshold: Float,
                       iouThreshold: Float) throws -> [[DetectionBox]] {
        try checkImages(images, batch: batch)
        guard scoreThreshold.isFinite, scoreThreshold >= 0, scoreThreshold <= 1 else {
            throw AECVError.invalidArgument("score_threshold: must be in [0, 1], got \(scoreThreshold)")
        }
        guard iouThreshold.isFinite, iouThreshold >= 0, iouThreshold <= 1 else {
            throw AECVError.invalidArgument("iou_threshold: must be in [0, 1], got \(iouThreshold)")
        }
        var results = [[DetectionBox]](repeating: [], count: batch)
        let grid = self.grid, inputSize = self.inputSize
        let (w, h) = (Float(spec.input[2]), Float(spec.input[1]))
        let base = images.baseAddress!
        let flip = spec.testTimeFlip
        _ = results.withUnsafeMutableBufferPointer { results in
            replicas.forEachPart(replicas.partCount(batch: batch), batch: batch, primary: network, store: store, mode: .evaluation) { net, _, offset, n, _ in
                func decodeAll(_ out: UnsafePointer<Float>) {
                    for i in 0..<n {
                        let candidates = grid.decode(out: out, batch: n, image: i, scoreThreshold: scoreThreshold,
                                                     imageWidth: w, imageHeight: h)
                        results[offset + i] = nonMaximumSuppression(candidates, iouThreshold: iouThreshold)
                    }
                }
                let out = net.forward(base + offset * inputSize, batch: n)
                guard flip else { return decodeAll(out) }
                // Test-time flip: the mirrored images' outputs, mirrored back, averaged in (the
                // first outputs are copied out of the head's buffer the second pass overwrites).
                let count = grid.channels * grid.cells * n
                let averaged = net.flipOutputs.reserve(count)
                averaged.update(from: out, count: count)
                let mirrored = net.flipImages.reserve(n * inputSize)
                mirrorImages(base + offset * inputSize, into: mirrored, count: n)
                grid.averageWithMirrored(averaged, net.forward(mirrored, batch: n), batch: n)
                decodeAll(averaged)
            }
        }
        return results
    }

    /// Copies `count` caller-layout images (C, H, W each) mirrored left-right.
    private func mirrorImages(_ images: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        let (c, h, w) = (spec.input[0], spec.input[1], spec.input[2])
        for row in 0..<(count * c * h) {
            let src = images + row * w, dst = out + row * w
            for x in 0..<w { dst[x] = src[w - 1 - x] }
        }
    }

    /// The optimizer's learning rate (for schedules, e.g. a step decay at the end of training).
    public var learningRate: Float { optimizer.learningRate }

    /// Sets the learning rate of the next steps; the optimizer's state is kept. CONFIG unless
    /// positive and finite.
    public func setLearningRate(_ learningRate: Float) throws {
        try core.setLearningRate(learningRate)
    }

    // MARK: - Parameters

    /// All parameters as named tensors: "encoder.*" (the backbone), then "head.*".
    public func parameters() -> [(name: String, tensor: Tensor)] { core.parameterTensors() }

    /// The backbone's BatchNorm running statistics ("encoder.<i>.running_mean", ...); empty
    /// without batch_norm.
    public func buffers() -> [(name: String, tensor: Tensor)] { core.bufferTensors() }
}

/// The detector's layers and per-thread workspaces; replicas share parameters, not workspaces.
package final class DetectorNetwork: ChainPair {
    package let backbone: Sequential
    package let head: Sequential
    let inputsT = Workspace()
    let outputGradient = Workspace()
    let featureGradient = Workspace()
    /// Test-time flip: the mirrored images and the first pass's outputs.
    let flipImages = Workspace()
    let flipOutputs = Workspace()

    init(spec: DetectorSpec) throws {
        var b = NetworkBuilder(inputShape: spec.input, field: "detector.backbone")
        for (i, c) in spec.backbone.enumerated() {
            try NetworkFactory.convStage(&b, channels: c, batchNorm: spec.batchNorm, maxPool: spec.downsample == .maxPool,
                                         at: "detector.backbone[\(i)]", options: ("detector.batch_norm", "detector.downsample"))
        }
        var h = NetworkBuilder(inputShape: b.shape, field: "detector.head_channels")
        try h.conv2d(spec.headChannels, kernel: 3, stride: 1, padding: 1, at: "detector.head_channels")
        try h.activation(.relu)
        try h.conv2d(spec.outputsPerCell, kernel: 1, stride: 1, padding: 0, at: "detector.classes")
        backbone = b.build()
        head = h.build()
    }

    // Tensors: "encoder.*" (the backbone, named as in a conv autoencoder) then "head.*".
    package var firstChain: Sequential { backbone }
    package var secondChain: Sequential { head }
    package var chainPrefixes: (first: String, second: String) { ("encoder", "head") }

    /// images: n caller-layout images (n, C·H·W); returns the head output (A, gh, gw, n).
    func forward(_ images: UnsafePointer<Float>, batch n: Int) -> UnsafePointer<Float> {
        let x = inputsT.reserve(n * backbone.inputSize)
        transpose(images, rows: n, columns: backbone.inputSize, into: x)
        let f = backbone.forward(x, batch: n)
        return head.forward(f, batch: n)
    }

    /// After `forward`: accumulates parameter gradients for ∂L/∂out.
    func backward(outputGradient dOut: UnsafePointer<Float>, batch n: Int, throughBackbone: Bool) {
        let df = throughBackbone ? featureGradient.reserve(n * head.inputSize) : nil
        head.backward(input: backbone.output, outputGradient: dOut, inputGradient: df, batch: n)
        if let df {
            backbone.backward(input: UnsafePointer(inputsT.pointer), outputGradient: df, inputGradient: nil, batch: n)
        }
    }
}
