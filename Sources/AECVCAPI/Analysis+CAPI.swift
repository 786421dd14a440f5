// The analysis entry points added for the autoencoder family (issue 4): code sparsity and
// interpolation between two images. Same validation rules as Model+CAPI.swift.
import AECV

@_cdecl("aecv_model_code_sparsity")
public func aecv_model_code_sparsity(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?,
                                     _ batch: UInt, _ threshold: Float,
                                     _ outFraction: UnsafeMutablePointer<Float>?) -> Int32 {
    withStatus("aecv_model_code_sparsity") {
        let handle = try modelHandle(model)
        let count = try floatCount(batch: batch, perExample: handle.inputSize, buffer: "inputs")
        let inputs = try inputBuffer(inputs, name: "inputs", count: count)
        guard let outFraction else { throw AECVError.invalidArgument("out_fraction: NULL") }
        try checkAlignment(outFraction, name: "out_fraction")
        guard threshold.isFinite, threshold >= 0 else {
            throw AECVError.invalidArgument("threshold: must be a finite number >= 0, got \(threshold)")
        }
        let fraction = try handle.withLocked {
            try $0.codeSparsity(inputs: inputs, batch: Int(batch), threshold: threshold)
        }
        outFraction.pointee = fraction
    }
}

@_cdecl("aecv_model_interpolate")
public func aecv_model_interpolate(_ model: OpaquePointer?, _ inputA: UnsafePointer<Float>?,
                                   _ inputB: UnsafePointer<Float>?, _ steps: UInt,
                                   _ outImages: UnsafeMutablePointer<Float>?,
                                   _ capacity: UInt) -> Int32 {
    withStatus("aecv_model_interpolate") {
        let handle = try modelHandle(model)
        guard steps >= 2, steps <= 65_536 else {
            throw AECVError.invalidArgument("steps: must be in 2...65536, got \(steps)")
        }
        let a = try inputBuffer(inputA, name: "input_a", count: handle.inputSize)
        let b = try inputBuffer(inputB, name: "input_b", count: handle.inputSize)
        let needed = try floatCount(batch: steps, batchName: "steps", perExample: handle.inputSize,
                                    buffer: "out_images")
        let images = try outputBuffer(outImages, name: "out_images", capacity: capacity,
                                      needed: needed, batch: steps, batchName: "steps")
        try withDisjointInputs(a, from: images) { a in
            try withDisjointInputs(b, from: images) { b in
                try handle.withLocked { try $0.interpolate(from: a, to: b, steps: Int(steps), into: images) }
            }
        }
    }
}
