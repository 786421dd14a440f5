/// The libaecv model file (".aecv"), format 1.0. All integers little-endian.
///
///     offset  size  field
///     0       8     magic "AECVMODL"
///     8       2     format major (1)   — a reader refuses a larger major
///     10      2     format minor (0)   — a reader accepts any minor of its major
///     12      4     section count S (≤ 64)
///     16      …     S sections: tag (4 ASCII bytes), flags u32 (bit 0: required), length u64, payload
///     end−4   4     CRC-32 (IEEE, as zlib) of every byte before it
///
/// Sections (unknown ones are skipped unless marked required, which is an error):
///   "SPEC" required  the filled model spec as UTF-8 JSON
///   "PARM" required  u32 tensor count; per tensor: u16 name length, name (UTF-8), u8 rank,
///                    rank × u64 dims, then the float32 values
///   "OPTM" optional  u64 step, f32 learning rate, u32 buffer count; per buffer: u16 name length,
///                    name, u64 float count, float32 values (Adam: "adam.m", "adam.v")
///   "RAND" optional  4 × u64: the model's generator state
///   "HIST" optional  u32 count, count × f32: mean training loss per epoch
///
/// A reader checks the CRC first, then every length against what is left before it allocates, then
/// the tensors' names and shapes against the model its spec builds.
struct ModelFile {
    static let magic: [UInt8] = Array("AECVMODL".utf8)
    static let major: UInt16 = 1
    static let minor: UInt16 = 0
    /// Largest model file accepted (the largest model is 1 GiB of parameters plus Adam state).
    static let maxBytes = 4 << 30

    var spec: ModelSpec
    var tensors: [(name: String, shape: [Int], values: [Float])] = []
    var optimizerStep = 0
    var learningRate: Float?
    var optimizerBuffers: [(name: String, values: [Float])] = []
    var randomState: (UInt64, UInt64, UInt64, UInt64)?
    var history: [Float] = []

    init(spec: ModelSpec) { self.spec = spec }

    /// Snapshot of a model (parameters, optimizer state, generator, history).
    init(model: Autoencoder) {
        spec = model.spec
        let store = model.store
        for e in store.entries {
            tensors.append((e.name, e.shape,
                            Array(UnsafeBufferPointer(start: store.parameters + e.offset, count: e.count))))
        }
        optimizerStep = model.optimizer.step
        learningRate = model.optimizer.learningRate
        for b in model.optimizer.stateBuffers {
            optimizerBuffers.append((b.name, Array(UnsafeBufferPointer(start: b.pointer, count: store.count))))
        }
        randomState = model.random.state
        history = model.history
    }

