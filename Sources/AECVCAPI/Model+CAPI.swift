// The aecv_model_* entry points of include/aecv.h.
//
// Each one validates every argument (NULL pointers, zero or absurd batch sizes, overflowing
// products, capacities, alignment, string length and encoding, non-finite numbers) BEFORE any
// core code runs, because a Swift trap would kill the host process; then it wraps the caller's
// buffers with their exact counts and calls the public `Autoencoder` API under the handle's lock.
// `size_t` crosses as `UInt` so that SIZE_MAX stays a huge count instead of becoming -1.
import AECV

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Largest number of floats in one buffer (8 GiB): a batch needing more is "absurd"
/// (AECV_ERR_NO_MEMORY) rather than an allocation that would trap.
let maxBufferFloats: UInt = 1 << 31
/// Longest path accepted, in bytes (Linux PATH_MAX, including the NUL).
let maxPathBytes = 4096

// MARK: - Argument validation

/// The live model behind a handle pointer (a strong reference for the duration of the call),
/// or INVALID_ARGUMENT for NULL and for pointers that are not live models.
func modelHandle(_ model: OpaquePointer?) throws -> ModelHandle {
    try ModelHandle.argument(model, "model")
}

/// `batch * perExample` floats, checked: batch >= 1, no overflow, at most `maxBufferFloats`.
func floatCount(batch: UInt, batchName: String = "batch", perExample: Int,
                        buffer: String) throws -> Int {
    guard batch > 0 else {
        throw AECVError.invalidArgument("\(batchName): must be >= 1, got 0")
    }
    let (total, overflow) = batch.multipliedReportingOverflow(by: UInt(perExample))
    guard !overflow, total <= maxBufferFloats else {
        throw AECVError.noMemory(
            "\(batchName): \(batch) examples of \(perExample) floats exceed the limit of "
                + "\(maxBufferFloats) floats for \(buffer)")
    }
    return Int(total)
}

func checkAlignment(_ pointer: UnsafeRawPointer, name: String) throws {
    guard Int(bitPattern: pointer) % MemoryLayout<Float>.alignment == 0 else {
        throw AECVError.invalidArgument(
            "\(name): pointer \(pointer) is not aligned for float (4 bytes)")
    }
}

/// A caller's input buffer of exactly `count` floats.
func inputBuffer(_ pointer: UnsafePointer<Float>?, name: String,
                         count: Int) throws -> UnsafeBufferPointer<Float> {
    guard let pointer else { throw AECVError.invalidArgument("\(name): NULL") }
    try checkAlignment(pointer, name: name)
    return UnsafeBufferPointer(start: pointer, count: count)
}

/// A caller's output buffer: non-NULL, aligned, with a capacity of at least `needed` floats.
/// Returns exactly `needed` floats so the core writes no more than that.
func outputBuffer(_ pointer: UnsafeMutablePointer<Float>?, name: String,
                          capacity: UInt, needed: Int, batch: UInt,
                          batchName: String = "batch") throws -> UnsafeMutableBufferPointer<Float> {
    guard let pointer else { throw AECVError.invalidArgument("\(name): NULL") }
    try checkAlignment(pointer, name: name)
    guard capacity >= UInt(needed) else {
        throw AECVError.shape(
            "\(name): \(batchName) \(batch) needs \(needed) floats, capacity \(capacity)")
    }
    return UnsafeMutableBufferPointer(start: pointer, count: needed)
}

