// The aecv_detector_* entry points of include/aecv.h (issue 8): a grid object detector on the
// conv autoencoder's encoder. Same validation rules and locking as Model+CAPI.swift: every argument
// is checked before core code runs, then the public `Detector` API runs under the handle's lock.
import AECV

private func detectorHandle(_ detector: OpaquePointer?) throws -> DetectorHandle {
    try DetectorHandle.argument(detector, "detector")
}

@_cdecl("aecv_detector_create")
public func aecv_detector_create(_ backbone: OpaquePointer?, _ specJSON: UnsafePointer<CChar>?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    out?.pointee = nil
    return withStatus("aecv_detector_create") {
        guard let specJSON else { throw AECVError.invalidArgument("spec_json: NULL") }
        guard let out else { throw AECVError.invalidArgument("out: NULL") }
        let spec = try DetectorSpec(json: try specArgument(specJSON))
        let detector: Detector
        if let backbone {
            guard let model = ModelHandle.lookup(backbone) else {
                throw AECVError.invalidArgument(
                    "backbone: \(UnsafeRawPointer(backbone)) is not a live aecv_model (already freed?)")
            }
            // Copies the encoder under the model's lock: a concurrent step cannot be caught half-way.
            detector = try model.withLocked { try Detector(backbone: $0, spec: spec) }
        } else {
            detector = try Detector(spec: spec)
        }
        out.pointee = DetectorHandle(detector).retainedPointer()
    }
}

@_cdecl("aecv_detector_load")
public func aecv_detector_load(_ path: UnsafePointer<CChar>?,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    out?.pointee = nil
    return withStatus("aecv_detector_load") {
        let path = try pathArgument(path)
        guard let out else { throw AECVError.invalidArgument("out: NULL") }
        out.pointee = DetectorHandle(try Detector(contentsOf: path)).retainedPointer()
    }
}

/// NULL and pointers that are not live detectors (double free) are ignored.
@_cdecl("aecv_detector_free")
public func aecv_detector_free(_ detector: OpaquePointer?) {
    guard let detector else { return }
    DetectorHandle.release(detector)
}

@_cdecl("aecv_detector_input_size")
public func aecv_detector_input_size(_ detector: OpaquePointer?) -> UInt {
    guard let detector, let handle = DetectorHandle.lookup(detector) else { return 0 }
    return UInt(handle.inputSize)
}

@_cdecl("aecv_detector_classes")
public func aecv_detector_classes(_ detector: OpaquePointer?) -> UInt {
    guard let detector, let handle = DetectorHandle.lookup(detector) else { return 0 }
    return UInt(handle.classes)
}

/// snprintf semantics, as aecv_model_spec.
@_cdecl("aecv_detector_spec")
public func aecv_detector_spec(_ detector: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?,
                               _ capacity: UInt) -> UInt {
    guard let detector, let handle = DetectorHandle.lookup(detector) else {
        if let buffer, capacity > 0 { buffer[0] = 0 }
        return 0
    }
    return copySpec(handle.specUTF8, into: buffer, capacity: capacity)
}

/// The argument checks shared by aecv_detector_train_step and aecv_detector_compute_gradients:
/// `images` (batch × input size floats), `boxes` (batch × max_boxes × 5 floats, NULL only when
/// max_boxes is 0), `out_loss` (optional). `body` runs with the detector locked and returns the
/// loss written to `out_loss`.
func detectorBatchCall(_ function: StaticString, _ detector: OpaquePointer?, _ images: UnsafePointer<Float>?,
                       _ batch: UInt, _ boxes: UnsafePointer<Float>?, _ maxBoxes: UInt,
                       _ outLoss: UnsafeMutablePointer<Float>?,
                       _ body: (Detector, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>, Int, Int) throws -> Float)
    -> Int32 {
    withStatus(function) {
        let handle = try detectorHandle(detector)
        let count = try floatCount(batch: batch, perExample: handle.inputSize, buffer: "images")
        let images = try inputBuffer(images, name: "images", count: count)
        guard maxBoxes <= 1 << 20 else {
            throw AECVError.invalidArgument("max_boxes: must be at most \(1 << 20), got \(maxBoxes)")
        }
        let boxCount = maxBoxes == 0 ? 0 : try floatCount(batch: batch, perExample: Int(maxBoxes) * 5, buffer: "boxes")
        if boxCount > 0 && boxes == nil { throw AECVError.invalidArgument("boxes: NULL with max_boxes \(maxBoxes)") }
        if let boxes { try checkAlignment(boxes, name: "boxes") }
        let boxBuffer = UnsafeBufferPointer(start: boxCount == 0 ? nil : boxes, count: boxCount)
        if let outLoss { try checkAlignment(outLoss, name: "out_loss") }
        let loss = try handle.withLocked { try body($0, images, boxBuffer, Int(maxBoxes), Int(batch)) }
        outLoss?.pointee = loss
    }
}