    // MARK: Writing

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + tensors.reduce(0) { $0 + 64 + 4 * $1.values.count }
                           * (1 + optimizerBuffers.count))
        w.writeBytes(ModelFile.magic)
        w.writeUInt16(ModelFile.major)
        w.writeUInt16(ModelFile.minor)
        w.writeUInt32(5)
        section(&w, "SPEC", required: true) { $0.writeString(spec.jsonString()) }
        section(&w, "PARM", required: true) { s in
            s.writeUInt32(UInt32(tensors.count))
            for t in tensors {
                writeName(&s, t.name)
                s.writeUInt8(UInt8(t.shape.count))
                for d in t.shape { s.writeUInt64(UInt64(d)) }
                s.writeFloats(t.values)
            }
        }
        section(&w, "OPTM", required: false) { s in
            s.writeUInt64(UInt64(optimizerStep))
            s.writeFloat(learningRate ?? 0)
            s.writeUInt32(UInt32(optimizerBuffers.count))
            for b in optimizerBuffers {
                writeName(&s, b.name)
                s.writeUInt64(UInt64(b.values.count))
                s.writeFloats(b.values)
            }
        }
        section(&w, "RAND", required: false) { s in
            let r = randomState ?? (0, 0, 0, 0)
            s.writeUInt64(r.0); s.writeUInt64(r.1); s.writeUInt64(r.2); s.writeUInt64(r.3)
        }
        section(&w, "HIST", required: false) { s in
            s.writeUInt32(UInt32(history.count))
            s.writeFloats(history)
        }
        let crc = w.bytes.withUnsafeBytes { CRC32.checksum($0) }
        w.writeUInt32(crc)
        return w.bytes
    }

    private func writeName(_ w: inout ByteWriter, _ name: String) {
        let bytes = Array(name.utf8.prefix(Int(UInt16.max)))
        w.writeUInt16(UInt16(bytes.count))
        w.writeBytes(bytes)
    }

    private func section(_ w: inout ByteWriter, _ tag: String, required: Bool,
                         _ body: (inout ByteWriter) -> Void) {
        var payload = ByteWriter()
        body(&payload)
        w.writeString(tag)
        w.writeUInt32(required ? 1 : 0)
        w.writeUInt64(UInt64(payload.count))
        w.writeBytes(payload.bytes)
    }

    func write(path: String) throws {
        try FileIO.writeAtomically(path: path, bytes: encode())
    }

    // MARK: Reading

    static func read(path: String) throws -> ModelFile {
        let bytes = try FileIO.readAll(path: path, maxBytes: maxBytes)
        return try decode(bytes, name: "model file \(path)")
    }

    static func decode(_ bytes: [UInt8], name: String = "model file") throws -> ModelFile {
        if bytes.count < 20 {
            throw AECVError.format("\(name): \(bytes.count) bytes is too short to be a model file")
        }
        if Array(bytes[0..<8]) != magic {
            throw AECVError.format("\(name): not a libaecv model file (bad magic)")
        }
        var r = ByteReader(bytes, name: name)
        try r.skip(8)
        let fileMajor = try r.readUInt16()
        let fileMinor = try r.readUInt16()
        if fileMajor > major {
            throw AECVError.format("\(name): format version \(fileMajor).\(fileMinor) needs a newer libaecv (this one reads format \(major).x)")
        }
        if fileMajor < 1 {
            throw AECVError.format("\(name): format version \(fileMajor).\(fileMinor) is not valid")
        }
        let stored = UInt32(bytes[bytes.count - 4]) | UInt32(bytes[bytes.count - 3]) << 8
            | UInt32(bytes[bytes.count - 2]) << 16 | UInt32(bytes[bytes.count - 1]) << 24
        let computed = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 4)])) }
        if stored != computed {
            throw AECVError.format("\(name): checksum mismatch (file is corrupted or truncated)")
        }
        let sectionCount = try r.readUInt32()
        if sectionCount > 64 { throw AECVError.format("\(name): \(sectionCount) sections is more than the 64 allowed") }
        let end = bytes.count - 4
        var specText: String?
        var file: ModelFile?
        var pending: [(tag: String, reader: ByteReader)] = []
        for _ in 0..<sectionCount {
            let tagBytes = try r.readBytes(count: 4)
            let tag = String(decoding: tagBytes, as: UTF8.self)
            let flags = try r.readUInt32()
            let length = try r.readUInt64()
            guard length <= UInt64(end - r.offset) else {
                throw AECVError.format("\(name): section \(tag) length \(length) runs past the end of the file")
            }
            let payload = try r.readBytes(count: Int(length))
            switch tag {
            case "SPEC":
                var s = ByteReader(payload, name: "\(name) SPEC")
                specText = try s.readString(byteCount: payload.count)
            case "PARM", "OPTM", "RAND", "HIST":
                pending.append((tag, ByteReader(payload, name: "\(name) \(tag)")))
            default:
                if flags & 1 != 0 {
                    throw AECVError.format("\(name): required section \"\(tag)\" is unknown to this libaecv")
                }
            }
        }
        if r.offset != end {
            throw AECVError.format("\(name): \(end - r.offset) unexpected bytes after the last section")
        }
        guard let text = specText else { throw AECVError.format("\(name): the SPEC section is missing") }
        let spec: ModelSpec
        do { spec = try ModelSpec(json: text) } catch let e as AECVError {
            throw AECVError.format("\(name): invalid spec: \(e.message)")
        }
        file = ModelFile(spec: spec)
        var sawParameters = false
        for (tag, var s) in pending {
            switch tag {
            case "PARM":
                sawParameters = true
                let count = try s.readUInt32()
                if count > 100_000 { throw AECVError.format("\(name): \(count) tensors is implausible") }
                for _ in 0..<count {
                    let tensorName = try readName(&s)
                    let rank = Int(try s.readUInt8())
                    if rank > 8 { throw AECVError.format("\(name): tensor \(tensorName) has rank \(rank)") }
                    var shape: [Int] = []
                    var total = 1
                    for _ in 0..<rank {
                        let d = try s.readUInt64()
                        guard d <= UInt64(Int32.max) else {
                            throw AECVError.format("\(name): tensor \(tensorName) has dimension \(d)")
                        }
                        shape.append(Int(d))
                        let (t, o) = total.multipliedReportingOverflow(by: Int(d))
                        if o || t > s.remaining / 4 {
                            throw AECVError.format("\(name): tensor \(tensorName) of shape \(shape)… is larger than the file")
                        }
                        total = t
                    }
                    file!.tensors.append((tensorName, shape, try s.readFloats(count: total)))
                }
            case "OPTM":
                file!.optimizerStep = Int(clamping: try s.readUInt64())
                file!.learningRate = try s.readFloat()
                let count = try s.readUInt32()
                if count > 16 { throw AECVError.format("\(name): \(count) optimizer buffers is implausible") }
                for _ in 0..<count {
                    let bufferName = try readName(&s)
                    let n = try s.readUInt64()
                    guard n <= UInt64(s.remaining / 4) else {
                        throw AECVError.format("\(name): optimizer buffer \(bufferName) is larger than the file")
                    }
                    file!.optimizerBuffers.append((bufferName, try s.readFloats(count: Int(n))))
                }
            case "RAND":
                file!.randomState = (try s.readUInt64(), try s.readUInt64(), try s.readUInt64(), try s.readUInt64())
            case "HIST":
                let n = try s.readUInt32()
                guard Int(n) <= s.remaining / 4 else {
                    throw AECVError.format("\(name): history of \(n) entries is larger than its section")
                }
                file!.history = try s.readFloats(count: Int(n))
            default: break
            }
            if !s.isAtEnd { throw AECVError.format("\(name): section \(tag) has \(s.remaining) trailing bytes") }
        }
        if !sawParameters { throw AECVError.format("\(name): the PARM section is missing") }
        return file!
    }

    private static func readName(_ r: inout ByteReader) throws -> String {
        let n = try r.readUInt16()
        return try r.readString(byteCount: Int(n))
    }

    /// Copies the file's state into a model built from the same spec. Every tensor must be present
    /// with the model's shape; any mismatch is a format error and leaves the model untouched.
    func restore(into model: Autoencoder) throws {
        let store = model.store
        if tensors.count != store.entries.count {
            throw AECVError.format("model file: \(tensors.count) tensors, but its spec builds a model with \(store.entries.count)")
        }
        for (t, e) in zip(tensors, store.entries) {
            if t.name != e.name || t.shape != e.shape {
                throw AECVError.format("model file: tensor \(t.name) \(t.shape) does not match the model's \(e.name) \(e.shape)")
            }
            if !t.values.allSatisfy({ $0.isFinite }) {
                throw AECVError.format("model file: tensor \(t.name) contains NaN or Inf")
            }
        }
        let buffers = model.optimizer.stateBuffers
        if !optimizerBuffers.isEmpty {
            if optimizerBuffers.count != buffers.count
                || zip(optimizerBuffers, buffers).contains(where: { $0.name != $1.name || $0.values.count != store.count }) {
                throw AECVError.format("model file: optimizer state does not match the spec's optimizer")
            }
        }
        if let lr = learningRate, !(lr.isFinite && lr > 0) {
            throw AECVError.format("model file: learning rate \(lr) is invalid")
        }
        for (t, e) in zip(tensors, store.entries) {
            t.values.withUnsafeBufferPointer { (store.parameters + e.offset).update(from: $0.baseAddress!, count: e.count) }
        }
        for (b, target) in zip(optimizerBuffers, buffers) {
            b.values.withUnsafeBufferPointer { target.pointer.update(from: $0.baseAddress!, count: store.count) }
        }
        model.optimizer.restore(step: optimizerStep)
        if let lr = learningRate { model.optimizer.learningRate = lr }
        if let r = randomState { model.random = RandomSource(state: r) }
        model.history = history
    }
}