/// Runs `body` with `inputs` unchanged, or, when the output range overlaps it (e.g. reconstruct
/// in place), with a private copy, so the core never reads what it is writing.
func withDisjointInputs(
    _ inputs: UnsafeBufferPointer<Float>, from output: UnsafeMutableBufferPointer<Float>,
    _ body: (UnsafeBufferPointer<Float>) throws -> Void
) throws {
    let inputStart = UInt(bitPattern: inputs.baseAddress)
    let inputEnd = inputStart + UInt(inputs.count * MemoryLayout<Float>.stride)
    let outputStart = UInt(bitPattern: output.baseAddress)
    let outputEnd = outputStart + UInt(output.count * MemoryLayout<Float>.stride)
    guard inputStart < outputEnd && outputStart < inputEnd else {
        try body(inputs)
        return
    }
    // malloc, not [Float]: a failed allocation must be a status, not a trap.
    guard let copy = malloc(max(1, inputs.count * MemoryLayout<Float>.stride)) else {
        throw AECVError.noMemory(
            "inputs: could not allocate \(inputs.count) floats to copy an overlapping buffer")
    }
    defer { free(copy) }
    let floats = copy.bindMemory(to: Float.self, capacity: inputs.count)
    if let source = inputs.baseAddress {
        floats.update(from: source, count: inputs.count)
    }
    try body(UnsafeBufferPointer(start: floats, count: inputs.count))
}

/// A NUL-terminated string argument of at most `maxBytes` bytes (excluding the NUL) that is
/// valid UTF-8. `strnlen` bounds the read, so a missing terminator is never chased far.
private func boundedString(_ pointer: UnsafePointer<CChar>, maxBytes: Int) -> (String?, Int) {
    let length = strnlen(pointer, maxBytes + 1)
    guard length <= maxBytes else { return (nil, length) }
    return (String(validatingCString: pointer), length)
}

/// The text of a `spec_json` argument: at most SpecLimits.maxSpecBytes of UTF-8 (CONFIG otherwise).
func specArgument(_ specJSON: UnsafePointer<CChar>) throws -> String {
    let limit = SpecLimits.maxSpecBytes
    let (text, length) = boundedString(specJSON, maxBytes: limit)
    guard length <= limit else {
        throw AECVError.config("spec_json: longer than the limit of \(limit) bytes")
    }
    guard let text else { throw AECVError.config("spec_json: not valid UTF-8") }
    return text
}

func pathArgument(_ path: UnsafePointer<CChar>?) throws -> String {
    guard let path else { throw AECVError.invalidArgument("path: NULL") }
    let (text, length) = boundedString(path, maxBytes: maxPathBytes - 1)
    guard length <= maxPathBytes - 1 else {
        throw AECVError.invalidArgument("path: longer than \(maxPathBytes - 1) bytes")
    }
    guard let text else { throw AECVError.invalidArgument("path: not valid UTF-8") }
    guard !text.isEmpty else { throw AECVError.invalidArgument("path: empty") }
    return text
}

// MARK: - Create / free

@_cdecl("aecv_model_create")
public func aecv_model_create(_ specJSON: UnsafePointer<CChar>?,
                              _ outModel: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    outModel?.pointee = nil
    return withStatus("aecv_model_create") {
        guard let specJSON else { throw AECVError.invalidArgument("spec_json: NULL") }
        guard let outModel else { throw AECVError.invalidArgument("out_model: NULL") }
        let model = try Autoencoder(specJSON: try specArgument(specJSON))
        outModel.pointee = ModelHandle(model).retainedPointer()
    }
}

@_cdecl("aecv_model_load")
public func aecv_model_load(_ path: UnsafePointer<CChar>?,
                            _ outModel: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    outModel?.pointee = nil
    return withStatus("aecv_model_load") {
        let path = try pathArgument(path)
        guard let outModel else { throw AECVError.invalidArgument("out_model: NULL") }
        let model = try Autoencoder(contentsOf: path)
        outModel.pointee = ModelHandle(model).retainedPointer()
    }
}

/// NULL and pointers that are not live models (double free) are ignored.
@_cdecl("aecv_model_free")
public func aecv_model_free(_ model: OpaquePointer?) {
    guard let model else { return }
    ModelHandle.release(model)
}

// MARK: - Queries (never fail, never wait for a model's lock)

@_cdecl("aecv_model_input_size")
public func aecv_model_input_size(_ model: OpaquePointer?) -> UInt {
    guard let model, let handle = ModelHandle.lookup(model) else { return 0 }
    return UInt(handle.inputSize)
}

