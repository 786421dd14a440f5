// The inspection entry points (issue 16): metrics on caller buffers (no model), tiled pixel maps
// and image scores, thresholds fitted and stored with the model, and the decisions they make.
// Same validation rules as Model+CAPI.swift: every enum, count and buffer is checked before
// core code runs; byte buffers (labels, masks, flags) need no alignment.
import AECV

/// `count` bytes at `pointer`, or INVALID_ARGUMENT for NULL.
private func byteBuffer(_ pointer: UnsafePointer<UInt8>?, name: String, count: Int) throws -> UnsafeBufferPointer<UInt8> {
    guard let pointer else { throw AECVError.invalidArgument("\(name): NULL") }
    return UnsafeBufferPointer(start: pointer, count: count)
}

/// count >= 1 and at most maxBufferFloats, as Int.
private func elementCount(_ count: UInt, name: String) throws -> Int {
    guard count > 0 else { throw AECVError.invalidArgument("\(name): must be >= 1, got 0") }
    guard count <= maxBufferFloats else { throw AECVError.noMemory("\(name): \(count) exceeds the limit of \(maxBufferFloats)") }
    return Int(count)
}

private func outputDouble(_ pointer: UnsafeMutablePointer<Double>?, _ name: String) throws -> UnsafeMutablePointer<Double> {
    guard let pointer else { throw AECVError.invalidArgument("\(name): NULL") }
    guard Int(bitPattern: pointer) % MemoryLayout<Double>.alignment == 0 else {
        throw AECVError.invalidArgument("\(name): pointer \(pointer) is not aligned for double (8 bytes)")
    }
    return pointer
}

// MARK: - Metrics

@_cdecl("aecv_roc_auc")
public func aecv_roc_auc(_ scores: UnsafePointer<Float>?, _ labels: UnsafePointer<UInt8>?, _ count: UInt,
                         _ outAUC: UnsafeMutablePointer<Double>?) -> Int32 {
    withStatus("aecv_roc_auc") {
        let n = try elementCount(count, name: "count")
        let out = try outputDouble(outAUC, "out_auc")
        let s = try inputBuffer(scores, name: "scores", count: n)
        out.pointee = try InspectionMetrics.rocAUC(scores: s, labels: try byteBuffer(labels, name: "labels", count: n))
    }
}

@_cdecl("aecv_best_f1")
public func aecv_best_f1(_ scores: UnsafePointer<Float>?, _ labels: UnsafePointer<UInt8>?, _ count: UInt,
                         _ outF1: UnsafeMutablePointer<Double>?, _ outThreshold: UnsafeMutablePointer<Float>?) -> Int32 {
    withStatus("aecv_best_f1") {
        let n = try elementCount(count, name: "count")
        let out = try outputDouble(outF1, "out_f1")
        let s = try inputBuffer(scores, name: "scores", count: n)
        let best = try InspectionMetrics.bestF1(scores: s, labels: try byteBuffer(labels, name: "labels", count: n))
        out.pointee = best.f1
        if let outThreshold { outThreshold.pointee = best.threshold }
    }
}

@_cdecl("aecv_per_region_overlap")
public func aecv_per_region_overlap(_ maps: UnsafePointer<Float>?, _ masks: UnsafePointer<UInt8>?, _ count: UInt,
                                    _ height: UInt, _ width: UInt, _ fprLimit: Double,
                                    _ outPRO: UnsafeMutablePointer<Double>?) -> Int32 {
    withStatus("aecv_per_region_overlap") {
        let (n, h, w) = (try elementCount(count, name: "count"), try elementCount(height, name: "height"),
                         try elementCount(width, name: "width"))
        let pixels = try floatCount(batch: count, batchName: "count", perExample: h * w, buffer: "maps")
        let out = try outputDouble(outPRO, "out_pro")
        let m = try inputBuffer(maps, name: "maps", count: pixels)
        out.pointee = try InspectionMetrics.perRegionOverlap(
            maps: m, masks: try byteBuffer(masks, name: "masks", count: pixels), count: n, height: h, width: w,
            fprLimit: fprLimit)
    }
}

// MARK: - Maps, scores and thresholds of a model

/// The images argument of the calls below: (batch, C, height, width) floats, C the model's.
private func images(_ handle: ModelHandle, _ inputs: UnsafePointer<Float>?, _ batch: UInt,
                    _ height: UInt, _ width: UInt) throws -> (buffer: UnsafeBufferPointer<Float>, h: Int, w: Int) {
    let (h, w) = (try elementCount(height, name: "height"), try elementCount(width, name: "width"))
    let (plane, o1) = h.multipliedReportingOverflow(by: w)
    let (perImage, o2) = plane.multipliedReportingOverflow(by: handle.inputChannels)
    let overflow = o1 || o2
    if overflow || UInt(perImage) > maxBufferFloats { throw AECVError.noMemory("height, width: \(h) × \(w) is too large") }
    let count = try floatCount(batch: batch, perExample: perImage, buffer: "inputs")
    return (try inputBuffer(inputs, name: "inputs", count: count), h, w)
}

private func scoring(_ metric: Int32, _ reduction: Int32, _ topFraction: Double, _ tileStride: UInt32) throws -> AnomalyScoring {
    try AnomalyScoring(metric: AnomalyMetric(validating: metric),
                       reduction: ScoreReduction(validating: reduction, fraction: topFraction),
                       tileStride: Int(tileStride))
}

