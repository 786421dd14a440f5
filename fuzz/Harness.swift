// libFuzzer entry points for libaecv's parsers of untrusted input. Compiled by fuzz/run.sh
// TOGETHER with the sources of the AECV module (as one module, with -sanitize=fuzzer,address),
// so the harness reaches internal API such as ModelFile.decode without exporting anything
// from libaecv.so. One binary, three targets, chosen by AECV_FUZZ_TARGET:
//
//   model_file   ModelFile.decode on the input as is, and on the input with its CRC-32
//                recomputed (otherwise almost every mutation stops at the checksum); a file
//                that decodes is restored into a model built from its spec, as
//                aecv_model_load does.
//   safetensors  SafeTensors.decode, then an import into a tiny model (the path of
//                aecv_model_import_safetensors after the file is read).
//   spec         ModelSpec(json:) on the input as UTF-8; a valid spec of a small model is
//                built and runs a training step, a reconstruction and a save/load round trip in
//                memory (ModelFile.encode/decode).
//
// Every input must be refused with an AECVError or accepted; a crash, a trap, an ASan report or
// a leak is a bug. Invariants checked here trap on purpose (so the fuzzer reports them).

#if canImport(Glibc)
import Glibc
#endif

private enum Target { case modelFile, safeTensors, spec }
private nonisolated(unsafe) var target = Target.modelFile

/// The model safetensors inputs are imported into (its tensors are the seed corpus's names).
private nonisolated(unsafe) var tinyModel: Autoencoder?

let tinySpec = """
{"preset":"custom","input":[1,2,2],"encoder":[{"type":"flatten"},{"type":"dense","out":2},\
{"type":"relu"}],"decoder":[{"type":"dense","out":4},{"type":"sigmoid"},\
{"type":"unflatten","shape":[1,2,2]}]}
"""

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = getenv("AECV_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    switch name {
    case "model_file": target = .modelFile
    case "safetensors": target = .safeTensors
    case "spec": target = .spec
    default:
        fputs("set AECV_FUZZ_TARGET to model_file, safetensors or spec (got \"\(name)\")\n", stderr)
        exit(2)
    }
    tinyModel = try! Autoencoder(specJSON: tinySpec)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case .modelFile:
        loadModelFile(bytes)
        if bytes.count >= 20 { loadModelFile(withValidChecksum(bytes)) }
    case .safeTensors:
        importSafeTensors(bytes)
    case .spec:
        buildSpec(bytes)
    }
    return 0
}

/// The bytes with their last 4 replaced by the CRC-32 of the rest.
func withValidChecksum(_ bytes: [UInt8]) -> [UInt8] {
    var fixed = bytes
    let end = fixed.count - 4
    let crc = fixed.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
    for k in 0..<4 { fixed[end + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
    return fixed
}

/// What aecv_model_load does after reading the file.
func loadModelFile(_ bytes: [UInt8]) {
    guard let file = try? ModelFile.decode(bytes) else { return }
    guard let model = try? Autoencoder(spec: file.spec) else { return }
    try? file.restore(into: model)
}

func importSafeTensors(_ bytes: [UInt8]) {
    guard let file = try? SafeTensors.decode(bytes: bytes), let model = tinyModel else { return }
    let before = model.parameters().map(\.tensor.values)
    do {
        try model.importSafeTensors(file)
    } catch {
        // A refused import must leave the model bit-identical.
        let after = model.parameters().map(\.tensor.values)
        precondition(before.elementsEqual(after) { a, b in
            a.elementsEqual(b) { $0.bitPattern == $1.bitPattern }
        }, "a refused import changed the model")
    }
}

func buildSpec(_ bytes: [UInt8]) {
    guard let spec = try? ModelSpec(json: String(decoding: bytes, as: UTF8.self)),
          let filled = try? spec.filled(),
          let network = try? NetworkFactory.make(filled) else { return }
    // Keep each execution cheap: build and run only small models.
    let parameters = network.parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) }
    guard parameters <= 200_000, network.inputSize <= 4096, network.latentSize <= 4096,
          let model = try? Autoencoder(spec: filled) else { return }
    let x = [Float](repeating: 0.5, count: 2 * model.inputSize)
    _ = try? model.trainStep(inputs: x)
    _ = try? model.reconstruct(x)
    let encoded = ModelFile(model: model).encode()
    let decoded = try! ModelFile.decode(encoded)      // our own output must always load
    let copy = try! Autoencoder(spec: decoded.spec)
    try! decoded.restore(into: copy)
}
