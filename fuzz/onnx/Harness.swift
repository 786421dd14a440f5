// libFuzzer entry point for the ONNX parser (Serialization/ONNX): the protobuf reader, the
// ModelProto subset, and the import that turns a graph into a model. Compiled like
// fuzz/Harness.swift (together with the core as one module, -sanitize=fuzzer,address) into
// its own binary by `make fuzz-onnx` (fuzz/onnx/run.sh); seeds in fuzz/corpus/onnx.
//
// Every input must be refused with an AECVError or accepted; a crash, a trap, an ASan report or
// a leak is a bug. Invariants checked here trap on purpose (so the fuzzer reports them):
// - a decoded model re-encodes to bytes that decode and re-encode to the same bytes (the writer
//   and reader agree; bytes, not ==, because NaN weights are not == to themselves);
// - an imported model runs a reconstruction, and its own export imports again.

#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    guard let model = try? ONNXProto.decode(bytes) else { return 0 }
    let encoded = ONNXProto.encode(model)
    let again = try! ONNXProto.decode(encoded)
    precondition(ONNXProto.encode(again) == encoded, "ONNX re-encoding changed the model")
    guard let imported = try? Autoencoder.importONNX(bytes: bytes, overridesJSON: nil),
          imported.parameterCount <= 200_000, imported.inputSize <= 4096 else { return 0 }
    _ = try? imported.reconstruct([Float](repeating: 0.5, count: imported.inputSize))
    let exported = try! imported.onnxModel(part: .autoencoder)
    _ = try! Autoencoder.importONNX(bytes: ONNXProto.encode(exported), overridesJSON: nil)
    return 0
}
