import AECVModels

/// An axis-aligned box in pixels, (x_min, y_min) inclusive corner to (x_max, y_max), with a class.
/// Ground truth and detections use the same type; `score` is 1 for ground truth.
public struct DetectionBox: Equatable, Sendable {
    public var classIndex: Int
    public var score: Float
    public var xMin: Float, yMin: Float, xMax: Float, yMax: Float

    public init(classIndex: Int, score: Float = 1, xMin: Float, yMin: Float, xMax: Float, yMax: Float) {
        self.classIndex = classIndex; self.score = score
        self.xMin = xMin; self.yMin = yMin; self.xMax = xMax; self.yMax = yMax
    }

    public var width: Float { xMax - xMin }
    public var height: Float { yMax - yMin }
    public var area: Float { max(0, width) * max(0, height) }

    /// Intersection over union, 0 when either box is empty.
    public func iou(_ other: DetectionBox) -> Float {
        let w = min(xMax, other.xMax) - max(xMin, other.xMin)
        let h = min(yMax, other.yMax) - max(yMin, other.yMin)
        if w <= 0 || h <= 0 { return 0 }
        let intersection = w * h
        let union = area + other.area - intersection
        return union > 0 ? intersection / union : 0
    }
}

/// Greedy non-maximum suppression, per class: boxes sorted by score (descending; ties keep input
/// order); a box is dropped when its IoU with an already kept box of the SAME class exceeds
/// `iouThreshold`. Returns the kept boxes, by descending score.
public func nonMaximumSuppression(_ boxes: [DetectionBox], iouThreshold: Float) -> [DetectionBox] {
    let order = boxes.indices.sorted { boxes[$0].score > boxes[$1].score || (boxes[$0].score == boxes[$1].score && $0 < $1) }
    var kept: [DetectionBox] = []
    for i in order {
        let b = boxes[i]
        if !kept.contains(where: { $0.classIndex == b.classIndex && $0.iou(b) > iouThreshold }) {
            kept.append(b)
        }
    }
    return kept
}

/// Average precision at an IoU threshold, PASCAL VOC 2010+ style ("all-point" interpolation).
public enum AveragePrecision {
    /// AP of one class: detections of all images ranked by score; each is a true positive when
    /// its best-IoU ground truth box (same class, same image) has IoU ≥ threshold and was not
    /// matched by a higher-scored detection, else a false positive. AP = Σ (r_k − r_{k−1})·p̂_k with
    /// p̂ the precision made monotone from the right. nil when the class has no ground truth.
    public static func perClass(detections: [[DetectionBox]], groundTruth: [[DetectionBox]],
                                classIndex: Int?, iouThreshold: Float = 0.5) -> Double? {
        let keep = { (b: DetectionBox) in classIndex == nil || b.classIndex == classIndex }
        let truths = groundTruth.map { $0.filter(keep) }
        let positives = truths.reduce(0) { $0 + $1.count }
        if positives == 0 { return nil }
        var ranked: [(image: Int, box: DetectionBox)] = []
        for (i, ds) in detections.enumerated() where i < truths.count {
            for d in ds where keep(d) { ranked.append((i, d)) }
        }
        // Stable: equal scores keep image order.
        ranked = ranked.enumerated().sorted { a, b in
            a.element.box.score > b.element.box.score || (a.element.box.score == b.element.box.score && a.offset < b.offset)
        }.map(\.element)
        var matched = truths.map { [Bool](repeating: false, count: $0.count) }
        var tp = 0, fp = 0
        var recall: [Double] = [], precision: [Double] = []
        for (image, d) in ranked {
            var best = -1, bestIoU: Float = -1
            for (j, g) in truths[image].enumerated() {
                let o = d.iou(g)
                if o > bestIoU { bestIoU = o; best = j }
            }
            if best >= 0 && bestIoU >= iouThreshold && !matched[image][best] {
                matched[image][best] = true; tp += 1
            } else {
                fp += 1
            }
            recall.append(Double(tp) / Double(positives))
            precision.append(Double(tp) / Double(tp + fp))
        }
        return area(recall: recall, precision: precision)
    }

    /// VOC all-point area under the precision envelope.
    static func area(recall: [Double], precision: [Double]) -> Double {
        var r = [0.0] + recall + [1.0]
        var p = [0.0] + precision + [0.0]
        if p.count > 1 { for i in stride(from: p.count - 2, through: 0, by: -1) { p[i] = max(p[i], p[i + 1]) } }
        var ap = 0.0
        for i in 1..<r.count where r[i] != r[i - 1] { ap += (r[i] - r[i - 1]) * p[i] }
        r.removeAll()
        return ap
    }

    /// mAP: the mean of per-class AP over the classes that have ground truth (0 when none has).
    public static func meanAP(detections: [[DetectionBox]], groundTruth: [[DetectionBox]],
                              classes: Int, iouThreshold: Float = 0.5) -> Double {
        let aps = (0..<classes).compactMap {
            perClass(detections: detections, groundTruth: groundTruth, classIndex: $0, iouThreshold: iouThreshold)
        }
        return aps.isEmpty ? 0 : aps.reduce(0, +) / Double(aps.count)
    }

    /// Class-agnostic AP: classes are ignored in matching (detections are used as given, so
    /// per-class NMS duplicates across classes count as false positives).
    public static func agnosticAP(detections: [[DetectionBox]], groundTruth: [[DetectionBox]],
                                  iouThreshold: Float = 0.5) -> Double {
        perClass(detections: detections, groundTruth: groundTruth, classIndex: nil, iouThreshold: iouThreshold) ?? 0
    }
}
