#if canImport(Glibc)
import Glibc
#endif
import AECVKernels
import AECVNN
import AECVModels

/// The grid detector's output encoding, loss and decoding.
///
/// Output per cell (r, c) of a gh×gw grid with stride s, A = 5 + K channels:
///     o = (objectness logit, tx, ty, tw, th, class logits ×K)
///     center = ((c + σ(tx))·s, (r + σ(ty))·s),   size = (anchor·e^{tw}, anchor·e^{th})
/// The buffer is batch-minor: out[(a·cells + r·gw + c)·n + i] for image i of a part of n images.
///
/// Assignment: a ground-truth box goes to the cell holding its center; when two share a cell the
/// larger (area) is kept. Targets: σ(tx) → center offset in the cell ∈ [0, 1), tw → log(w/anchor).
///
/// Loss (normalized by the images of the WHOLE batch, N, so parts sum to the unsplit loss):
///     L = (1/N) Σ_images [ Σ_positive BCE(o_obj, 1) + λ_neg Σ_negative BCE(o_obj, 0)
///                          + λ_box Σ_positive Σ_{4 coords} smoothL1_β(pred − target)
///                          + λ_cls Σ_positive CE(softmax(class logits), class) ]
/// with pred = (σ(tx), σ(ty), tw, th) and β = 1/9 (Detectron's smooth-L1). The objectness sum runs
/// over all cells (144 for 96×96): positives are ~2% of the cells, and λ_neg (default 1) is the
/// knob to trade them off; the box weight λ_box = 5 (as YOLO's λ_coord) because box errors in
/// cell units are small numbers next to the per-cell BCE sum.
struct DetectionGrid {
    let classes: Int
    let gridHeight: Int
    let gridWidth: Int
    let stride: Float
    let anchor: Float
    let boxWeight: Float
    let negativeWeight: Float
    /// λ_cls, the weight of the classification term.
    var classWeight: Float = 1
    /// Detections per cell when decoding: the most likely classes first (≥ 1).
    var classesPerCell = 1
    static let smoothL1Beta: Float = 1.0 / 9.0
    /// tw, th are clamped here when decoding, so e^{tw} cannot overflow.
    static let maxLogSize: Float = 8

    init(spec: DetectorSpec) {
        classes = spec.classes
        gridHeight = spec.gridHeight
        gridWidth = spec.gridWidth
        stride = Float(spec.stride)
        anchor = spec.anchor
        boxWeight = spec.boxWeight
        negativeWeight = spec.negativeWeight
        classesPerCell = spec.classesPerCell
        classWeight = spec.classWeight
    }

    init(classes: Int, gridHeight: Int, gridWidth: Int, stride: Float, anchor: Float,
         boxWeight: Float, negativeWeight: Float) {
        self.classes = classes; self.gridHeight = gridHeight; self.gridWidth = gridWidth
        self.stride = stride; self.anchor = anchor; self.boxWeight = boxWeight
        self.negativeWeight = negativeWeight
    }

    var cells: Int { gridHeight * gridWidth }
    var channels: Int { 5 + classes }

    /// One assigned target: the cell and (class, σ(tx), σ(ty), tw, th) targets.
    struct Target: Equatable {
        var cell: Int
        var classIndex: Int
        var x: Float, y: Float, w: Float, h: Float
    }

    /// Cell targets for one image's ground truth (boxes already validated: inside the image,
    /// positive size, class in range). At most one target per cell, the larger box winning.
    func assign(_ boxes: [DetectionBox]) -> [Target] {
        var byCell: [Int: (area: Float, target: Target)] = [:]
        for b in boxes {
            let cx = (b.xMin + b.xMax) / 2 / stride, cy = (b.yMin + b.yMax) / 2 / stride
            let col = min(max(Int(cx.rounded(.down)), 0), gridWidth - 1)
            let row = min(max(Int(cy.rounded(.down)), 0), gridHeight - 1)
            let t = Target(cell: row * gridWidth + col, classIndex: b.classIndex,
                           x: min(max(cx - Float(col), 0), 1), y: min(max(cy - Float(row), 0), 1),
                           w: log(max(b.width, 1e-3) / anchor), h: log(max(b.height, 1e-3) / anchor))
            if let existing = byCell[t.cell], existing.area >= b.area { continue }
            byCell[t.cell] = (b.area, t)
        }
        return byCell.values.map(\.target).sorted { $0.cell < $1.cell }
    }