@_cdecl("aecv_model_latent_size")
public func aecv_model_latent_size(_ model: OpaquePointer?) -> UInt {
    guard let model, let handle = ModelHandle.lookup(model) else { return 0 }
    return UInt(handle.latentSize)
}

@_cdecl("aecv_model_parameter_count")
public func aecv_model_parameter_count(_ model: OpaquePointer?) -> UInt {
    guard let model, let handle = ModelHandle.lookup(model) else { return 0 }
    return UInt(handle.parameterCount)
}

/// snprintf semantics: returns the full length (no NUL); writes at most `capacity` bytes
/// including the NUL; nothing when capacity is 0 (buffer may then be NULL).
@_cdecl("aecv_model_spec")
public func aecv_model_spec(_ model: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?,
                            _ capacity: UInt) -> UInt {
    guard let model, let handle = ModelHandle.lookup(model) else {
        if let buffer, capacity > 0 { buffer[0] = 0 }
        return 0
    }
    return copySpec(handle.specUTF8, into: buffer, capacity: capacity)
}

/// Copies spec text with snprintf semantics: returns its full length (no NUL); writes at most
/// `capacity` bytes including the NUL; nothing when capacity is 0 or buffer is NULL.
func copySpec(_ text: [UInt8], into buffer: UnsafeMutablePointer<CChar>?, capacity: UInt) -> UInt {
    if let buffer, capacity > 0 {
        let count = Int(min(UInt(text.count), capacity - 1))
        text.withUnsafeBytes { bytes in
            if count > 0, let source = bytes.baseAddress { memcpy(buffer, source, count) }
        }
        buffer[count] = 0
    }
    return UInt(text.count)
}

// MARK: - Training

/// The calls that take a training batch (train_step, evaluate, compute_gradients): inputs and
/// optional targets of batch × input_size floats, an optional out_loss; `body` runs under the
/// model's lock and returns the loss.
func trainingBatchCall(_ function: StaticString, _ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                       _ targets: UnsafePointer<Float>?, _ batch: UInt, _ outLoss: UnsafeMutablePointer<Float>?,
                       _ body: (Autoencoder, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>?, Int) throws -> Float)
    -> Int32 {
    withStatus(function) {
        let handle = try modelHandle(model)
        let count = try floatCount(batch: batch, perExample: handle.inputSize, buffer: "inputs")
        let inputs = try inputBuffer(inputs, name: "inputs", count: count)
        let targets = try targets.map { try inputBuffer($0, name: "targets", count: count) }
        if let outLoss { try checkAlignment(outLoss, name: "out_loss") }
        let loss = try handle.withLocked { try body($0, inputs, targets, Int(batch)) }
        outLoss?.pointee = loss
    }
}

@_cdecl("aecv_model_train_step")
public func aecv_model_train_step(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                  _ targets: UnsafePointer<Float>?, _ batch: UInt,
                                  _ outLoss: UnsafeMutablePointer<Float>?) -> Int32 {
    trainingBatchCall("aecv_model_train_step", model, inputs, targets, batch, outLoss) {
        try $0.trainStep(inputs: $1, targets: $2, batch: $3)
    }
}

@_cdecl("aecv_model_evaluate")
public func aecv_model_evaluate(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                _ targets: UnsafePointer<Float>?, _ batch: UInt,
                                _ outLoss: UnsafeMutablePointer<Float>?) -> Int32 {
    trainingBatchCall("aecv_model_evaluate", model, inputs, targets, batch, outLoss) {
        try $0.evaluate(inputs: $1, targets: $2, batch: $3)
    }
}

@_cdecl("aecv_model_set_learning_rate")
public func aecv_model_set_learning_rate(_ model: OpaquePointer?, _ learningRate: Float) -> Int32 {
    withStatus("aecv_model_set_learning_rate") {
        let handle = try modelHandle(model)
        guard learningRate.isFinite, learningRate > 0 else {
            throw AECVError.invalidArgument(
                "learning_rate: must be a finite number > 0, got \(learningRate)")
        }
        try handle.withLocked { try $0.setLearningRate(learningRate) }
    }
}

// MARK: - Inference

