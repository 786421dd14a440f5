// The aecv_classifier_* entry points of include/aecv.h (issue 7): a classifier on top of an
// autoencoder's encoder. Same validation rules and locking as Model+CAPI.swift: every argument is
// checked before core code runs, then the public `Classifier` API runs under the handle's lock.
import AECV

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The live classifier behind a handle pointer, or INVALID_ARGUMENT for NULL and for pointers that
/// are not live classifiers (freed, never created, or an aecv_model).
private func classifierHandle(_ classifier: OpaquePointer?) throws -> ClassifierHandle {
    try ClassifierHandle.argument(classifier, "classifier")
}

// MARK: - Create / load / free

@_cdecl("aecv_classifier_create")
public func aecv_classifier_create(_ autoencoder: OpaquePointer?, _ specJSON: UnsafePointer<CChar>?,
                                   _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    out?.pointee = nil
    return withStatus("aecv_classifier_create") {
        guard let autoencoder else { throw AECVError.invalidArgument("autoencoder: NULL") }
        guard let model = ModelHandle.lookup(autoencoder) else {
            throw AECVError.invalidArgument(
                "autoencoder: \(UnsafeRawPointer(autoencoder)) is not a live aecv_model (already freed?)")
        }
        guard let specJSON else { throw AECVError.invalidArgument("spec_json: NULL") }
        guard let out else { throw AECVError.invalidArgument("out: NULL") }
        let text = try specArgument(specJSON)
        let spec = try ClassifierSpec(json: text)
        // The classifier copies the encoder's weights: under the model's lock, so a training step
        // running on another thread cannot be caught half-way.
        let classifier = try model.withLocked { try Classifier(autoencoder: $0, spec: spec) }
        out.pointee = ClassifierHandle(classifier).retainedPointer()
    }
}

@_cdecl("aecv_classifier_load")
public func aecv_classifier_load(_ path: UnsafePointer<CChar>?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    out?.pointee = nil
    return withStatus("aecv_classifier_load") {
        let path = try pathArgument(path)
        guard let out else { throw AECVError.invalidArgument("out: NULL") }
        let classifier = try Classifier(contentsOf: path)
        out.pointee = ClassifierHandle(classifier).retainedPointer()
    }
}

/// NULL and pointers that are not live classifiers (double free) are ignored.
@_cdecl("aecv_classifier_free")
public func aecv_classifier_free(_ classifier: OpaquePointer?) {
    guard let classifier else { return }
    ClassifierHandle.release(classifier)
}

// MARK: - Queries (never fail, never wait for the lock)

@_cdecl("aecv_classifier_classes")
public func aecv_classifier_classes(_ classifier: OpaquePointer?) -> UInt {
    guard let classifier, let handle = ClassifierHandle.lookup(classifier) else { return 0 }
    return UInt(handle.classes)
}

@_cdecl("aecv_classifier_input_size")
public func aecv_classifier_input_size(_ classifier: OpaquePointer?) -> UInt {
    guard let classifier, let handle = ClassifierHandle.lookup(classifier) else { return 0 }
    return UInt(handle.inputSize)
}

/// snprintf semantics, as aecv_model_spec.
@_cdecl("aecv_classifier_spec")
public func aecv_classifier_spec(_ classifier: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?,
                                 _ capacity: UInt) -> UInt {
    guard let classifier, let handle = ClassifierHandle.lookup(classifier) else {
        if let buffer, capacity > 0 { buffer[0] = 0 }
        return 0
    }
    return copySpec(handle.specUTF8, into: buffer, capacity: capacity)
}

// MARK: - Training and prediction

/// The argument checks shared by aecv_classifier_train_step and aecv_classifier_compute_gradients:
/// `inputs` (batch × input size floats), `labels` (batch int32, aligned), `out_loss` (optional).
/// `body` runs with the classifier locked and returns the loss written to `out_loss`.
func classifierBatchCall(_ function: StaticString, _ classifier: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                         _ labels: UnsafePointer<Int32>?, _ batch: UInt, _ outLoss: UnsafeMutablePointer<Float>?,
                         _ body: (Classifier, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Int32>, Int) throws -> Float)
    -> Int32 {
    withStatus(function) {
        let handle = try classifierHandle(classifier)
        let count = try floatCount(batch: batch, perExample: handle.inputSize, buffer: "inputs")
        let inputs = try inputBuffer(inputs, name: "inputs", count: count)
        guard let labels else { throw AECVError.invalidArgument("labels: NULL") }
        guard Int(bitPattern: labels) % MemoryLayout<Int32>.alignment == 0 else {
            throw AECVError.invalidArgument("labels: pointer \(labels) is not aligned for int32_t (4 bytes)")
        }
        let labelBuffer = UnsafeBufferPointer(start: labels, count: Int(batch))
        if let outLoss { try checkAlignment(outLoss, name: "out_loss") }
        let loss = try handle.withLocked { try body($0, inputs, labelBuffer, Int(batch)) }
        outLoss?.pointee = loss
    }
}

@_cdecl("aecv_classifier_train_step")
public func aecv_classifier_train_step(_ classifier: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                       _ labels: UnsafePointer<Int32>?, _ batch: UInt,
                                       _ outLoss: UnsafeMutablePointer<Float>?) -> Int32 {
    classifierBatchCall("aecv_classifier_train_step", classifier, inputs, labels, batch, outLoss) {
        try $0.trainStep(inputs: $1, labels: $2, batch: $3)
    }
}

@_cdecl("aecv_classifier_predict")
public func aecv_classifier_predict(_ classifier: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                    _ batch: UInt, _ outProbabilities: UnsafeMutablePointer<Float>?,
                                    _ capacity: UInt) -> Int32 {
    withStatus("aecv_classifier_predict") {
        let handle = try classifierHandle(classifier)
        let inCount = try floatCount(batch: batch, perExample: handle.inputSize, buffer: "inputs")
        let outCount = try floatCount(batch: batch, perExample: handle.classes,
                                      buffer: "out_probabilities")
        let inputs = try inputBuffer(inputs, name: "inputs", count: inCount)
        let probabilities = try outputBuffer(outProbabilities, name: "out_probabilities",
                                             capacity: capacity, needed: outCount, batch: batch)
        try withDisjointInputs(inputs, from: probabilities) { inputs in
            try handle.withLocked {
                try $0.predict(inputs: inputs, batch: Int(batch), into: probabilities)
            }
        }
    }
}

// MARK: - Files

@_cdecl("aecv_classifier_save")
public func aecv_classifier_save(_ classifier: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    withStatus("aecv_classifier_save") {
        let handle = try classifierHandle(classifier)
        let path = try pathArgument(path)
        try handle.withLocked { try $0.save(to: path) }
    }
}

@_cdecl("aecv_classifier_export_onnx")
public func aecv_classifier_export_onnx(_ classifier: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    withStatus("aecv_classifier_export_onnx") {
        let handle = try classifierHandle(classifier)
        let path = try pathArgument(path)
        try handle.withLocked { try $0.exportONNX(path: path) }
    }
}
