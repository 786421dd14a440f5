import AECVKernels
import AECVNN
import AECVModels

/// The libaecv model file (".aecv"), format 1.1: a `SectionedFile` with magic "AECVMODL".
///
/// Sections (unknown ones are skipped unless marked required, which is an error):
///   "SPEC" required  the filled model spec as UTF-8 JSON
///   "PARM" required  the parameters as a tensor list (`TensorListCoding`), in the model's order
///   "BUFS" optional  the non-trainable buffers (running statistics) as a tensor list, in the
///                    model's order (new in 1.1; written only when the model has buffers, so a
///                    model without them writes a file that 1.0 readers also read)
///   "OPTM" optional  u64 step, f32 learning rate, u32 buffer count; per buffer: u16 name length,
///                    name, u64 float count, float32 values (Adam: "adam.m", "adam.v")
///   "RAND" optional  4 × u64: the model's generator state
///   "HIST" optional  u32 count, count × f32: mean training loss per epoch
///   "ANOM" optional  the anomaly calibration (`AnomalyCalibration`) as UTF-8 JSON; written only
///                    when the model has one, and skipped by readers that predate it
///
/// A reader checks the CRC first, then every length against what is left before it allocates, then
/// the tensors' names and shapes against the model its spec builds. docs/model-format.md has the
/// byte-level description.
struct ModelFile {
    static let magic: [UInt8] = Array("AECVMODL".utf8)
    static let major: UInt16 = 1
    /// The newest minor version this code writes: 1.1 when the model has buffers (a BUFS
    /// section); a model without them is written as 1.0, byte for byte what 1.0 code wrote.
    static let minor: UInt16 = 1
    /// Largest model file accepted (the largest model is 1 GiB of parameters plus Adam state).
    static let maxBytes = 4 << 30

    var spec: ModelSpec
    var tensors: [(name: String, shape: [Int], values: [Float])] = []
    /// nil when the file has no BUFS section (format 1.0, or a model without buffers).
    var buffers: [(name: String, shape: [Int], values: [Float])]?
    var optimizerStep = 0
    var learningRate: Float?
    var optimizerBuffers: [(name: String, values: [Float])] = []
    var randomState: (UInt64, UInt64, UInt64, UInt64)?
    var history: [Float] = []
    var anomalyCalibration: AnomalyCalibration?

    init(spec: ModelSpec) { self.spec = spec }

    /// Snapshot of a model (parameters, optimizer state, generator, history).
    init(model: Autoencoder) {
        spec = model.spec
        let store = model.store
        tensors = model.parameters().map { ($0.name, $0.tensor.shape, $0.tensor.values) }
        if store.bufferCount > 0 { buffers = model.buffers().map { ($0.name, $0.tensor.shape, $0.tensor.values) } }
        optimizerStep = model.optimizer.step
        learningRate = model.optimizer.learningRate
        for b in model.optimizer.stateBuffers {
            optimizerBuffers.append((b.name, Array(UnsafeBufferPointer(start: b.pointer, count: store.count))))
        }
        randomState = model.random.state
        history = model.history
        anomalyCalibration = model.anomalyCalibration
    }

    // MARK: Writing

    func encode() -> [UInt8] {
        var file = SectionedFile()
        func section(_ tag: String, required: Bool, _ body: (inout ByteWriter) -> Void) {
            var w = ByteWriter()
            body(&w)
            file.sections.append(.init(tag: tag, required: required, payload: w.bytes))
        }
        section("SPEC", required: true) { $0.writeString(spec.jsonString()) }
        section("PARM", required: true) { TensorListCoding.write(tensors, to: &$0) }
        if let buffers { section("BUFS", required: false) { TensorListCoding.write(buffers, to: &$0) } }
        section("OPTM", required: false) { s in
            s.writeUInt64(UInt64(optimizerStep))
            s.writeFloat(learningRate ?? 0)
            s.writeUInt32(UInt32(optimizerBuffers.count))
            for b in optimizerBuffers {
                TensorListCoding.writeName(b.name, to: &s)
                s.writeUInt64(UInt64(b.values.count))
                s.writeFloats(b.values)
            }
        }
        section("RAND", required: false) { s in
            let r = randomState ?? (0, 0, 0, 0)
            s.writeUInt64(r.0); s.writeUInt64(r.1); s.writeUInt64(r.2); s.writeUInt64(r.3)
        }
        section("HIST", required: false) { s in
            s.writeUInt32(UInt32(history.count))
            s.writeFloats(history)
        }
        if let anomalyCalibration {
            section("ANOM", required: false) { $0.writeString(anomalyCalibration.json.serialized(pretty: false)) }
        }
        return file.encode(magic: ModelFile.magic, major: ModelFile.major, minor: buffers == nil ? 0 : ModelFile.minor)
    }

    func write(path: String) throws {
        try FileIO.writeAtomically(path: path, bytes: encode())
    }

    // MARK: Reading

    static func read(path: String) throws -> ModelFile {
        let bytes = try FileIO.readAll(path: path, maxBytes: maxBytes)
        // Decoding copies the values out (about the file's size again), and the model built from
        // them needs as much once more.
        try MemoryCheck.require(try MemoryCheck.bytes(bytes.count, 2, "loading \(path)"),
                                "loading model file \(path) (decoded values and model)")
        return try decode(bytes, name: "model file \(path)")
    }

