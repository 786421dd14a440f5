import AECVKernels

/// How an image's anomaly score is read off its pixel map (H, W): the reduction of the map.
///
/// - mean: the mean of the map. With the untiled map this is, up to float rounding, the score
///   `anomalyScores` returns (the mean of the metric's map over C·H·W).
/// - max: the largest pixel. Sensitive to one small defect, and to one noisy pixel.
/// - top mean (fraction f): the mean of the ⌈f·H·W⌉ largest pixels (at least one). A small
///   defect on a large image is a few percent of its pixels: the mean drowns it, the max sees
///   noise; the top 1 % sees the defect and averages the noise out.
///
/// The raw values of `kind` are the C enum `aecv_score_reduction` and never change.
public struct ScoreReduction: Equatable, Sendable {
    public enum Kind: Int32, CaseIterable, Sendable {
        case mean = 0, max = 1, topMean = 2
        public var name: String {
            switch self {
            case .mean: return "mean"
            case .max: return "max"
            case .topMean: return "top_mean"
            }
        }
    }

    public let kind: Kind
    /// The top mean's fraction f in (0, 1]; 1 for the other kinds (unused).
    public let fraction: Double

    public static let mean = ScoreReduction(checkedKind: .mean, fraction: 1)
    public static let max = ScoreReduction(checkedKind: .max, fraction: 1)
    /// The default of the top mean: the largest 1 % of the pixels.
    public static let defaultTopFraction = 0.01

    private init(checkedKind: Kind, fraction: Double) { (kind, self.fraction) = (checkedKind, fraction) }

    /// The mean of the ⌈fraction·H·W⌉ largest pixels. Throws .invalidArgument unless
    /// 0 < fraction ≤ 1.
    public static func topMean(_ fraction: Double = defaultTopFraction) throws -> ScoreReduction {
        guard fraction > 0, fraction <= 1 else {
            throw AECVError.invalidArgument("top_fraction: must be in (0, 1], got \(fraction)")
        }
        return ScoreReduction(checkedKind: .topMean, fraction: fraction)
    }

    /// From a C `aecv_score_reduction` value and the top fraction (read for top_mean only).
    public init(validating rawValue: Int32, fraction: Double) throws {
        guard let kind = Kind(rawValue: rawValue) else {
            let known = Kind.allCases.map { "\($0.rawValue) (\($0.name))" }.joined(separator: ", ")
            throw AECVError.invalidArgument("reduction: \(rawValue) is not an aecv_score_reduction; expected one of \(known)")
        }
        self = kind == .topMean ? try .topMean(fraction) : ScoreReduction(checkedKind: kind, fraction: 1)
    }

    /// "mean", "max", "top_mean" (the default fraction) or "top_mean:F", e.g. "top_mean:0.05".
    public init(name: String) throws {
        let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
        let known = "mean, max, top_mean or top_mean:F with F in (0, 1]"
        guard let kind = Kind.allCases.first(where: { $0.name == parts.first }) else {
            throw AECVError.invalidArgument("reduction: unknown '\(name)'; expected \(known)")
        }
        if kind != .topMean {
            if parts.count > 1 { throw AECVError.invalidArgument("reduction: '\(name)' takes no fraction; expected \(known)") }
            self = ScoreReduction(checkedKind: kind, fraction: 1)
            return
        }
        guard parts.count == 2 else { self = try .topMean(); return }
        guard let f = Double(parts[1]) else {
            throw AECVError.invalidArgument("reduction: '\(parts[1])' in '\(name)' is not a number; expected \(known)")
        }
        self = try .topMean(f)
    }

    /// "mean", "max" or "top_mean:F" (what `init(name:)` reads back).
    public var name: String { kind == .topMean ? "top_mean:\(fraction)" : kind.name }

    /// Pixels the top mean averages for a map of `count` pixels: ⌈f·count⌉, at least 1.
    func topCount(_ count: Int) -> Int { Swift.max(1, Swift.min(count, Int((fraction * Double(count)).rounded(.up)))) }

    /// The score of one map (count pixels). scratch: `count` floats, used by top mean only.
    package func reduce(_ map: UnsafePointer<Float>, count: Int, scratch: UnsafeMutablePointer<Float>) -> Float {
        switch kind {
        case .mean:
            var s = 0.0
            for i in 0..<count { s += Double(map[i]) }
            return Float(s / Double(count))
        case .max:
            var m = map[0]
            for i in 1..<count where map[i] > m { m = map[i] }
            return m
        case .topMean:
            var buffer = UnsafeMutableBufferPointer(start: scratch, count: count)
            _ = buffer.initialize(from: UnsafeBufferPointer(start: map, count: count))
            buffer.sort(by: >)
            let k = topCount(count)
            var s = 0.0
            for i in 0..<k { s += Double(scratch[i]) }
            return Float(s / Double(k))
        }
    }
}
