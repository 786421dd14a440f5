import XCTest
import Foundation
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The grid detector: loss gradients by finite differences, NMS and AP on hand-made cases with
/// known answers, spec and box validation, transfer from an autoencoder, files, and a short
/// convergence run on synthetic canvases.
final class DetectionTests: XCTestCase {
    private func box(_ c: Int, _ x0: Float, _ y0: Float, _ x1: Float, _ y1: Float, score: Float = 1) -> DetectionBox {
        DetectionBox(classIndex: c, score: score, xMin: x0, yMin: y0, xMax: x1, yMax: y1)
    }

    // MARK: - Loss

    /// ∂L/∂out of the detection loss against central differences in Double-checked float32.
    func testDetectionLossGradient() {
        let grid = DetectionGrid(classes: 3, gridHeight: 3, gridWidth: 4, stride: 8, anchor: 10,
                                 boxWeight: 5, negativeWeight: 0.7)
        let n = 2
        var random = RandomSource(seed: 7)
        let count = grid.channels * grid.cells * n
        var out: [Float] = (0..<count).map { _ in random.uniform(-2, 2) }
        let truth: [[DetectionBox]] = [
            [box(1, 2, 3, 14, 20), box(2, 17, 1, 30, 12), box(0, 18, 2, 29, 11)],  // last two share a cell
            [box(0, 8, 8, 24, 23)],
        ]
        let targets = truth.map { grid.assign($0) }
        XCTAssertEqual(targets[0].count, 2, "two boxes sharing a cell keep one target")
        XCTAssertEqual(targets[0].map(\.classIndex), [2, 1], "the larger box wins its cell (cells 2 and 5)")
        func loss(_ o: [Float]) -> Double {
            var g = [Float](repeating: 0, count: count)
            return grid.lossAndGradient(out: o, batch: n, targets: targets[...], normalization: 5, gradient: &g)
        }
        var analytic = [Float](repeating: 0, count: count)
        _ = grid.lossAndGradient(out: out, batch: n, targets: targets[...], normalization: 5, gradient: &analytic)
        var numeric: [Double] = []
        let h: Float = 1e-3
        for i in 0..<count {
            let saved = out[i]
            out[i] = saved + h; let plus = loss(out)
            out[i] = saved - h; let minus = loss(out)
            out[i] = saved
            numeric.append((plus - minus) / Double(2 * h))
        }
        XCTAssertLessThan(relativeError(analytic.map(Double.init), numeric), Tolerance.gradientRelative)
        // Known value: with all outputs 0 and no objects, the loss is λ_neg·cells·log 2 per image.
        var g = [Float](repeating: 0, count: count)
        let empty = grid.lossAndGradient(out: [Float](repeating: 0, count: count), batch: n, targets: [[], []][...],
                                         normalization: n, gradient: &g)
        XCTAssertEqual(empty, 0.7 * 12 * log(2.0), accuracy: 1e-5)
    }

    private func tinyDetector(freeze: Bool = false, seed: UInt64 = 3) throws -> Detector {
        var spec = DetectorSpec(classes: 3, input: [1, 16, 16])
        spec.backbone = [4, 6]
        spec.headChannels = 5
        spec.anchor = 6
        spec.freezeBackbone = freeze
        spec.seed = seed
        return try Detector(spec: spec)
    }

