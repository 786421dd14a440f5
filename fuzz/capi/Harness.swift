// libFuzzer entry point for SEQUENCES of C API calls: the fuzz input is a little program
// (one opcode byte, then its arguments) run against four model slots, through the @_cdecl
// entry points of Sources/AECVCAPI exactly as a C host calls them. Compiled with Sources/AECV
// and Sources/AECVCAPI as one module (-sanitize=fuzzer,address; UBSan's checks are Swift's own
// traps) by `make fuzz-capi` (fuzz/capi/run.sh); seeds in fuzz/corpus/capi.
//
// Output buffers are allocated with EXACTLY the capacity passed, so a write past it is an ASan
// report. Invariants that trap on purpose (the fuzzer reports them as crashes):
// - every status is one of the documented codes, and AECV_ERR_INTERNAL never happens;
// - a call that fails leaves the model as it was: parameters compared bit for bit around a
//   failed train step, apply_gradients and set_parameters;
// - a stale (freed) handle is refused with AECV_ERR_INVALID_ARGUMENT, never dereferenced.
// Sizes are kept small (models of at most a few thousand parameters) so that each input runs
// in milliseconds; hostile SIZES of buffers and batches are still passed to the API.

#if canImport(Glibc)
import Glibc
#endif

private struct Program {
    let bytes: [UInt8]
    var at = 0
    var done: Bool { at >= bytes.count }
    mutating func byte() -> UInt8 {
        guard at < bytes.count else { return 0 }
        defer { at += 1 }
        return bytes[at]
    }
    /// A count that is usually small and sometimes hostile (0, huge, SIZE_MAX).
    mutating func count(_ typical: Int) -> UInt {
        let b = byte()
        switch b {
        case 250: return 0
        case 251: return UInt.max
        case 252: return UInt(Int32.max)
        case 253: return 1 << 40
        default: return UInt(Int(b) % max(1, typical) + 1)
        }
    }
    mutating func float() -> Float {
        switch byte() {
        case 255: return .nan
        case 254: return .infinity
        case 253: return -1e30
        case let b: return Float(b) / 252
        }
    }
}

private let knownStatuses: Set<Int32> = [0, 1, 2, 3, 4, 5, 6, 7, 8]

private func checked(_ status: Int32, _ what: StaticString) -> Int32 {
    precondition(knownStatuses.contains(status), "\(what): status \(status) is not a documented code")
    return status
}

/// A float buffer of exactly `count` floats (or none for hostile counts: the API must refuse
/// before touching it, so a pointer to one float is passed).
private final class Buffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(_ requested: UInt, fill: (Int) -> Float) {
        count = requested <= 1 << 16 ? max(1, Int(requested)) : 1
        pointer = .allocate(capacity: count)
        for i in 0..<count { pointer[i] = fill(i) }
    }
    deinit { pointer.deallocate() }
}

/// The inputs of a batch call: `batch` examples of `perExample` floats, with a buffer that holds
/// them all whenever the library may legitimately read them. A hostile batch is passed as is
/// only when the library must refuse it before reading (the count overflows or exceeds the C
/// API's limit of 2^31 floats, `maxBufferFloats`); a legal batch too large to allocate here
/// (e.g. 2^31 − 1 images of 1×1) is cut to what the buffer holds, because a C caller that
/// states more floats than it passes is outside the contract, and the library rightly read them.
private func batchInputs(_ batch: UInt, perExample: UInt, _ program: inout Program) -> (batch: UInt, x: Buffer) {
    let (total, overflow) = batch.multipliedReportingOverflow(by: max(1, perExample))
    if batch == 0 || overflow || total > 1 << 31 || total <= 1 << 16 {
        return (batch, Buffer(overflow ? UInt.max : total, fill: { _ in program.float() }))
    }
    let fitting = max(1, (1 << 16) / max(1, perExample))
    return (fitting, Buffer(fitting * max(1, perExample), fill: { _ in program.float() }))
}

/// A class index for the conditional kinds (classes 3): mostly in range, sometimes negative or
/// past the last class, which must be refused.
private func classIndex(_ program: inout Program) -> Int32 { Int32(Int8(bitPattern: program.byte())) % 5 }

