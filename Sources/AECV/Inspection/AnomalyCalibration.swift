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

    var json: JSONValue {
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

    init(json value: JSONValue, name: String) throws {
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

    init(scoring: AnomalyScoring, imageThreshold: Float, imageMethod: Method, pixelThreshold: Float,
         pixelMethod: Method, count: Int) {
        self.scoring = scoring
        (self.imageThreshold, self.imageMethod) = (imageThreshold, imageMethod)
        (self.pixelThreshold, self.pixelMethod) = (pixelThreshold, pixelMethod)
        self.count = count
    }
}

extension Autoencoder {
    /// Fits and stores the thresholds (see `AnomalyCalibration`) on validation images
    /// (batch, C, height, width). labels: nil = all good, else batch bytes (0 = good); masks:
    /// nil, or (batch, height, width) bytes (0 = normal), only with labels. Replaces the model's
    /// calibration only when everything succeeded; saved with the model by `save`.
    /// Throws .invalidArgument (quantile outside [0, 1], masks without labels, labels of one
    /// class), .shape, .nonFinite, .noMemory, and the errors of `anomalyPixelMaps`.
    @discardableResult
    public func calibrateAnomaly(inputs: UnsafeBufferPointer<Float>, batch: Int, height: Int, width: Int,
                                 scoring: AnomalyScoring, quantile: Double,
                                 labels: UnsafeBufferPointer<UInt8>? = nil,
                                 masks: UnsafeBufferPointer<UInt8>? = nil) throws -> AnomalyCalibration {
        guard quantile >= 0, quantile <= 1 else { throw AECVError.invalidArgument("quantile: must be in [0, 1], got \(quantile)") }
        let plane = try checkImages(inputs: inputs, batch: batch, height: height, width: width)
        if masks != nil && labels == nil { throw AECVError.invalidArgument("masks: given without labels; pass the image labels too") }
        if let labels, labels.count != batch { throw AECVError.shape("labels: batch \(batch) needs \(batch) labels, got \(labels.count)") }
        if let masks, masks.count != batch * plane {
            throw AECVError.shape("masks: batch \(batch) × \(height) × \(width) needs \(batch * plane) bytes, got \(masks.count)")
        }
        var maps = try MemoryCheck.zeroedFloats(batch * plane + plane, "pixel maps: \(batch) × \(height) × \(width)")
        var scores = [Float](repeating: 0, count: batch)
        try maps.withUnsafeMutableBufferPointer { m in
            try anomalyPixelMaps(inputs: inputs, batch: batch, height: height, width: width, scoring: scoring,
                                 into: UnsafeMutableBufferPointer(rebasing: m[0..<(batch * plane)]))
            for i in 0..<batch {
                scores[i] = scoring.reduction.reduce(m.baseAddress! + i * plane, count: plane,
                                                     scratch: m.baseAddress! + batch * plane)
            }
        }
        let pixels = maps[0..<(batch * plane)]
        let calibration: AnomalyCalibration
        if let labels {
            let image = try scores.withUnsafeBufferPointer { try InspectionMetrics.bestF1(scores: $0, labels: labels) }
            let pixel: (Float, AnomalyCalibration.Method)
            if let masks {
                pixel = (try pixels.withUnsafeBufferPointer { try InspectionMetrics.bestF1(scores: $0, labels: masks, what: "maps") }.threshold, .bestF1)
            } else {
                var good: [Float] = []
                for i in 0..<batch where labels[i] == 0 { good += pixels[(i * plane)..<((i + 1) * plane)] }
                pixel = (try anomalyThreshold(scores: good, quantile: quantile), .quantile(quantile))
            }
            calibration = AnomalyCalibration(scoring: scoring, imageThreshold: image.threshold, imageMethod: .bestF1,
                                             pixelThreshold: pixel.0, pixelMethod: pixel.1, count: batch)
        } else {
            calibration = AnomalyCalibration(
                scoring: scoring, imageThreshold: try anomalyThreshold(scores: scores, quantile: quantile),
                imageMethod: .quantile(quantile), pixelThreshold: try anomalyThreshold(scores: Array(pixels), quantile: quantile),
                pixelMethod: .quantile(quantile), count: batch)
        }
        anomalyCalibration = calibration
        return calibration
    }
}

extension Autoencoder {
    /// The stored calibration, or .unsupported saying how to get one.
    func requireCalibration() throws -> AnomalyCalibration {
        guard let c = anomalyCalibration else {
            throw AECVError.unsupported("model: no anomaly calibration; calibrate it first (aecv_model_anomaly_calibrate, AnomalyDetector.fit, aecv anomaly fit)")
        }
        return c
    }

    /// The decision of the stored calibration: scores[i] as `calibration.scoring` defines it,
    /// flags[i] = 1 when scores[i] > the image threshold, else 0. Arguments as
    /// `anomalyImageScores`; flags: at least batch bytes. .unsupported without a calibration.
    public func anomalyPredict(inputs: UnsafeBufferPointer<Float>, batch: Int, height: Int, width: Int,
                               scores: UnsafeMutableBufferPointer<Float>, flags: UnsafeMutableBufferPointer<UInt8>) throws {
        let c = try requireCalibration()
        if flags.count < batch { throw AECVError.shape("flags: batch \(batch) needs \(batch) bytes, capacity \(flags.count)") }
        try anomalyImageScores(inputs: inputs, batch: batch, height: height, width: width, scoring: c.scoring, into: scores)
        for i in 0..<batch { flags[i] = scores[i] > c.imageThreshold ? 1 : 0 }
    }

    /// The segmentation of the stored calibration: maps (batch, height, width) as
    /// `anomalyPixelMaps`, masks[p] = 1 where maps[p] > the pixel threshold, else 0.
    /// masks: at least batch × height × width bytes. .unsupported without a calibration.
    public func anomalySegment(inputs: UnsafeBufferPointer<Float>, batch: Int, height: Int, width: Int,
                               maps: UnsafeMutableBufferPointer<Float>, masks: UnsafeMutableBufferPointer<UInt8>) throws {
        let c = try requireCalibration()
        let plane = try checkImages(inputs: inputs, batch: batch, height: height, width: width)
        if masks.count < batch * plane {
            throw AECVError.shape("masks: batch \(batch) × \(height) × \(width) needs \(batch * plane) bytes, capacity \(masks.count)")
        }
        try anomalyPixelMaps(inputs: inputs, batch: batch, height: height, width: width, scoring: c.scoring, into: maps)
        for p in 0..<(batch * plane) { masks[p] = maps[p] > c.pixelThreshold ? 1 : 0 }
    }

    /// The calibration as JSON text (what the model file stores), or nil.
    public var anomalyCalibrationJSON: String? { anomalyCalibration?.json.serialized(pretty: false) }
}