    /// Gradients of the whole detector (head and backbone) by finite differences on the loss.
    func testDetectorGradients() throws {
        let d = try tinyDetector()
        var random = RandomSource(seed: 11)
        let n = 3
        let images: [Float] = (0..<(n * 256)).map { _ in random.uniform() }
        // Larger weights make every path matter; the objectness prior is kept.
        for i in 0..<d.store.count { d.store.parameters[i] = random.uniform(-0.6, 0.6) }
        let truth: [[DetectionBox]] = [[box(0, 1, 1, 7, 9), box(2, 9, 4, 15, 13)], [], [box(1, 4, 6, 12, 16)]]
        func loss() -> Double {
            images.withUnsafeBufferPointer { Double(d.lossAndGradients(images: $0.baseAddress!, truth: truth, batch: n)) }
        }
        _ = loss()
        let analytic = Array(UnsafeBufferPointer(start: d.store.gradients, count: d.store.count)).map(Double.init)
        var a: [Double] = [], numeric: [Double] = []
        let h: Float = 1e-2
        for i in stride(from: 0, to: d.store.count, by: 3) {
            let saved = d.store.parameters[i]
            d.store.parameters[i] = saved + h; let plus = loss()
            d.store.parameters[i] = saved - h; let minus = loss()
            d.store.parameters[i] = saved
            a.append(analytic[i]); numeric.append((plus - minus) / Double(2 * h))
        }
        XCTAssertLessThan(relativeError(a, numeric), Tolerance.gradientRelative)
    }

    /// Decoding of one hand-set cell: box geometry, score = σ(objectness)·p(class), and
    /// classes_per_cell emitting the next most likely classes while they clear the threshold.
    func testDecodeClassesPerCell() {
        var grid = DetectionGrid(classes: 3, gridHeight: 2, gridWidth: 2, stride: 8, anchor: 10,
                                 boxWeight: 5, negativeWeight: 1)
        let n = 1
        var out = [Float](repeating: -20, count: grid.channels * grid.cells * n)   // objectness ≈ 0
        func set(_ a: Int, _ cell: Int, _ v: Float) { out[a * grid.cells + cell] = v }
        // Cell 3 (row 1, col 1): objectness σ(2), center offsets σ(0) = 0.5, size 10·e^0 = 10.
        set(0, 3, 2); set(1, 3, 0); set(2, 3, 0); set(3, 3, 0); set(4, 3, 0)
        set(5, 3, log(0.2)); set(6, 3, log(0.7)); set(7, 3, log(0.1))             // p = (0.2, 0.7, 0.1)
        let objectness = 1 / (1 + exp(Float(-2)))
        func decode(_ perCell: Int, threshold: Float) -> [DetectionBox] {
            grid.classesPerCell = perCell
            return grid.decode(out: out, batch: n, image: 0, scoreThreshold: threshold, imageWidth: 16, imageHeight: 16)
        }
        let one = decode(1, threshold: 0.05)
        XCTAssertEqual(one.map(\.classIndex), [1])
        XCTAssertEqual(one[0].score, objectness * 0.7, accuracy: 1e-5)
        // Center (1.5·8, 1.5·8) = (12, 12), 10×10, clipped to the 16×16 image.
        XCTAssertEqual([one[0].xMin, one[0].yMin, one[0].xMax, one[0].yMax], [7, 7, 16, 16])
        let three = decode(3, threshold: 0.05)
        XCTAssertEqual(three.map(\.classIndex), [1, 0, 2], "most likely first")
        for (d, p) in zip(three, [Float(0.7), 0.2, 0.1]) { XCTAssertEqual(d.score, objectness * p, accuracy: 1e-5) }
        XCTAssertEqual(three.map(\.xMin), [7, 7, 7], "one box, several classes")
        // The threshold cuts the list: 0.88·0.1 < 0.1 ≤ 0.88·0.2.
        XCTAssertEqual(decode(3, threshold: 0.1).map(\.classIndex), [1, 0])
        XCTAssertEqual(decode(3, threshold: 0.9), [], "objectness 0.88 is below the threshold")
    }

    // MARK: - NMS and AP

