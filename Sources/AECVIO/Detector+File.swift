import AECVKernels
import AECVTasks

/// Detector files (".aecvd"): a `SectionedFile` with magic "AECVDETF", format 1.0.
///   "DSPC" required  the detector spec, JSON (filled: every default present; keys added later
///                    are read with the behavior of files that lack them, see `init(fileJSON:)`)
///   "PARM" required  backbone then head tensors (`TensorListCoding`), names as in `parameters()`
///   "BUFF" required, only when the backbone has BatchNorm: its running statistics, names as in
///                    `buffers()` (marked required so that a reader without it refuses the file
///                    instead of detecting with fresh statistics)
/// Optimizer state is not stored: a loaded detector detects exactly as saved; further training
/// starts with fresh optimizer moments.
extension Detector {
    static let fileMagic: [UInt8] = Array("AECVDETF".utf8)

    public func save(to path: String) throws {
        try MemoryCheck.requireSaving("the detector", floats: store.count + store.bufferCount, to: path)
        var file = SectionedFile()
        file.sections.append(.init(tag: "DSPC", required: true, payload: Array(spec.jsonString().utf8)))
        var w = ByteWriter()
        TensorListCoding.write(parameters().map { ($0.name, $0.tensor.shape, $0.tensor.values) }, to: &w)
        file.sections.append(.init(tag: "PARM", required: true, payload: w.bytes))
        let buffers = self.buffers()
        if !buffers.isEmpty {
            var b = ByteWriter()
            TensorListCoding.write(buffers.map { ($0.name, $0.tensor.shape, $0.tensor.values) }, to: &b)
            file.sections.append(.init(tag: "BUFF", required: true, payload: b.bytes))
        }
        try FileIO.writeAtomically(path: path, bytes: file.encode(magic: Detector.fileMagic, major: 1, minor: 0))
    }

    /// Loads a detector written by `save(to:)`; every tensor must match the architecture its spec
    /// builds (FORMAT otherwise).
    public convenience init(contentsOf path: String) throws {
        let bytes = try FileIO.readAll(path: path, maxBytes: ModelFile.maxBytes)
        let name = "detector file \(path)"
        let file = try SectionedFile.decode(bytes, magic: Detector.fileMagic, major: 1, known: ["DSPC", "PARM", "BUFF"],
                                            name: name, what: "libaecv detector file")
        guard let s = file.section("DSPC"), let p = file.section("PARM") else {
            throw AECVError.format("\(name): a required section is missing")
        }
        let spec: DetectorSpec
        do { spec = try DetectorSpec(fileJSON: String(decoding: s.payload, as: UTF8.self)) } catch let e as AECVError {
            throw AECVError.format("\(name): invalid spec: \(e.message)")
        }
        try self.init(spec: spec)
        var r = ByteReader(p.payload, name: name)
        let parameters = try TensorListCoding.read(&r, name: name)
        var buffers: [(name: String, shape: [Int], values: [Float])]? = nil
        if let b = file.section("BUFF") {
            var rb = ByteReader(b.payload, name: name)
            buffers = try TensorListCoding.read(&rb, name: name)
        }
        if (buffers?.count ?? 0) != store.bufferEntries.count {
            throw AECVError.format("\(name): \(buffers?.count ?? 0) buffer tensors (running statistics), but its spec builds a detector with \(store.bufferEntries.count)")
        }
        try core.restore(parameters: parameters, buffers: buffers, file: name, owner: "detector")
    }
}
