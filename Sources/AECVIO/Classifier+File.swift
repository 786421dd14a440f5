import AECVKernels
import AECVModels
import AECVTasks
import AECVNN

/// Classifier files (".aecvc"): a `SectionedFile` with magic "AECVCLSF", format 1.0.
///   "CSPC" required  the classifier spec, JSON
///   "ASPC" required  the spec of the autoencoder whose encoder it uses, JSON
///   "PARM" required  encoder then head tensors (`TensorListCoding`), names as in `parameters()`
///   "STAT" optional  u64 update count, F × f32 mean, F × f32 mean square (standardization)
/// Optimizer state is not stored: a loaded classifier predicts exactly as saved; further training
/// starts with fresh optimizer moments.
extension Classifier {
    static let fileMagic: [UInt8] = Array("AECVCLSF".utf8)

    /// All parameters as named tensors: the encoder's (named as in the autoencoder), then "head.*".
    public func parameters() -> [(name: String, tensor: Tensor)] { core.parameterTensors() }

    public func save(to path: String) throws {
        try MemoryCheck.requireSaving("the classifier", floats: store.count + store.bufferCount, to: path)
        var file = SectionedFile()
        file.sections.append(.init(tag: "CSPC", required: true, payload: Array(spec.jsonString().utf8)))
        file.sections.append(.init(tag: "ASPC", required: true, payload: Array(autoencoderSpec.jsonString().utf8)))
        var w = ByteWriter()
        TensorListCoding.write(parameters().map { ($0.name, $0.tensor.shape, $0.tensor.values) }, to: &w)
        file.sections.append(.init(tag: "PARM", required: true, payload: w.bytes))
        if let standardizer = standardizer {
            var s = ByteWriter()
            let statistics = standardizer.currentStatistics
            s.writeUInt64(UInt64(standardizer.updates))
            s.writeFloats(statistics.mean)
            s.writeFloats(statistics.meanSquare)
            file.sections.append(.init(tag: "STAT", required: false, payload: s.bytes))
        }
        try FileIO.writeAtomically(path: path, bytes: file.encode(magic: Classifier.fileMagic, major: 1, minor: 0))
    }

    /// Loads a classifier written by `save(to:)`; every tensor must match the architecture its
    /// specs build (FORMAT otherwise).
    public convenience init(contentsOf path: String) throws {
        let bytes = try FileIO.readAll(path: path, maxBytes: ModelFile.maxBytes)
        let name = "classifier file \(path)"
        let file = try SectionedFile.decode(bytes, magic: Classifier.fileMagic, major: 1,
                                            known: ["CSPC", "ASPC", "PARM", "STAT"], name: name,
                                            what: "libaecv classifier file")
        guard let c = file.section("CSPC"), let a = file.section("ASPC"), let p = file.section("PARM") else {
            throw AECVError.format("\(name): a required section is missing")
        }
        let spec: ClassifierSpec, autoencoderSpec: ModelSpec
        do {
            spec = try ClassifierSpec(json: String(decoding: c.payload, as: UTF8.self))
            autoencoderSpec = try ModelSpec(fileJSON: String(decoding: a.payload, as: UTF8.self)).filled()
        } catch let e as AECVError {
            throw AECVError.format("\(name): invalid spec: \(e.message)")
        }
        try self.init(autoencoderSpec: autoencoderSpec, spec: spec)
        var r = ByteReader(p.payload, name: name)
        try core.restore(parameters: try TensorListCoding.read(&r, name: name), buffers: nil, file: name, owner: "classifier")
        if let stat = file.section("STAT"), let standardizer = standardizer {
            var s = ByteReader(stat.payload, name: "\(name) STAT")
            let updates = Int(clamping: try s.readUInt64())
            let mean = try s.readFloats(count: featureSize), meanSquare = try s.readFloats(count: featureSize)
            guard s.isAtEnd, (mean + meanSquare).allSatisfy(\.isFinite) else {
                throw AECVError.format("\(name): the STAT section is malformed")
            }
            standardizer.restore(mean: mean, meanSquare: meanSquare, updates: updates)
        }
    }
}
