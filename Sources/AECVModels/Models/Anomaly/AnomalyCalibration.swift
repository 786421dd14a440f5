import AECVKernels
import AECVNN

/// Decision thresholds fitted on validation images and stored with the model (the model file's
/// ANOM section), so that C, Python and the CLI make the same decision from the same file:
///
///   image anomalous  ⇔  score(image) > imageThreshold
///   pixel anomalous  ⇔  pixel map(p) > pixelThreshold
///
/// with score and pixel map computed as `scoring` says (AnomalyScoring.swift). How each threshold
/// was chosen:
/// - good images only: the `quantile` q of their scores (numpy's linear interpolation), and q of
///   all their pixels: about a fraction 1 − q of normal images / pixels is flagged;
/// - with labels (and masks): the threshold of the best F1 of the images (of the pixels), which
///   needs both classes; without masks the pixel threshold stays the quantile of the good
///   images' pixels.
public struct AnomalyCalibration: Equatable, Sendable {
    public enum Method: Equatable, Sendable {
        case quantile(Double)
        case bestF1

        var name: String {
            switch self {
            case .quantile: return "quantile"
            case .bestF1: return "best_f1"
            }
        }
    }

    public var scoring: AnomalyScoring
    public var imageThreshold: Float
    public var imageMethod: Method
    public var pixelThreshold: Float
    public var pixelMethod: Method
    /// Images the thresholds were fitted on.
    public var count: Int

    // MARK: JSON (the ANOM section of model files)

    package var json: JSONValue {
        func method(_ m: Method) -> [JSONMember] {
            if case .quantile(let q) = m { return [JSONMember("method", .string(m.name)), JSONMember("quantile", .double(q))] }
            return [JSONMember("method", .string(m.name))]
        }
        return .object([
            JSONMember("metric", .string(scoring.metric.name)),
            JSONMember("reduction", .string(scoring.reduction.name)),
            JSONMember("tile_stride", .int(Int64(scoring.tileStride))),
            JSONMember("image", .object([JSONMember("threshold", .double(Double(imageThreshold)))] + method(imageMethod))),
            JSONMember("pixel", .object([JSONMember("threshold", .double(Double(pixelThreshold)))] + method(pixelMethod))),
            JSONMember("count", .int(Int64(count))),
        ])
    }

    package init(json value: JSONValue, name: String) throws {
        func bad(_ what: String) -> AECVError { .format("\(name): anomaly calibration: \(what)") }
        guard let metricName = value["metric"]?.asString, let metric = AnomalyMetric(name: metricName) else {
            throw bad("no known \"metric\"")
        }
        guard let reductionName = value["reduction"]?.asString,
              let reduction = try? ScoreReduction(name: reductionName) else { throw bad("no known \"reduction\"") }
        guard let stride = value["tile_stride"]?.asInt, stride >= 0, stride <= Int64(Int32.max) else {
            throw bad("no valid \"tile_stride\"")
        }
        func threshold(_ key: String) throws -> (Float, Method) {
            guard let t = value[key]?["threshold"]?.asDouble, Float(t).isFinite else { throw bad("no finite \(key) threshold") }
            switch value[key]?["method"]?.asString {
            case "quantile":
                guard let q = value[key]?["quantile"]?.asDouble, q >= 0, q <= 1 else { throw bad("\(key) quantile not in [0, 1]") }
                return (Float(t), .quantile(q))
            case "best_f1": return (Float(t), .bestF1)
            default: throw bad("unknown \(key) method")
            }
        }
        guard let count = value["count"]?.asInt, count >= 1 else { throw bad("no valid \"count\"") }
        scoring = try AnomalyScoring(metric: metric, reduction: reduction, tileStride: Int(stride))
        (imageThreshold, imageMethod) = try threshold("image")
        (pixelThreshold, pixelMethod) = try threshold("pixel")
        self.count = Int(count)
    }

    package init(scoring: AnomalyScoring, imageThreshold: Float, imageMethod: Method, pixelThreshold: Float,
         pixelMethod: Method, count: Int) {
        self.scoring = scoring
        (self.imageThreshold, self.imageMethod) = (imageThreshold, imageMethod)
        (self.pixelThreshold, self.pixelMethod) = (pixelThreshold, pixelMethod)
        self.count = count
    }
}
