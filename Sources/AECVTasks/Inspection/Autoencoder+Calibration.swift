// Fitting the decision thresholds of AnomalyCalibration on validation images.

import AECVKernels
import AECVNN
import AECVModels

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