    /// Loss of n images (a part of a batch of `normalization` images) and ∂L/∂out, written into
    /// `gradient` (same layout as `out`, fully overwritten). Returns the part's loss (already
    /// divided by `normalization`), in Double.
    func lossAndGradient(out: UnsafePointer<Float>, batch n: Int, targets: ArraySlice<[Target]>,
                         normalization: Int, gradient: UnsafeMutablePointer<Float>) -> Double {
        let scale = 1 / Float(normalization)
        let cells = self.cells, k = classes
        var total = 0.0
        @inline(__always) func at(_ a: Int, _ cell: Int, _ i: Int) -> Int { (a * cells + cell) * n + i }
        // Objectness: every cell is a negative first; positives are corrected below.
        for cell in 0..<cells {
            for i in 0..<n {
                let z = out[at(0, cell, i)]
                total += Double(negativeWeight) * Double(BinaryCrossEntropyWithLogits.negative(z))
                gradient[at(0, cell, i)] = negativeWeight * BinaryCrossEntropyWithLogits.gradient(z, target: 0) * scale
            }
        }
        for a in 1..<channels {
            (gradient + a * cells * n).update(repeating: 0, count: cells * n)
        }
        let beta = DetectionGrid.smoothL1Beta
        for (i, imageTargets) in targets.enumerated() {
            for t in imageTargets {
                // Objectness positive: BCE(z, 1) replaces λ_neg·BCE(z, 0).
                let z = out[at(0, t.cell, i)]
                total += Double(BinaryCrossEntropyWithLogits.positive(z)) - Double(negativeWeight) * Double(BinaryCrossEntropyWithLogits.negative(z))
                gradient[at(0, t.cell, i)] = BinaryCrossEntropyWithLogits.gradient(z, target: 1) * scale
                // Box.
                let sx = sigmoid(out[at(1, t.cell, i)]), sy = sigmoid(out[at(2, t.cell, i)])
                let predictions = [sx, sy, out[at(3, t.cell, i)], out[at(4, t.cell, i)]]
                let goals = [t.x, t.y, t.w, t.h]
                for j in 0..<4 {
                    let d = predictions[j] - goals[j]
                    let (value, slope) = abs(d) < beta ? (0.5 * d * d / beta, d / beta) : (abs(d) - 0.5 * beta, d > 0 ? 1 : -1)
                    total += Double(boxWeight * value)
                    var g = boxWeight * slope * scale
                    if j == 0 { g *= sx * (1 - sx) } else if j == 1 { g *= sy * (1 - sy) }
                    gradient[at(1 + j, t.cell, i)] = g
                }
                // Class: softmax cross-entropy of the cell's logits (stride cells·n apart).
                total += Double(classWeight) * Double(SoftmaxCrossEntropy.column(
                    logits: out + at(5, t.cell, i), stride: cells * n, classes: k, label: t.classIndex,
                    weight: classWeight, scale: scale, gradient: gradient + at(5, t.cell, i)))
            }
        }
        return total * Double(scale)
    }

    /// Test-time flip: averages `out` (A, cells, n) with the outputs of the left-right mirrored
    /// images, mirrored back. Cell (r, c) of the mirror is cell (r, gw − 1 − c) here; its center
    /// offset tx becomes −tx (σ(−t) = 1 − σ(t)); objectness, ty, log sizes and class logits carry
    /// over. Averaging logits makes the class scores a geometric mean of the two softmaxes.
    func averageWithMirrored(_ o: UnsafeMutablePointer<Float>, _ mirrored: UnsafePointer<Float>, batch n: Int) {
        let gw = gridWidth, cells = self.cells
        for a in 0..<channels {
            let sign: Float = a == 1 ? -1 : 1
            for r in 0..<gridHeight {
                for c in 0..<gw {
                    let here = (a * cells + r * gw + c) * n, there = (a * cells + r * gw + (gw - 1 - c)) * n
                    for i in 0..<n { o[here + i] = 0.5 * (o[here + i] + sign * mirrored[there + i]) }
                }
            }
        }
    }

    /// Candidate detections of image i with score ≥ threshold, boxes clipped to the image
    /// (width × height pixels), before NMS: per cell, its `classesPerCell` most likely classes,
    /// each scored σ(objectness)·softmax(class logits)[class]. More than one class per cell lets a
    /// per-class AP count an item whose best class is wrong at the second class's (lower) score.
    func decode(out: UnsafePointer<Float>, batch n: Int, image i: Int, scoreThreshold: Float,
                imageWidth: Float, imageHeight: Float) -> [DetectionBox] {
        let cells = self.cells, k = classes, perCell = min(classesPerCell, k)
        @inline(__always) func at(_ a: Int, _ cell: Int) -> Float { out[(a * cells + cell) * n + i] }
        var result: [DetectionBox] = []
        for cell in 0..<cells {
            let objectness = sigmoid(at(0, cell))
            if objectness < scoreThreshold { continue }   // score ≤ objectness
            var largest = -Float.infinity
            for c in 0..<k { largest = max(largest, at(5 + c, cell)) }
            var sum: Float = 0
            for c in 0..<k { sum += expf(at(5 + c, cell) - largest) }
            let row = cell / gridWidth, col = cell % gridWidth
            let cx = (Float(col) + sigmoid(at(1, cell))) * stride
            let cy = (Float(row) + sigmoid(at(2, cell))) * stride
            let w = anchor * expf(min(max(at(3, cell), -DetectionGrid.maxLogSize), DetectionGrid.maxLogSize))
            let h = anchor * expf(min(max(at(4, cell), -DetectionGrid.maxLogSize), DetectionGrid.maxLogSize))
            // Classes by descending logit (lower index first on ties): each pick is the largest
            // (logit, −index) below the previous pick's.
            var previous = (logit: Float.infinity, index: -1)
            for _ in 0..<perCell {
                var best = -1, logit = -Float.infinity
                for c in 0..<k {
                    let z = at(5 + c, cell)
                    let after = z < previous.logit || (z == previous.logit && c > previous.index)
                    if after && (best < 0 || z > logit) { best = c; logit = z }
                }
                if best < 0 { break }
                previous = (logit, best)
                let score = objectness * expf(logit - largest) / sum
                if score < scoreThreshold { break }   // the next classes score lower still
                result.append(DetectionBox(classIndex: best, score: score,
                                           xMin: max(cx - w / 2, 0), yMin: max(cy - h / 2, 0),
                                           xMax: min(cx + w / 2, imageWidth), yMax: min(cy + h / 2, imageHeight)))
            }
        }
        return result
    }
}
