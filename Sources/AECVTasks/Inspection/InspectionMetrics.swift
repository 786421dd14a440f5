import AECVKernels

/// The evaluation measures of visual inspection, as in the MVTec AD protocol. Labels and masks
/// are bytes: 0 = normal, anything else = anomalous. Scores and maps: higher = more anomalous.
/// Every function checks its arguments and throws before computing; all are O(n log n) in the
/// number of scores or pixels (one sort, `RankedScores`, then one sweep).
///
/// - image AUROC: `rocAUC` of the image scores against the image labels;
/// - pixel AUROC: `rocAUC` of every map pixel against the mask pixels, all images pooled;
/// - PRO: `perRegionOverlap` (PerRegionOverlap.swift);
/// - F1 at the best threshold: `bestF1`, for images or for pixels.
public enum InspectionMetrics {
    /// Area under the ROC curve: the probability that a random anomalous example scores higher
    /// than a random normal one, ties counting one half (= scikit-learn's roc_auc_score).
    /// Swept over runs of equal scores, highest first, with P anomalous and N normal examples:
    ///
    ///     AUC = Σ_runs p_r · (n_below_r + n_r / 2) / (P · N)
    ///
    /// where p_r, n_r count the run's anomalous and normal examples and n_below_r the normal
    /// examples scoring strictly lower.
    /// Throws .invalidArgument when the counts differ, there are none, or one class is absent
    /// (the AUC is undefined), .nonFinite for NaN/Inf scores.
    public static func rocAUC(scores: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<UInt8>,
                              what: String = "scores") throws -> Double {
        let ranked = try rank(scores, labels, what: what)
        let (positives, negatives) = classCounts(labels)
        var area = 0.0, negativesSeen = 0
        ranked.forEachRun { start, end in
            var p = 0, n = 0
            for i in start..<end { if ranked.payload(i) != 0 { p += 1 } else { n += 1 } }
            negativesSeen += n
            area += Double(p) * (Double(negatives - negativesSeen) + Double(n) / 2)
        }
        return area / (Double(positives) * Double(negatives))
    }

    /// The best F1 score over all thresholds and the threshold that reaches it, for the
    /// decision "anomalous when score > threshold":
    ///
    ///     F1 = 2·TP / (2·TP + FP + FN)
    ///
    /// evaluated at every distinct score (taking runs of equal scores together); the threshold
    /// returned lies halfway between the last score flagged and the next lower one, so it
    /// separates them for the decision rule above. Errors as for `rocAUC`.
    public static func bestF1(scores: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<UInt8>,
                              what: String = "scores") throws -> (f1: Double, threshold: Float) {
        let ranked = try rank(scores, labels, what: what)
        let positives = classCounts(labels).positives
        var best = (f1: -1.0, end: 0)
        var truePositives = 0, falsePositives = 0
        ranked.forEachRun { start, end in
            for i in start..<end { if ranked.payload(i) != 0 { truePositives += 1 } else { falsePositives += 1 } }
            let f1 = 2 * Double(truePositives) / Double(2 * truePositives + falsePositives + (positives - truePositives))
            if f1 > best.f1 { best = (f1, end) }
        }
        return (best.f1, ranked.threshold(below: best.end))
    }

    // MARK: - Internals

    static func classCounts(_ labels: UnsafeBufferPointer<UInt8>) -> (positives: Int, negatives: Int) {
        var positives = 0
        for l in labels where l != 0 { positives += 1 }
        return (positives, labels.count - positives)
    }

    /// Checks scores against labels (same count, both classes present) and ranks them with the
    /// label (0 or 1) as payload.
    private static func rank(_ scores: UnsafeBufferPointer<Float>, _ labels: UnsafeBufferPointer<UInt8>,
                             what: String) throws -> RankedScores {
        let labelName = what == "maps" ? "masks" : "labels"
        if scores.count != labels.count {
            throw AECVError.shape("\(what): \(scores.count) values but \(labelName): \(labels.count)")
        }
        if scores.isEmpty { throw AECVError.invalidArgument("\(what): at least one value is needed") }
        let (positives, negatives) = classCounts(labels)
        if positives == 0 || negatives == 0 {
            throw AECVError.invalidArgument(
                "\(labelName): all \(labels.count) are \(positives == 0 ? "normal (0)" : "anomalous (non-zero)"); "
                + "the metric needs both classes")
        }
        return try RankedScores(count: scores.count, what: what, score: { scores[$0] },
                                payload: { labels[$0] != 0 ? 1 : 0 })
    }
}