    func testNonMaximumSuppression() {
        let boxes = [box(0, 0, 0, 10, 10, score: 0.9),
                     box(0, 1, 0, 11, 10, score: 0.8),    // IoU 9/11 with the first: dropped
                     box(1, 1, 0, 11, 10, score: 0.7),    // another class: kept
                     box(0, 5, 0, 15, 10, score: 0.6),    // IoU 5/15 with the first: kept at 0.5
                     box(0, 20, 20, 30, 30, score: 0.95)]
        let kept = nonMaximumSuppression(boxes, iouThreshold: 0.5)
        XCTAssertEqual(kept.map(\.score), [0.95, 0.9, 0.7, 0.6])
        XCTAssertEqual(nonMaximumSuppression(boxes, iouThreshold: 0.3).map(\.score), [0.95, 0.9, 0.7])
        XCTAssertEqual(box(0, 0, 0, 10, 10).iou(box(0, 5, 5, 15, 15)), 25.0 / 175.0, accuracy: 1e-6)
        XCTAssertEqual(box(0, 0, 0, 10, 10).iou(box(0, 10, 0, 20, 10)), 0)
    }

    func testAveragePrecisionKnownCases() {
        let g = box(0, 0, 0, 10, 10)
        // Perfect: AP 1.
        XCTAssertEqual(AveragePrecision.perClass(detections: [[g]], groundTruth: [[g]], classIndex: 0)!, 1, accuracy: 1e-12)
        // Two objects; ranked TP, FP, TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
        // → envelope 1 on (0, 1/2], 2/3 on (1/2, 1]: AP = 1/2 + 1/3.
        let g2 = box(0, 20, 20, 30, 30)
        let dets = [[box(0, 0, 0, 10, 10, score: 0.9), box(0, 50, 50, 60, 60, score: 0.8)],
                    [box(0, 20, 20, 30, 30, score: 0.7)]]
        XCTAssertEqual(AveragePrecision.perClass(detections: dets, groundTruth: [[g], [g2]], classIndex: 0)!,
                       0.5 + 1.0 / 3.0, accuracy: 1e-12)
        // A duplicate of a matched box is a false positive; a missed object caps recall: ranked TP, FP
        // with 2 objects → AP = 1/2.
        let dup = [[box(0, 0, 0, 10, 10, score: 0.9), box(0, 0, 0, 10, 10, score: 0.8)], []]
        XCTAssertEqual(AveragePrecision.perClass(detections: dup, groundTruth: [[g], [g2]], classIndex: 0)!, 0.5, accuracy: 1e-12)
        // IoU below 0.5 does not match (IoU of (0,0,10,10) and (5,0,15,10) is 1/3).
        XCTAssertEqual(AveragePrecision.perClass(detections: [[box(0, 5, 0, 15, 10)]], groundTruth: [[g]], classIndex: 0)!, 0)
        // mAP averages over classes WITH ground truth: class 1 AP 0 (wrong class), class 2 absent.
        let truth = [[box(0, 0, 0, 10, 10), box(1, 20, 20, 30, 30)]]
        let pred = [[box(0, 0, 0, 10, 10, score: 0.9), box(2, 20, 20, 30, 30, score: 0.8)]]
        XCTAssertEqual(AveragePrecision.meanAP(detections: pred, groundTruth: truth, classes: 3), 0.5, accuracy: 1e-12)
        XCTAssertEqual(AveragePrecision.agnosticAP(detections: pred, groundTruth: truth), 1, accuracy: 1e-12)
        XCTAssertNil(AveragePrecision.perClass(detections: pred, groundTruth: truth, classIndex: 2))
    }

    // MARK: - Spec, validation, transfer, files

