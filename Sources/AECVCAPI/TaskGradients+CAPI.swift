// The data-parallel pieces of include/aecv.h for the classifier and the detector, through the
// shared trainable core: compute_gradients / gradients / apply_gradients and the flat parameter
// and buffer vectors, with the same contracts as the aecv_model_* ones (Gradients+CAPI.swift).
import AECV

/// What the flat-vector entry points need from a trainable object.
protocol FlatTrainable: HandleObject {
    var gradientBuffer: UnsafeMutableBufferPointer<Float> { get }
    func applyGradients() throws
    func copyParameters(into out: UnsafeMutableBufferPointer<Float>) throws
    func setParameters(_ values: UnsafeBufferPointer<Float>) throws
    func copyBuffers(into out: UnsafeMutableBufferPointer<Float>) throws
    func setBuffers(_ values: UnsafeBufferPointer<Float>) throws
}

extension Classifier: FlatTrainable {}
extension Detector: FlatTrainable {}

private func flatGradients<O: FlatTrainable>(_ function: StaticString, _ kind: O.Type, _ pointer: OpaquePointer?,
                                             _ name: String,
                                             _ outGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?,
                                             _ outCount: UnsafeMutablePointer<UInt>?) -> Int32 {
    outGradients?.pointee = nil
    outCount?.pointee = 0
    return withStatus(function) {
        let handle = try Handle<O>.argument(pointer, name)
        guard let outGradients else { throw AECVError.invalidArgument("out_gradients: NULL") }
        guard let outCount else { throw AECVError.invalidArgument("out_count: NULL") }
        let view = handle.withLocked { $0.gradientBuffer }
        outGradients.pointee = view.baseAddress
        outCount.pointee = UInt(view.count)
    }
}

private func flatApply<O: FlatTrainable>(_ function: StaticString, _ kind: O.Type, _ pointer: OpaquePointer?,
                                         _ name: String) -> Int32 {
    withStatus(function) {
        let handle = try Handle<O>.argument(pointer, name)
        try handle.withLocked { try $0.applyGradients() }
    }
}

private func flatGet<O: FlatTrainable>(_ function: StaticString, _ kind: O.Type, _ pointer: OpaquePointer?, _ name: String,
                                       _ out: UnsafeMutablePointer<Float>?, _ capacity: UInt, buffers: Bool) -> Int32 {
    withStatus(function) {
        let handle = try Handle<O>.argument(pointer, name)
        let vector = try vectorOut(out, capacity: capacity, needed: buffers ? handle.bufferCount : handle.parameterCount)
        try handle.withLocked { buffers ? try $0.copyBuffers(into: vector) : try $0.copyParameters(into: vector) }
    }
}

private func flatSet<O: FlatTrainable>(_ function: StaticString, _ kind: O.Type, _ pointer: OpaquePointer?, _ name: String,
                                       _ values: UnsafePointer<Float>?, _ count: UInt, buffers: Bool) -> Int32 {
    withStatus(function) {
        let handle = try Handle<O>.argument(pointer, name)
        let vector = try vectorIn(values, count: count, expected: buffers ? handle.bufferCount : handle.parameterCount,
                                  what: buffers ? "buffer" : "parameter")
        try handle.withLocked { buffers ? try $0.setBuffers(vector) : try $0.setParameters(vector) }
    }
}

// MARK: - Classifier

@_cdecl("aecv_classifier_parameter_count")
public func aecv_classifier_parameter_count(_ classifier: OpaquePointer?) -> UInt {
    guard let classifier, let handle = ClassifierHandle.lookup(classifier) else { return 0 }
    return UInt(handle.parameterCount)
}

@_cdecl("aecv_classifier_buffer_count")
public func aecv_classifier_buffer_count(_ classifier: OpaquePointer?) -> UInt {
    guard let classifier, let handle = ClassifierHandle.lookup(classifier) else { return 0 }
    return UInt(handle.bufferCount)
}

@_cdecl("aecv_classifier_compute_gradients")
public func aecv_classifier_compute_gradients(_ classifier: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                              _ labels: UnsafePointer<Int32>?, _ batch: UInt,
                                              _ outLoss: UnsafeMutablePointer<Float>?) -> Int32 {
    classifierBatchCall("aecv_classifier_compute_gradients", classifier, inputs, labels, batch, outLoss) {
        try $0.computeGradients(inputs: $1, labels: $2, batch: $3)
    }
}