/// The shared body of the batch-in, batch-out entry points (encode, decode, reconstruct, anomaly
/// scores and maps): checks an input of batch × inputPerExample floats and an output capacity of
/// batch × outputPerExample, then runs `body` under the handle's lock, with the input copied
/// first when the two buffers overlap.
func mapBatch(_ handle: ModelHandle, input: UnsafePointer<Float>?, inputName: String,
              inputPerExample: Int, batch: UInt, output: UnsafeMutablePointer<Float>?,
              outputName: String, outputPerExample: Int, capacity: UInt,
              _ body: (Autoencoder, UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
    let inCount = try floatCount(batch: batch, perExample: inputPerExample, buffer: inputName)
    let outCount = try floatCount(batch: batch, perExample: outputPerExample, buffer: outputName)
    let inputs = try inputBuffer(input, name: inputName, count: inCount)
    let outputs = try outputBuffer(output, name: outputName, capacity: capacity, needed: outCount,
                                   batch: batch)
    try withDisjointInputs(inputs, from: outputs) { inputs in
        try handle.withLocked { try body($0, inputs, outputs) }
    }
}

@_cdecl("aecv_model_encode")
public func aecv_model_encode(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                              _ batch: UInt, _ outCodes: UnsafeMutablePointer<Float>?,
                              _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_encode") {
        let handle = try modelHandle(model)
        try mapBatch(handle, input: inputs, inputName: "inputs", inputPerExample: handle.inputSize,
                     batch: batch, output: outCodes, outputName: "out_codes",
                     outputPerExample: handle.latentSize, capacity: capacity) {
            try $0.encode(inputs: $1, batch: Int(batch), into: $2)
        }
    }
}

@_cdecl("aecv_model_decode")
public func aecv_model_decode(_ model: OpaquePointer?, _ codes: UnsafePointer<Float>?,
                              _ batch: UInt, _ outImages: UnsafeMutablePointer<Float>?,
                              _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_decode") {
        let handle = try modelHandle(model)
        try mapBatch(handle, input: codes, inputName: "codes", inputPerExample: handle.latentSize,
                     batch: batch, output: outImages, outputName: "out_images",
                     outputPerExample: handle.inputSize, capacity: capacity) {
            try $0.decode(codes: $1, batch: Int(batch), into: $2)
        }
    }
}

@_cdecl("aecv_model_reconstruct")
public func aecv_model_reconstruct(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                   _ batch: UInt, _ outImages: UnsafeMutablePointer<Float>?,
                                   _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_reconstruct") {
        let handle = try modelHandle(model)
        try mapBatch(handle, input: inputs, inputName: "inputs", inputPerExample: handle.inputSize,
                     batch: batch, output: outImages, outputName: "out_images",
                     outputPerExample: handle.inputSize, capacity: capacity) {
            try $0.reconstruct(inputs: $1, batch: Int(batch), into: $2)
        }
    }
}

@_cdecl("aecv_model_sample")
public func aecv_model_sample(_ model: OpaquePointer?, _ count: UInt, _ seed: UInt64,
                              _ outImages: UnsafeMutablePointer<Float>?,
                              _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_sample") {
        let handle = try modelHandle(model)
        guard outImages != nil else { throw AECVError.invalidArgument("out_images: NULL") }
        let needed = try floatCount(batch: count, batchName: "count",
                                    perExample: handle.inputSize, buffer: "out_images")
        guard handle.isGenerative else {
            throw AECVError.unsupported(
                "sample: the model is not generative (only vae and conv_vae can sample)")
        }
        let images = try outputBuffer(outImages, name: "out_images", capacity: capacity,
                                      needed: needed, batch: count, batchName: "count")
        try handle.withLocked {
            try $0.sample(count: Int(count), seed: seed, into: images)
        }
    }
}

// MARK: - Files

@_cdecl("aecv_model_save")
public func aecv_model_save(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    withStatus("aecv_model_save") {
        let handle = try modelHandle(model)
        let path = try pathArgument(path)
        try handle.withLocked { try $0.save(to: path) }
    }
}
