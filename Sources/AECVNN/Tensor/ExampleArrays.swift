import AECVKernels

/// The number of whole examples of `perExample` floats in `values` (SHAPE otherwise).
package func exampleCount(_ values: [Float], perExample: Int, name: String) throws -> Int {
    if values.isEmpty || values.count % perExample != 0 {
        throw AECVError.shape("\(name): \(values.count) floats is not a whole number of \(perExample)-float examples")
    }
    return values.count / perExample
}

/// Runs a buffer-pointer batch operation on whole examples held in an array: `values` holds
/// n × perExample floats, the result n × outputPerExample. The array conveniences of the public
/// API (encode, decode, reconstruct, predict) are this one wrapper.
package func mapExamples(_ values: [Float], perExample: Int, name: String, outputPerExample: Int,
                 _ body: (UnsafeBufferPointer<Float>, Int, UnsafeMutableBufferPointer<Float>) throws -> Void)
    throws -> [Float] {
    let batch = try exampleCount(values, perExample: perExample, name: name)
    var output = [Float](repeating: 0, count: batch * outputPerExample)
    try values.withUnsafeBufferPointer { x in
        try output.withUnsafeMutableBufferPointer { try body(x, batch, $0) }
    }
    return output
}
