import AECV

// Conditional generation (the cvae preset): labeled training and per-class sampling.

@_cdecl("aecv_model_train_step_labeled")
public func aecv_model_train_step_labeled(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                          _ labels: UnsafePointer<Int32>?, _ batch: UInt,
                                          _ outLoss: UnsafeMutablePointer<Float>?) -> Int32 {
    trainingBatchCall("aecv_model_train_step_labeled", model, inputs, nil, batch, outLoss) { m, x, _, n in
        guard let labels else { throw AECVError.invalidArgument("labels: NULL") }
        // int32 has the alignment of float, so the float check applies.
        try checkAlignment(labels, name: "labels")
        return try m.trainStep(inputs: x, labels: UnsafeBufferPointer(start: labels, count: n), batch: n)
    }
}

@_cdecl("aecv_model_sample_class")
public func aecv_model_sample_class(_ model: OpaquePointer?, _ classIndex: Int32, _ count: UInt, _ seed: UInt64,
                                    _ outImages: UnsafeMutablePointer<Float>?, _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_sample_class") {
        let handle = try modelHandle(model)
        guard outImages != nil else { throw AECVError.invalidArgument("out_images: NULL") }
        let needed = try floatCount(batch: count, batchName: "count", perExample: handle.inputSize, buffer: "out_images")
        let images = try outputBuffer(outImages, name: "out_images", capacity: capacity, needed: needed,
                                      batch: count, batchName: "count")
        try handle.withLocked { try $0.sample(classIndex: Int(classIndex), count: Int(count), seed: seed, into: images) }
    }
}