    static func decode(_ bytes: [UInt8], name: String = "model file") throws -> ModelFile {
        let container = try SectionedFile.decode(bytes, magic: magic, major: major,
                                                 known: ["SPEC", "PARM", "BUFS", "OPTM", "RAND", "HIST", "ANOM"],
                                                 name: name, what: "libaecv model file")
        guard let specSection = container.section("SPEC") else {
            throw AECVError.format("\(name): the SPEC section is missing")
        }
        var specReader = ByteReader(specSection.payload, name: "\(name) SPEC")
        let text = try specReader.readString(byteCount: specSection.payload.count)
        let spec: ModelSpec
        do { spec = try ModelSpec(fileJSON: text) } catch let e as AECVError {
            throw AECVError.format("\(name): invalid spec: \(e.message)")
        }
        var file = ModelFile(spec: spec)
        guard container.section("PARM") != nil else { throw AECVError.format("\(name): the PARM section is missing") }
        for section in container.sections where section.tag != "SPEC" {
            var s = ByteReader(section.payload, name: "\(name) \(section.tag)")
            switch section.tag {
            case "PARM":
                file.tensors = try TensorListCoding.read(&s, name: name)
            case "BUFS":
                file.buffers = try TensorListCoding.read(&s, name: name)
            case "OPTM":
                file.optimizerStep = Int(clamping: try s.readUInt64())
                file.learningRate = try s.readFloat()
                let count = try s.readUInt32()
                if count > 16 { throw AECVError.format("\(name): \(count) optimizer buffers is implausible") }
                for _ in 0..<count {
                    let bufferName = try TensorListCoding.readName(&s)
                    let n = try s.readUInt64()
                    guard n <= UInt64(s.remaining / 4) else {
                        throw AECVError.format("\(name): optimizer buffer \(bufferName) is larger than the file")
                    }
                    file.optimizerBuffers.append((bufferName, try s.readFloats(count: Int(n))))
                }
            case "RAND":
                file.randomState = (try s.readUInt64(), try s.readUInt64(), try s.readUInt64(), try s.readUInt64())
            case "HIST":
                let n = try s.readUInt32()
                guard Int(n) <= s.remaining / 4 else {
                    throw AECVError.format("\(name): history of \(n) entries is larger than its section")
                }
                file.history = try s.readFloats(count: Int(n))
            case "ANOM":
                let text = try s.readString(byteCount: section.payload.count)
                let value: JSONValue
                do { value = try JSONValue.parse(text) } catch {
                    throw AECVError.format("\(name): anomaly calibration: not JSON (\(error))")
                }
                file.anomalyCalibration = try AnomalyCalibration(json: value, name: name)
            default: break
            }
            if !s.isAtEnd { throw AECVError.format("\(name): section \(section.tag) has \(s.remaining) trailing bytes") }
        }
        try file.checkTensorsMatchSpec(name: name)
        return file
    }

    /// The tensors must be exactly those of the network the spec builds (names, shapes, order).
    /// Checked while decoding, BEFORE a model is allocated: otherwise a file of a few bytes whose
    /// spec names a huge model (2^28 parameters) makes the loader allocate gigabytes (parameters,
    /// gradients, optimizer state) before it finds the parameters missing. Planning the network
    /// allocates no parameter memory.
    func checkTensorsMatchSpec(name: String) throws {
        let expected: [(name: String, shape: [Int])]
        let expectedBuffers: [(name: String, shape: [Int])]
        do {
            let network = try NetworkFactory.make(spec.filled())
            (expected, expectedBuffers) = (network.parameterShapes, network.bufferShapes)
        } catch let e as AECVError {
            throw AECVError.format("\(name): invalid spec: \(e.message)")
        }
        if tensors.count != expected.count {
            throw AECVError.format("\(name): \(tensors.count) tensors, but its spec builds a model with \(expected.count)")
        }
        for (t, e) in zip(tensors, expected) where t.name != e.name || t.shape != e.shape {
            throw AECVError.format("\(name): tensor \(t.name) \(t.shape) does not match the model's \(e.name) \(e.shape)")
        }
        if let buffers {
            if buffers.count != expectedBuffers.count {
                throw AECVError.format("\(name): \(buffers.count) buffers, but its spec builds a model with \(expectedBuffers.count)")
            }
            for (t, e) in zip(buffers, expectedBuffers) where t.name != e.name || t.shape != e.shape {
                throw AECVError.format("\(name): buffer \(t.name) \(t.shape) does not match the model's \(e.name) \(e.shape)")
            }
        }
    }

    /// Copies the file's state into a model built from the same spec. Every tensor must be present
    /// with the model's shape; any mismatch is a format error and leaves the model untouched.
    func restore(into model: Autoencoder) throws {
        let store = model.store
        // Parameters and buffers are checked here and written only after every other check.
        try TrainableCore.check(parameters: tensors, buffers: buffers, against: store, file: "model file", owner: "model")
        let state = model.optimizer.stateBuffers
        if !optimizerBuffers.isEmpty {
            if optimizerBuffers.count != state.count
                || zip(optimizerBuffers, state).contains(where: { $0.name != $1.name || $0.values.count != store.count }) {
                throw AECVError.format("model file: optimizer state does not match the spec's optimizer")
            }
        }
        if let lr = learningRate, !(lr.isFinite && lr > 0) {
            throw AECVError.format("model file: learning rate \(lr) is invalid")
        }
        model.core.assign(parameters: tensors, buffers: buffers)
        for (b, target) in zip(optimizerBuffers, state) {
            b.values.withUnsafeBufferPointer { target.pointer.update(from: $0.baseAddress!, count: store.count) }
        }
        model.optimizer.restore(step: optimizerStep)
        if let lr = learningRate { model.optimizer.learningRate = lr }
        if let r = randomState { model.random = RandomSource(state: r) }
        model.history = history
        model.anomalyCalibration = anomalyCalibration
    }
}
