// aecv_model_export_safetensors / aecv_model_import_safetensors (include/aecv.h): parameters to
// and from safetensors files named as the PyTorch state_dict (docs/model-format.md). Same
// validation rules as Model+CAPI.swift; the import reads and decodes the file before taking the
// model's lock, so a slow disk does not block other calls on the model.
import AECV

@_cdecl("aecv_model_export_safetensors")
public func aecv_model_export_safetensors(_ model: OpaquePointer?,
                                          _ path: UnsafePointer<CChar>?) -> Int32 {
    withStatus("aecv_model_export_safetensors") {
        let handle = try modelHandle(model)
        let path = try pathArgument(path)
        // Copy the parameters under the lock, write the file without it.
        let file = handle.withLocked { $0.exportSafeTensors() }
        try file.write(to: path)
    }
}

@_cdecl("aecv_model_import_safetensors")
public func aecv_model_import_safetensors(_ model: OpaquePointer?,
                                          _ path: UnsafePointer<CChar>?) -> Int32 {
    withStatus("aecv_model_import_safetensors") {
        let handle = try modelHandle(model)
        let path = try pathArgument(path)
        let file = try SafeTensors.read(
            path: path, maxBytes: SafeTensors.importLimit(parameterCount: handle.parameterCount))
        try handle.withLocked { try $0.importSafeTensors(file) }
    }
}