@_cdecl("aecv_detector_train_step")
public func aecv_detector_train_step(_ detector: OpaquePointer?, _ images: UnsafePointer<Float>?,
                                     _ batch: UInt, _ boxes: UnsafePointer<Float>?, _ maxBoxes: UInt,
                                     _ outLoss: UnsafeMutablePointer<Float>?) -> Int32 {
    detectorBatchCall("aecv_detector_train_step", detector, images, batch, boxes, maxBoxes, outLoss) {
        try $0.trainStep(images: $1, boxes: $2, maxBoxes: $3, batch: $4)
    }
}

@_cdecl("aecv_detector_detect")
public func aecv_detector_detect(_ detector: OpaquePointer?, _ images: UnsafePointer<Float>?, _ batch: UInt,
                                 _ scoreThreshold: Float, _ iouThreshold: Float,
                                 _ outDetections: UnsafeMutablePointer<Float>?, _ capacity: UInt,
                                 _ outCounts: UnsafeMutablePointer<UInt>?) -> Int32 {
    withStatus("aecv_detector_detect") {
        let handle = try detectorHandle(detector)
        let count = try floatCount(batch: batch, perExample: handle.inputSize, buffer: "images")
        let images = try inputBuffer(images, name: "images", count: count)
        guard let outCounts else { throw AECVError.invalidArgument("out_counts: NULL") }
        guard Int(bitPattern: outCounts) % MemoryLayout<UInt>.alignment == 0 else {
            throw AECVError.invalidArgument("out_counts: pointer \(outCounts) is not aligned for size_t")
        }
        if capacity > 0 && outDetections == nil {
            throw AECVError.invalidArgument("out_detections: NULL with capacity \(capacity)")
        }
        if let outDetections { try checkAlignment(outDetections, name: "out_detections") }
        let results = try handle.withLocked {
            try $0.detect(images: images, batch: Int(batch), scoreThreshold: scoreThreshold, iouThreshold: iouThreshold)
        }
        // Counts are written in every case that gets here, so a caller can size its buffer.
        var total = 0
        for (i, r) in results.enumerated() { outCounts[i] = UInt(r.count); total += r.count }
        guard UInt(total) <= capacity else {
            throw AECVError.shape("out_detections: \(total) detections for batch \(batch), capacity \(capacity); out_counts holds the counts per image")
        }
        var p = outDetections
        for r in results {
            for d in r {
                p![0] = Float(d.classIndex); p![1] = d.score
                p![2] = d.xMin; p![3] = d.yMin; p![4] = d.xMax; p![5] = d.yMax
                p = p! + 6
            }
        }
    }
}

@_cdecl("aecv_detector_set_learning_rate")
public func aecv_detector_set_learning_rate(_ detector: OpaquePointer?, _ learningRate: Float) -> Int32 {
    withStatus("aecv_detector_set_learning_rate") {
        let handle = try detectorHandle(detector)
        try handle.withLocked { try $0.setLearningRate(learningRate) }
    }
}

@_cdecl("aecv_detector_save")
public func aecv_detector_save(_ detector: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    withStatus("aecv_detector_save") {
        let handle = try detectorHandle(detector)
        let path = try pathArgument(path)
        try handle.withLocked { try $0.save(to: path) }
    }
}

@_cdecl("aecv_detector_export_onnx")
public func aecv_detector_export_onnx(_ detector: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    withStatus("aecv_detector_export_onnx") {
        let handle = try detectorHandle(detector)
        let path = try pathArgument(path)
        try handle.withLocked { try $0.exportONNX(path: path) }
    }
}