@_cdecl("aecv_classifier_gradients")
public func aecv_classifier_gradients(_ classifier: OpaquePointer?,
                                      _ outGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?,
                                      _ outCount: UnsafeMutablePointer<UInt>?) -> Int32 {
    flatGradients("aecv_classifier_gradients", Classifier.self, classifier, "classifier", outGradients, outCount)
}

@_cdecl("aecv_classifier_apply_gradients")
public func aecv_classifier_apply_gradients(_ classifier: OpaquePointer?) -> Int32 {
    flatApply("aecv_classifier_apply_gradients", Classifier.self, classifier, "classifier")
}

@_cdecl("aecv_classifier_get_parameters")
public func aecv_classifier_get_parameters(_ c: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ capacity: UInt) -> Int32 {
    flatGet("aecv_classifier_get_parameters", Classifier.self, c, "classifier", out, capacity, buffers: false)
}

@_cdecl("aecv_classifier_set_parameters")
public func aecv_classifier_set_parameters(_ c: OpaquePointer?, _ values: UnsafePointer<Float>?, _ count: UInt) -> Int32 {
    flatSet("aecv_classifier_set_parameters", Classifier.self, c, "classifier", values, count, buffers: false)
}

@_cdecl("aecv_classifier_get_buffers")
public func aecv_classifier_get_buffers(_ c: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ capacity: UInt) -> Int32 {
    flatGet("aecv_classifier_get_buffers", Classifier.self, c, "classifier", out, capacity, buffers: true)
}

@_cdecl("aecv_classifier_set_buffers")
public func aecv_classifier_set_buffers(_ c: OpaquePointer?, _ values: UnsafePointer<Float>?, _ count: UInt) -> Int32 {
    flatSet("aecv_classifier_set_buffers", Classifier.self, c, "classifier", values, count, buffers: true)
}

// MARK: - Detector

@_cdecl("aecv_detector_parameter_count")
public func aecv_detector_parameter_count(_ detector: OpaquePointer?) -> UInt {
    guard let detector, let handle = DetectorHandle.lookup(detector) else { return 0 }
    return UInt(handle.parameterCount)
}

@_cdecl("aecv_detector_buffer_count")
public func aecv_detector_buffer_count(_ detector: OpaquePointer?) -> UInt {
    guard let detector, let handle = DetectorHandle.lookup(detector) else { return 0 }
    return UInt(handle.bufferCount)
}

@_cdecl("aecv_detector_compute_gradients")
public func aecv_detector_compute_gradients(_ detector: OpaquePointer?, _ images: UnsafePointer<Float>?,
                                            _ batch: UInt, _ boxes: UnsafePointer<Float>?, _ maxBoxes: UInt,
                                            _ outLoss: UnsafeMutablePointer<Float>?) -> Int32 {
    detectorBatchCall("aecv_detector_compute_gradients", detector, images, batch, boxes, maxBoxes, outLoss) {
        try $0.computeGradients(images: $1, boxes: $2, maxBoxes: $3, batch: $4)
    }
}

@_cdecl("aecv_detector_gradients")
public func aecv_detector_gradients(_ detector: OpaquePointer?,
                                    _ outGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?,
                                    _ outCount: UnsafeMutablePointer<UInt>?) -> Int32 {
    flatGradients("aecv_detector_gradients", Detector.self, detector, "detector", outGradients, outCount)
}

@_cdecl("aecv_detector_apply_gradients")
public func aecv_detector_apply_gradients(_ detector: OpaquePointer?) -> Int32 {
    flatApply("aecv_detector_apply_gradients", Detector.self, detector, "detector")
}

@_cdecl("aecv_detector_get_parameters")
public func aecv_detector_get_parameters(_ d: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ capacity: UInt) -> Int32 {
    flatGet("aecv_detector_get_parameters", Detector.self, d, "detector", out, capacity, buffers: false)
}

@_cdecl("aecv_detector_set_parameters")
public func aecv_detector_set_parameters(_ d: OpaquePointer?, _ values: UnsafePointer<Float>?, _ count: UInt) -> Int32 {
    flatSet("aecv_detector_set_parameters", Detector.self, d, "detector", values, count, buffers: false)
}

@_cdecl("aecv_detector_get_buffers")
public func aecv_detector_get_buffers(_ d: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ capacity: UInt) -> Int32 {
    flatGet("aecv_detector_get_buffers", Detector.self, d, "detector", out, capacity, buffers: true)
}

@_cdecl("aecv_detector_set_buffers")
public func aecv_detector_set_buffers(_ d: OpaquePointer?, _ values: UnsafePointer<Float>?, _ count: UInt) -> Int32 {
    flatSet("aecv_detector_set_buffers", Detector.self, d, "detector", values, count, buffers: true)
}