/// The shared frame of the calls that map images to a float output: images checked, the output
/// (`perPixel`: batch × height × width floats, else batch floats) within `capacity`, a private
/// copy of the inputs if the two overlap, and `body(model, inputs, height, width, output)` under
/// the model's lock.
private func imageCall(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?, _ batch: UInt, _ height: UInt,
                       _ width: UInt, output: UnsafeMutablePointer<Float>?, outputName: String, perPixel: Bool,
                       capacity: UInt,
                       _ body: (Autoencoder, UnsafeBufferPointer<Float>, Int, Int, UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
    let handle = try modelHandle(model)
    let (x, h, w) = try images(handle, inputs, batch, height, width)
    let needed = perPixel ? try floatCount(batch: batch, perExample: h * w, buffer: outputName) : Int(batch)
    let out = try outputBuffer(output, name: outputName, capacity: capacity, needed: needed, batch: batch)
    try withDisjointInputs(x, from: out) { x in
        try handle.withLocked { try body($0, x, h, w, out) }
    }
}

@_cdecl("aecv_model_anomaly_pixel_maps")
public func aecv_model_anomaly_pixel_maps(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?, _ batch: UInt,
                                          _ height: UInt, _ width: UInt, _ metric: Int32, _ tileStride: UInt32,
                                          _ outMaps: UnsafeMutablePointer<Float>?, _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_anomaly_pixel_maps") {
        let scoring = try scoring(metric, ScoreReduction.Kind.mean.rawValue, 1, tileStride)
        try imageCall(model, inputs, batch, height, width, output: outMaps, outputName: "out_maps", perPixel: true,
                      capacity: capacity) {
            try $0.anomalyPixelMaps(inputs: $1, batch: Int(batch), height: $2, width: $3, scoring: scoring, into: $4)
        }
    }
}

@_cdecl("aecv_model_anomaly_image_scores")
public func aecv_model_anomaly_image_scores(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?, _ batch: UInt,
                                            _ height: UInt, _ width: UInt, _ metric: Int32, _ reduction: Int32,
                                            _ topFraction: Double, _ tileStride: UInt32,
                                            _ outScores: UnsafeMutablePointer<Float>?, _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_anomaly_image_scores") {
        let scoring = try scoring(metric, reduction, topFraction, tileStride)
        try imageCall(model, inputs, batch, height, width, output: outScores, outputName: "out_scores", perPixel: false,
                      capacity: capacity) {
            try $0.anomalyImageScores(inputs: $1, batch: Int(batch), height: $2, width: $3, scoring: scoring, into: $4)
        }
    }
}

@_cdecl("aecv_model_anomaly_calibrate")
public func aecv_model_anomaly_calibrate(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?, _ batch: UInt,
                                         _ height: UInt, _ width: UInt, _ metric: Int32, _ reduction: Int32,
                                         _ topFraction: Double, _ tileStride: UInt32, _ quantile: Double,
                                         _ labels: UnsafePointer<UInt8>?, _ masks: UnsafePointer<UInt8>?) -> Int32 {
    withStatus("aecv_model_anomaly_calibrate") {
        let handle = try modelHandle(model)
        let scoring = try scoring(metric, reduction, topFraction, tileStride)
        let (x, h, w) = try images(handle, inputs, batch, height, width)
        let labelBuffer = labels.map { UnsafeBufferPointer(start: $0, count: Int(batch)) }
        let maskBuffer = try masks.map {
            UnsafeBufferPointer(start: $0, count: try floatCount(batch: batch, perExample: h * w, buffer: "masks"))
        }
        try handle.withLocked {
            _ = try $0.calibrateAnomaly(inputs: x, batch: Int(batch), height: h, width: w, scoring: scoring,
                                    quantile: quantile, labels: labelBuffer, masks: maskBuffer)
        }
    }
}

/// snprintf semantics, as aecv_model_spec; 0 (and "") when the model has no calibration.
@_cdecl("aecv_model_anomaly_calibration")
public func aecv_model_anomaly_calibration(_ model: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?,
                                           _ capacity: UInt) -> UInt {
    guard let model, let handle = ModelHandle.lookup(model) else {
        if let buffer, capacity > 0 { buffer[0] = 0 }
        return 0
    }
    let text = handle.withLocked { $0.anomalyCalibrationJSON } ?? ""
    return copySpec(Array(text.utf8), into: buffer, capacity: capacity)
}

@_cdecl("aecv_model_anomaly_predict")
public func aecv_model_anomaly_predict(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?, _ batch: UInt,
                                       _ height: UInt, _ width: UInt, _ outScores: UnsafeMutablePointer<Float>?,
                                       _ outFlags: UnsafeMutablePointer<UInt8>?, _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_anomaly_predict") {
        guard let outFlags else { throw AECVError.invalidArgument("out_flags: NULL") }
        try imageCall(model, inputs, batch, height, width, output: outScores, outputName: "out_scores", perPixel: false,
                      capacity: capacity) {
            try $0.anomalyPredict(inputs: $1, batch: Int(batch), height: $2, width: $3, scores: $4,
                                  flags: UnsafeMutableBufferPointer(start: outFlags, count: $4.count))
        }
    }
}

@_cdecl("aecv_model_anomaly_segment")
public func aecv_model_anomaly_segment(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?, _ batch: UInt,
                                       _ height: UInt, _ width: UInt, _ outMaps: UnsafeMutablePointer<Float>?,
                                       _ outMasks: UnsafeMutablePointer<UInt8>?, _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_anomaly_segment") {
        guard let outMasks else { throw AECVError.invalidArgument("out_masks: NULL") }
        try imageCall(model, inputs, batch, height, width, output: outMaps, outputName: "out_maps", perPixel: true,
                      capacity: capacity) {
            try $0.anomalySegment(inputs: $1, batch: Int(batch), height: $2, width: $3, maps: $4,
                                  masks: UnsafeMutableBufferPointer(start: outMasks, count: $4.count))
        }
    }
}
