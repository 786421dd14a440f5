import AECV

// ONNX export and import of autoencoders (the classifier's and detector's exports are in their
// own files, next to their handles).

@_cdecl("aecv_model_export_onnx")
public func aecv_model_export_onnx(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ part: Int32) -> Int32 {
    withStatus("aecv_model_export_onnx") {
        let handle = try modelHandle(model)
        let path = try pathArgument(path)
        guard let p = ONNXPart(rawValue: part) else {
            throw AECVError.invalidArgument("part: \(part) is not one of AECV_PART_AUTOENCODER (0), AECV_PART_ENCODER (1), AECV_PART_DECODER (2)")
        }
        try handle.withLocked { try $0.exportONNX(path: path, part: p) }
    }
}

@_cdecl("aecv_model_import_onnx")
public func aecv_model_import_onnx(_ path: UnsafePointer<CChar>?, _ overridesJSON: UnsafePointer<CChar>?,
                                   _ outModel: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    outModel?.pointee = nil
    return withStatus("aecv_model_import_onnx") {
        let path = try pathArgument(path)
        guard let outModel else { throw AECVError.invalidArgument("out_model: NULL") }
        let overrides = try overridesJSON.map { try specArgument($0) }
        let model = try Autoencoder.importONNX(path: path, overridesJSON: overrides)
        outModel.pointee = ModelHandle(model).retainedPointer()
    }
}
