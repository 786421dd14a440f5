// The data-parallel pieces of include/aecv.h: gradients computed and applied in two calls, with
// the flat gradient buffer exposed in between, and the flat parameter and buffer vectors. A host
// runs any allreduce with them (MPI, NCCL, its own sockets), the way Horovod wraps an optimizer.
import AECV

@_cdecl("aecv_model_compute_gradients")
public func aecv_model_compute_gradients(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                         _ targets: UnsafePointer<Float>?, _ batch: UInt,
                                         _ outLoss: UnsafeMutablePointer<Float>?) -> Int32 {
    trainingBatchCall("aecv_model_compute_gradients", model, inputs, targets, batch, outLoss) {
        try $0.computeGradients(inputs: $1, targets: $2, batch: $3)
    }
}

@_cdecl("aecv_model_compute_gradients_shard")
public func aecv_model_compute_gradients_shard(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                               _ targets: UnsafePointer<Float>?, _ batch: UInt,
                                               _ firstExample: UInt, _ totalBatch: UInt,
                                               _ outLoss: UnsafeMutablePointer<Float>?) -> Int32 {
    trainingBatchCall("aecv_model_compute_gradients_shard", model, inputs, targets, batch, outLoss) {
        guard totalBatch <= UInt(Int32.max), firstExample <= totalBatch else {
            throw AECVError.invalidArgument("first_example: \(firstExample) does not lie in a batch of total_batch \(totalBatch)")
        }
        return try $0.computeGradients(inputs: $1, targets: $2, batch: $3, firstExample: Int(firstExample),
                                       totalBatch: Int(totalBatch))
    }
}

@_cdecl("aecv_model_gradients")
public func aecv_model_gradients(_ model: OpaquePointer?,
                                 _ outGradients: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?,
                                 _ outCount: UnsafeMutablePointer<UInt>?) -> Int32 {
    outGradients?.pointee = nil
    outCount?.pointee = 0
    return withStatus("aecv_model_gradients") {
        let handle = try modelHandle(model)
        guard let outGradients else { throw AECVError.invalidArgument("out_gradients: NULL") }
        guard let outCount else { throw AECVError.invalidArgument("out_count: NULL") }
        let view = handle.withLocked { $0.gradientBuffer }
        outGradients.pointee = view.baseAddress
        outCount.pointee = UInt(view.count)
    }
}

@_cdecl("aecv_model_apply_gradients")
public func aecv_model_apply_gradients(_ model: OpaquePointer?) -> Int32 {
    withStatus("aecv_model_apply_gradients") {
        let handle = try modelHandle(model)
        try handle.withLocked { try $0.applyGradients() }
    }
}

@_cdecl("aecv_model_buffer_count")
public func aecv_model_buffer_count(_ model: OpaquePointer?) -> UInt {
    guard let model, let handle = ModelHandle.lookup(model) else { return 0 }
    return UInt(handle.bufferCount)
}

/// A caller's output vector of `capacity` floats (NULL allowed when nothing is to be written).
func vectorOut(_ pointer: UnsafeMutablePointer<Float>?, capacity: UInt, needed: Int) throws
    -> UnsafeMutableBufferPointer<Float> {
    guard capacity <= maxBufferFloats else { throw AECVError.invalidArgument("capacity: \(capacity) is absurd") }
    if needed == 0 { return UnsafeMutableBufferPointer(start: pointer, count: 0) }
    return try outputBuffer(pointer, name: "out", capacity: capacity, needed: needed, batch: 1)
}

func vectorIn(_ pointer: UnsafePointer<Float>?, count: UInt, expected: Int, what: String) throws
    -> UnsafeBufferPointer<Float> {
    guard count == UInt(expected) else {
        throw AECVError.shape("count: the model has \(expected) \(what) floats, got \(count)")
    }
    if expected == 0 { return UnsafeBufferPointer(start: nil, count: 0) }
    return try inputBuffer(pointer, name: "values", count: expected)
}

/// get_parameters / get_buffers: `size` floats of the model copied into the caller's vector.
private func getVector(_ function: StaticString, _ model: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?,
                       _ capacity: UInt, size: KeyPath<ModelHandle, Int>,
                       _ copy: (Autoencoder, UnsafeMutableBufferPointer<Float>) throws -> Void) -> Int32 {
    withStatus(function) {
        let handle = try modelHandle(model)
        let buffer = try vectorOut(out, capacity: capacity, needed: handle[keyPath: size])
        try handle.withLocked { try copy($0, buffer) }
    }
}

/// set_parameters / set_buffers: exactly `size` floats from the caller, all or nothing.
private func setVector(_ function: StaticString, _ model: OpaquePointer?, _ values: UnsafePointer<Float>?,
                       _ count: UInt, size: KeyPath<ModelHandle, Int>, what: String,
                       _ set: (Autoencoder, UnsafeBufferPointer<Float>) throws -> Void) -> Int32 {
    withStatus(function) {
        let handle = try modelHandle(model)
        let buffer = try vectorIn(values, count: count, expected: handle[keyPath: size], what: what)
        try handle.withLocked { try set($0, buffer) }
    }
}

@_cdecl("aecv_model_get_parameters")
public func aecv_model_get_parameters(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?,
                                      _ capacity: UInt) -> Int32 {
    getVector("aecv_model_get_parameters", model, out, capacity, size: \.parameterCount) { try $0.copyParameters(into: $1) }
}

@_cdecl("aecv_model_set_parameters")
public func aecv_model_set_parameters(_ model: OpaquePointer?, _ values: UnsafePointer<Float>?,
                                      _ count: UInt) -> Int32 {
    setVector("aecv_model_set_parameters", model, values, count, size: \.parameterCount, what: "parameter") {
        try $0.setParameters($1)
    }
}

@_cdecl("aecv_model_get_buffers")
public func aecv_model_get_buffers(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?,
                                   _ capacity: UInt) -> Int32 {
    getVector("aecv_model_get_buffers", model, out, capacity, size: \.bufferCount) { try $0.copyBuffers(into: $1) }
}

@_cdecl("aecv_model_set_buffers")
public func aecv_model_set_buffers(_ model: OpaquePointer?, _ values: UnsafePointer<Float>?,
                                   _ count: UInt) -> Int32 {
    setVector("aecv_model_set_buffers", model, values, count, size: \.bufferCount, what: "buffer") { try $0.setBuffers($1) }
}