    func testSpecValidation() throws {
        let s = try DetectorSpec(json: #"{"classes": 10, "input": [1, 96, 96]}"#)
        XCTAssertEqual(s.gridHeight, 12)
        XCTAssertEqual(try DetectorSpec(json: s.jsonString()), s)
        for bad in [#"{"input": [1, 96, 96]}"#, #"{"classes": 10, "input": [1, 90, 96]}"#,
                    #"{"classes": 0, "input": [1, 96, 96]}"#, #"{"classes": 2, "input": [1, 96, 96], "head_chanels": 3}"#,
                    #"{"classes": 2, "input": [1, 96, 96], "anchor": -1}"#, #"{"classes": 2, "input": [96, 96]}"#,
                    #"{"classes": 2, "input": [1, 96, 96], "classes_per_cell": 3}"#,
                    #"{"classes": 2, "input": [1, 96, 96], "classes_per_cell": 0}"#] {
            XCTAssertThrowsError(try DetectorSpec(json: bad), bad) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 3, bad) }
        }
    }

    func testBoxValidationAndTransactionalSteps() throws {
        let d = try tinyDetector()
        let image = [Float](repeating: 0.5, count: 256)
        let before = d.parameters()
        func step(_ boxes: [Float], maxBoxes: Int) throws {
            _ = try image.withUnsafeBufferPointer { x in
                try boxes.withUnsafeBufferPointer { try d.trainStep(images: x, boxes: $0, maxBoxes: maxBoxes, batch: 1) }
            }
        }
        for bad: [Float] in [[3, 1, 1, 5, 5], [0.5, 1, 1, 5, 5], [0, -1, 1, 5, 5], [0, 1, 1, 17, 5],
                             [0, 5, 1, 5, 6], [0, .nan, 1, 5, 5], [-2, 1, 1, 5, 5]] {
            XCTAssertThrowsError(try step(bad, maxBoxes: 1), "\(bad)") { XCTAssertEqual(($0 as? AECVError)?.statusCode, 1) }
        }
        XCTAssertThrowsError(try step([0, 1, 1, 5, 5], maxBoxes: 2)) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 2) }
        XCTAssertEqual(d.parameters().map(\.tensor), before.map(\.tensor), "refused steps change nothing")
        // Padding rows (class −1) are ignored whatever their coordinates.
        try step([0, 1, 1, 5, 5, -1, .nan, 0, 0, 0], maxBoxes: 2)
        XCTAssertEqual(d.step, 1)
        // Weights at the largest float make the logits overflow: NONFINITE, bit-identical parameters.
        let e = try tinyDetector()
        let last = e.store.entries[e.store.entries.count - 2]
        (e.store.parameters + last.offset).update(repeating: .greatestFiniteMagnitude, count: last.count)
        let saved = e.parameters()
        XCTAssertThrowsError(try image.withUnsafeBufferPointer { x in
            try [Float](arrayLiteral: 0, 1, 1, 5, 5).withUnsafeBufferPointer { try e.trainStep(images: x, boxes: $0, maxBoxes: 1, batch: 1) }
        }) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 4) }
        XCTAssertEqual(e.parameters().map(\.tensor), saved.map(\.tensor))
        XCTAssertEqual(e.step, 0)
    }

    func testBackboneFromAutoencoderAndFrozenTraining() throws {
        // A 28×28 conv autoencoder gives a 32×32 detector its encoder weights.
        let ae = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 28, 28], "hidden": [4, 8], "seed": 5}"#)
        var spec = DetectorSpec(classes: 2, input: [1, 32, 32])
        spec.freezeBackbone = true
        let d = try Detector(backbone: ae, spec: spec)
        XCTAssertEqual(d.spec.backbone, [4, 8])
        let source = Dictionary(uniqueKeysWithValues: ae.parameters().map { ($0.name, $0.tensor) })
        let encoder = d.parameters().filter { $0.name.hasPrefix("encoder.") }
        XCTAssertEqual(encoder.count, 4)
        for p in encoder { XCTAssertEqual(p.tensor, source[p.name], p.name) }
        // Frozen: a step moves the head only.
        var random = RandomSource(seed: 1)
        let x = (0..<(2 * 1024)).map { _ in random.uniform() }
        let boxes: [Float] = [0, 2, 2, 12, 14, 1, 10, 10, 30, 28]
        _ = try x.withUnsafeBufferPointer { x in try boxes.withUnsafeBufferPointer { try d.trainStep(images: x, boxes: $0, maxBoxes: 1, batch: 2) } }
        let after = d.parameters()
        for p in after where p.name.hasPrefix("encoder.") { XCTAssertEqual(p.tensor, source[p.name]) }
        XCTAssertNotEqual(after.last!.tensor, try Detector(backbone: ae, spec: spec).parameters().last!.tensor)
        // Not a conv autoencoder: UNSUPPORTED.
        let dense = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 28, 28]}"#)
        XCTAssertThrowsError(try Detector(backbone: dense, spec: spec)) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 8) }
    }

    /// A BatchNorm/max-pool conv autoencoder gives a detector its stages: the same layers, its
    /// weights and running statistics, so the backbone's evaluation output IS the encoder's code.
    /// Such a detector trains on split batches and its file keeps the running statistics.
    func testBackboneWithBatchNormAndMaxPool() throws {
        let ae = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 16, 16], "channels": [4, 8], "batch_norm": true, "downsample": "max_pool", "upsample": "nearest", "seed": 5}"#)
        var random = RandomSource(seed: 3)
        let x = (0..<(32 * 256)).map { _ in random.uniform() }
        for _ in 0..<3 { try ae.trainStep(inputs: x) }   // running statistics away from 0 and 1
        let d = try Detector(backbone: ae, spec: DetectorSpec(classes: 2, input: [1, 16, 16]))
        XCTAssertTrue(d.spec.batchNorm)
        XCTAssertEqual(d.spec.downsample, .maxPool)
        let encoderBuffers = ae.buffers().filter { $0.name.hasPrefix("encoder.") }
        XCTAssertEqual(d.buffers().map(\.name), encoderBuffers.map(\.name))
        XCTAssertEqual(d.buffers().map(\.tensor), encoderBuffers.map(\.tensor))
        let codes = try ae.encode(Array(x[0..<(4 * 256)]))
        let net = d.network
        net.setMode(.evaluation)
        let xt = net.inputsT.reserve(4 * 256)
        transpose(Array(x[0..<(4 * 256)]), rows: 4, columns: 256, into: xt)
        let features = net.backbone.forward(xt, batch: 4)
        var f = [Float](repeating: 0, count: 4 * 128)
        transpose(features, rows: 128, columns: 4, into: &f)
        XCTAssertLessThan(maxAbsoluteDifference(f, codes), 1e-6, "the backbone computes the encoder")
        // Training splits the batch (2 threads) and moves the running statistics.
        ComputeThreads.set(2)
        defer { ComputeThreads.set(2) }
        let boxes = [Float](repeating: 0, count: 32 * 5).enumerated().map { i, _ in [Float(i / 5 % 2), 2, 2, 12, 14][i % 5] }
        _ = try x.withUnsafeBufferPointer { x in try boxes.withUnsafeBufferPointer { try d.trainStep(images: x, boxes: $0, maxBoxes: 1, batch: 32) } }
        XCTAssertEqual(d.replicas.count, 1, "two parts")
        XCTAssertNotEqual(d.buffers().map(\.tensor), encoderBuffers.map(\.tensor))
        // The file keeps them: the loaded detector detects identically.
        let path = NSTemporaryDirectory() + "/detector-bn-\(getpid()).aecvd"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try d.save(to: path)
        let e = try Detector(contentsOf: path)
        XCTAssertEqual(e.spec, d.spec)
        XCTAssertEqual(e.buffers().map(\.tensor), d.buffers().map(\.tensor))
        let a = try x.withUnsafeBufferPointer { try d.detect(images: UnsafeBufferPointer(rebasing: $0[0..<(3 * 256)]), batch: 3, scoreThreshold: 0, iouThreshold: 0.5) }
        let b = try x.withUnsafeBufferPointer { try e.detect(images: UnsafeBufferPointer(rebasing: $0[0..<(3 * 256)]), batch: 3, scoreThreshold: 0, iouThreshold: 0.5) }
        XCTAssertEqual(a, b)
        // A plain detector's spec is written as before the options existed.
        XCTAssertFalse(try tinyDetector().spec.jsonString().contains("batch_norm"))
        XCTAssertTrue(d.spec.jsonString().contains(#""downsample":"max_pool""#))
    }

    func testSaveLoadRoundTrip() throws {
        let d = try tinyDetector(seed: 9)
        let path = NSTemporaryDirectory() + "/detector-\(getpid()).aecvd"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try d.save(to: path)
        let e = try Detector(contentsOf: path)
        XCTAssertEqual(e.spec, d.spec)
        XCTAssertEqual(e.parameters().map(\.tensor), d.parameters().map(\.tensor))
        var random = RandomSource(seed: 2)
        let x = (0..<(3 * 256)).map { _ in random.uniform() }
        let a = try x.withUnsafeBufferPointer { try d.detect(images: $0, batch: 3, scoreThreshold: 0, iouThreshold: 0.5) }
        let b = try x.withUnsafeBufferPointer { try e.detect(images: $0, batch: 3, scoreThreshold: 0, iouThreshold: 0.5) }
        XCTAssertEqual(a, b)
        XCTAssertFalse(a[0].isEmpty)
        var bytes = try FileIO.readAll(path: path, maxBytes: 1 << 30)
        bytes[bytes.count - 10] ^= 0xFF
        try FileIO.writeAtomically(path: path, bytes: bytes)
        XCTAssertThrowsError(try Detector(contentsOf: path)) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 6) }
    }

    /// With test_time_flip the detections of a mirrored image are the mirrored detections (the
    /// averaged outputs are mirror-symmetric by construction); without it they differ.
    func testTestTimeFlipIsMirrorEquivariant() throws {
        var spec = DetectorSpec(classes: 3, input: [1, 16, 16])
        spec.backbone = [4, 6]
        spec.headChannels = 5
        spec.anchor = 6
        spec.seed = 4
        let flipping = try Detector(spec: spec)
        spec.testTimeFlip = false
        let plain = try Detector(spec: spec)
        var random = RandomSource(seed: 8)
        for i in 0..<flipping.store.count { flipping.store.parameters[i] = random.uniform(-0.6, 0.6) }
        plain.store.parameters.update(from: flipping.store.parameters, count: plain.store.count)
        let n = 3
        let x = (0..<(n * 256)).map { _ in random.uniform() }
        var mirrored = x
        for row in 0..<(n * 16) { for c in 0..<16 { mirrored[row * 16 + c] = x[row * 16 + 15 - c] } }
        func detect(_ d: Detector, _ images: [Float]) throws -> [[DetectionBox]] {
            try images.withUnsafeBufferPointer { try d.detect(images: $0, batch: n, scoreThreshold: 0.05, iouThreshold: 0.5) }
        }
        func mirror(_ b: DetectionBox) -> DetectionBox {
            DetectionBox(classIndex: b.classIndex, score: b.score, xMin: 16 - b.xMax, yMin: b.yMin, xMax: 16 - b.xMin, yMax: b.yMax)
        }
        func close(_ a: [[DetectionBox]], _ b: [[DetectionBox]]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { p, q in
                p.count == q.count && zip(p.sorted { $0.xMin < $1.xMin }, q.sorted { $0.xMin < $1.xMin }).allSatisfy { u, v in
                    u.classIndex == v.classIndex && abs(u.score - v.score) < 1e-5
                        && [u.xMin - v.xMin, u.yMin - v.yMin, u.xMax - v.xMax, u.yMax - v.yMax].allSatisfy { abs($0) < 1e-3 }
                }
            }
        }
        let a = try detect(flipping, x), b = try detect(flipping, mirrored)
        XCTAssertFalse(a.joined().isEmpty)
        XCTAssertTrue(close(a, b.map { $0.map(mirror) }), "flip-averaged detections are mirror-equivariant")
        XCTAssertFalse(close(try detect(plain, x), try detect(plain, mirrored).map { $0.map(mirror) }),
                       "stride-2 convolutions alone are not")
    }

    /// Detector files written before "test_time_flip" and "class_weight" existed keep their
    /// behavior: no flip, class weight 1.
    func testFileSpecWithoutNewerKeysKeepsOldBehavior() throws {
        var json = DetectorSpec(classes: 2, input: [1, 16, 16]).jsonValue()
        guard case .object(let members) = json else { return XCTFail("spec is not an object") }
        json = .object(members.filter { $0.key != "test_time_flip" && $0.key != "class_weight" })
        let old = try DetectorSpec(fileJSON: json.serialized())
        XCTAssertFalse(old.testTimeFlip)
        XCTAssertEqual(old.classWeight, 1)
        let current = try DetectorSpec(fileJSON: DetectorSpec(classes: 2, input: [1, 16, 16]).jsonString())
        XCTAssertTrue(current.testTimeFlip)
        XCTAssertEqual(current.classWeight, 3)
    }

    // MARK: - Convergence

    /// Synthetic 32×32 canvases with 1–2 squares (class 0 filled, class 1 an outline), 8–14 px:
    /// 300 canvases, 8 epochs of batch 20. The loss falls by more than 3× and the class-agnostic
    /// AP@0.5 on the training canvases exceeds 0.8.
    func testConvergenceOnSyntheticCanvases() throws {
        var random = RandomSource(seed: 21)
        let size = 32, count = 300, maxBoxes = 2
        var images = [Float](repeating: 0, count: count * size * size)
        var boxes = [Float](repeating: -1, count: count * maxBoxes * 5)
        var truth: [[DetectionBox]] = []
        for i in 0..<count {
            var placed: [DetectionBox] = []
            let k = 1 + Int(random.next() % 2)
            var attempts = 0
            while placed.count < k && attempts < 50 {
                attempts += 1
                let s = 8 + Int(random.next() % 7)
                let x0 = Int(random.next() % UInt64(size - s + 1)), y0 = Int(random.next() % UInt64(size - s + 1))
                let b = box(Int(random.next() % 2), Float(x0), Float(y0), Float(x0 + s), Float(y0 + s))
                if placed.contains(where: { $0.iou(b) > 0 }) { continue }
                for y in y0..<(y0 + s) {
                    for x in x0..<(x0 + s) where b.classIndex == 0 || y == y0 || x == x0 || y == y0 + s - 1 || x == x0 + s - 1 {
                        images[i * size * size + y * size + x] = 1
                    }
                }
                let r = (i * maxBoxes + placed.count) * 5
                boxes.replaceSubrange(r..<(r + 5), with: [Float(b.classIndex), b.xMin, b.yMin, b.xMax, b.yMax])
                placed.append(b)
            }
            truth.append(placed)
        }
        var spec = DetectorSpec(classes: 2, input: [1, size, size])
        spec.backbone = [8, 16, 32]
        spec.headChannels = 32
        spec.anchor = 12
        spec.optimizer.learningRate = 3e-3
        let d = try Detector(spec: spec)
        let batch = 20
        var epochLosses: [Float] = []
        for _ in 0..<8 {
            var total: Float = 0
            for start in stride(from: 0, to: count, by: batch) {
                total += try images[(start * size * size)..<((start + batch) * size * size)].withUnsafeBufferPointer { x in
                    try boxes[(start * maxBoxes * 5)..<((start + batch) * maxBoxes * 5)].withUnsafeBufferPointer {
                        try d.trainStep(images: x, boxes: $0, maxBoxes: maxBoxes, batch: batch)
                    }
                }
            }
            epochLosses.append(total / Float(count / batch))
        }
        let detections = try images.withUnsafeBufferPointer { try d.detect(images: $0, batch: count, scoreThreshold: 0.05, iouThreshold: 0.5) }
        let ap = AveragePrecision.agnosticAP(detections: detections, groundTruth: truth)
        let map = AveragePrecision.meanAP(detections: detections, groundTruth: truth, classes: 2)
        print("detector convergence: epoch losses \(epochLosses), agnostic AP \(ap), mAP \(map)")
        XCTAssertLessThan(epochLosses.last!, epochLosses.first! / 3)
        XCTAssertGreaterThan(ap, 0.8)
    }
}