/// Small specs, (C, H, W) from the input; the channel choices each kind accepts.
private let specs: [(channels: [Int], json: (Int, Int, Int) -> String)] = [
    ([1], { _, h, w in #"{"preset": "dense", "input": [1, \#(h), \#(w)], "hidden": [8], "latent": 3}"# }),
    ([1, 3], { c, h, w in #"{"preset": "conv", "input": [\#(c), \#(h), \#(w)], "hidden": [2, 4]}"# }),
    ([1], { _, h, w in #"{"preset": "vae", "input": [1, \#(h), \#(w)], "hidden": [6], "latent": 2}"# }),
    ([1, 3], { c, h, w in
        #"{"preset": "denoising", "input": [\#(c), \#(h), \#(w)], "hidden": [2, 4], "noise": {"synthetic_anomaly": 0.5}, "loss": "mse_ssim"}"# }),
    ([1], { _, h, w in #"{"preset": "sparse", "input": [1, \#(h), \#(w)], "hidden": [5], "latent": 4}"# }),
    ([1], { _, h, w in #"{"preset": "cvae", "input": [1, \#(h), \#(w)], "hidden": [6], "latent": 2, "classes": 3}"# }),
    ([1, 3], { c, h, w in #"{"preset": "conv_vae", "input": [\#(c), \#(h), \#(w)], "hidden": [2, 4], "latent": 2, "classes": 3}"# }),
]

private func parameters(_ model: OpaquePointer?) -> [Float] {
    let n = aecv_model_parameter_count(model)
    var values = [Float](repeating: 0, count: Int(n))
    if n > 0 {
        _ = values.withUnsafeMutableBufferPointer { checked(aecv_model_get_parameters(model, $0.baseAddress, n), "get_parameters") }
    }
    return values
}

private func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var program = Program(bytes: size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    var slots = [OpaquePointer?](repeating: nil, count: 4)
    var stale: [OpaquePointer] = []
    let path = "/tmp/aecv-fuzz-capi-\(getpid()).aecv"
    defer {
        for m in slots { aecv_model_free(m) }
        unlink(path)
        _ = aecv_set_num_threads(1)
    }
    var steps = 0
    while !program.done && steps < 24 {
        steps += 1
        let op = program.byte() % 12
        let slot = Int(program.byte() % 4)
        let model = slots[slot]
        let inputSize = Int(aecv_model_input_size(model))
        switch op {
        case 0:  // create
            let kind = specs[Int(program.byte()) % specs.count]
            let c = kind.channels[Int(program.byte()) % kind.channels.count]
            let h = Int(program.byte() % 12) + 1, w = Int(program.byte() % 12) + 1
            let text = kind.json(c, h, w)
            var created: OpaquePointer?
            let s = checked(aecv_model_create(text, &created), "create")
            precondition((s == 0) == (created != nil), "create: out_model disagrees with the status")
            if s == 0 { aecv_model_free(slots[slot]); slots[slot] = created }
        case 1, 2:  // train step / compute + apply gradients, which must not change a model they refuse
            let (batch, x) = batchInputs(program.count(4), perExample: UInt(max(1, inputSize)), &program)
            let before = parameters(model)
            var loss: Float = 0
            let s: Int32
            if op == 2 {
                s = checked(aecv_model_compute_gradients(model, x.pointer, nil, batch, &loss), "compute_gradients")
            } else if program.byte() % 2 == 0 {
                s = checked(aecv_model_train_step(model, x.pointer, nil, batch, &loss), "train_step")
            } else {
                // A labeled step (the conditional kinds). One label per example when the inputs
                // are really there; a hostile batch (refused before anything is read) gets one.
                let fits = batch <= UInt(x.count) / UInt(max(1, inputSize))
                let labels = (0..<(fits ? max(1, Int(batch)) : 1)).map { _ in classIndex(&program) }
                s = checked(aecv_model_train_step_labeled(model, x.pointer, labels, batch, &loss), "train_step_labeled")
            }
            if s != 0 || op == 2 { precondition(sameBits(before, parameters(model)), "a refused step changed the model") }
            if op == 2 && s == 0 {
                let a = checked(aecv_model_apply_gradients(model), "apply_gradients")
                if a != 0 { precondition(sameBits(before, parameters(model)), "a refused apply changed the model") }
            }
        case 3:  // encode / reconstruct with a fuzzed capacity
            let (batch, x) = batchInputs(program.count(3), perExample: UInt(max(1, inputSize)), &program)
            let out = Buffer(program.count(64), fill: { _ in 0 })
            _ = checked(program.byte() % 2 == 0
                ? aecv_model_encode(model, x.pointer, batch, out.pointer, UInt(out.count))
                : aecv_model_reconstruct(model, x.pointer, batch, out.pointer, UInt(out.count)), "encode/reconstruct")
        case 4:  // sample, or sample a class (generative / conditional kinds only)
            let count = program.count(3)
            let out = Buffer(program.count(200), fill: { _ in 0 })
            if program.byte() % 2 == 0 {
                _ = checked(aecv_model_sample(model, count, UInt64(program.byte()), out.pointer, UInt(out.count)), "sample")
            } else {
                _ = checked(aecv_model_sample_class(model, classIndex(&program), count, UInt64(program.byte()), out.pointer, UInt(out.count)), "sample_class")
            }
        case 5:  // save, then maybe flip a byte, then load into another slot
            if checked(aecv_model_save(model, path), "save") == 0, program.byte() % 2 == 0 {
                let fd = open(path, O_RDWR)
                if fd >= 0 {
                    var st = stat()
                    if fstat(fd, &st) == 0 && st.st_size > 0 {
                        var b = program.byte()
                        _ = pwrite(fd, &b, 1, off_t(Int(program.byte()) * 97 % Int(st.st_size)))
                    }
                    close(fd)
                }
            }
            var loaded: OpaquePointer?
            if checked(aecv_model_load(path, &loaded), "load") == 0 {
                let target = Int(program.byte() % 4)
                aecv_model_free(slots[target]); slots[target] = loaded
            }
        case 6:  // free, keeping the pointer to try it again later
            if let m = model { aecv_model_free(m); stale.append(m); slots[slot] = nil }
        case 7:  // a stale handle must be refused, never dereferenced
            if let m = stale.last, !slots.contains(where: { $0 == m }) {
                var loss: Float = 0
                let x = Buffer(64, fill: { _ in 0.5 })
                precondition(aecv_model_train_step(m, x.pointer, nil, 1, &loss) == 1, "a freed handle was not refused")
            }
        case 8:
            let n = Int32(bitPattern: UInt32(program.byte()) | (program.byte() > 200 ? 0xFFFF_FF00 : 0))
            _ = checked(aecv_set_num_threads(n == 0 ? 0 : (n < 0 ? n : Int32(n % 5))), "set_num_threads")
        case 9:  // set parameters: refused ones leave the model as it was
            let count = program.count(Int(aecv_model_parameter_count(model)) + 2)
            let values = Buffer(count, fill: { _ in program.float() })
            let before = parameters(model)
            if checked(aecv_model_set_parameters(model, values.pointer, count), "set_parameters") != 0 {
                precondition(sameBits(before, parameters(model)), "refused set_parameters changed the model")
            }
        case 10:  // anomaly scores, calibration, predict on possibly larger images
            let requested = program.count(3)
            let grow = UInt(program.byte() % 5)
            let spec = specShape(model)
            let h = UInt(spec.1) + grow, w = UInt(spec.2) + grow
            let (batch, x) = batchInputs(requested, perExample: UInt(spec.0) * h * w, &program)
            let scores = Buffer(program.count(4), fill: { _ in 0 })
            var flags = [UInt8](repeating: 0, count: scores.count)
            switch program.byte() % 3 {
            case 0:
                _ = checked(aecv_model_anomaly_calibrate(model, x.pointer, batch, h, w, Int32(program.byte() % 4),
                                                         Int32(program.byte() % 4), Double(program.float()),
                                                         UInt32(program.byte() % 6), Double(program.float()), nil, nil), "calibrate")
            case 1:
                _ = checked(aecv_model_anomaly_image_scores(model, x.pointer, batch, h, w, Int32(program.byte() % 4),
                                                            Int32(program.byte() % 4), Double(program.float()),
                                                            UInt32(program.byte() % 6), scores.pointer, UInt(scores.count)), "image_scores")
            default:
                _ = checked(flags.withUnsafeMutableBufferPointer {
                    aecv_model_anomaly_predict(model, x.pointer, batch, h, w, scores.pointer, $0.baseAddress, UInt(scores.count))
                }, "predict")
            }
        default:  // evaluate
            let (batch, x) = batchInputs(program.count(4), perExample: UInt(max(1, inputSize)), &program)
            var loss: Float = 0
            _ = checked(aecv_model_evaluate(model, x.pointer, nil, batch, &loss), "evaluate")
        }
    }
    return 0
}

/// (C, H, W) of a live model from its spec's "input", or (1, 1, 1).
private func specShape(_ model: OpaquePointer?) -> (Int, Int, Int) {
    let n = aecv_model_spec(model, nil, 0)
    guard n > 0 else { return (1, 1, 1) }
    var text = [CChar](repeating: 0, count: Int(n) + 1)
    _ = aecv_model_spec(model, &text, n + 1)
    guard let spec = try? JSONValue.parse(String(cString: text)), let input = spec["input"],
          let c = input[0]?.asInt, let h = input[1]?.asInt, let w = input[2]?.asInt else { return (1, 1, 1) }
    return (Int(c), Int(h), Int(w))
}
