import AECVKernels

/// Queries built on encode/decode that users of the model kinds expect: how sparse a code is,
/// and interpolation between the codes of two images.
extension Autoencoder {
    /// Fraction of code entries with |z| ≤ threshold over a batch: how sparse the representation
    /// is (ReLU codes have exact zeros; for KL-sparse sigmoid codes use a threshold such as 0.05).
    /// inputs: (batch, inputSize).
    public func codeSparsity(inputs: UnsafeBufferPointer<Float>, batch: Int, threshold: Float) throws -> Float {
        guard threshold.isFinite, threshold >= 0 else {
            throw AECVError.invalidArgument("threshold: must be a finite number >= 0, got \(threshold)")
        }
        if batch < 1 { throw AECVError.invalidArgument("batch: must be at least 1, got \(batch)") }
        let (count, overflow) = batch.multipliedReportingOverflow(by: latentSize)
        if overflow || count > Int(Int32.max) {
            throw AECVError.noMemory("batch: \(batch) codes of \(latentSize) floats is too large")
        }
        var codes = [Float](repeating: 0, count: count)
        try codes.withUnsafeMutableBufferPointer { try encode(inputs: inputs, batch: batch, into: $0) }
        var small = 0
        for z in codes where abs(z) <= threshold { small += 1 }
        return Float(Double(small) / Double(count))
    }

    /// Decodes `steps` codes evenly spaced on the segment from code(a) to code(b), both ends
    /// included (steps ≥ 2): z_t = (1 − t)·z_a + t·z_b, t = i/(steps − 1). For VAEs the codes are
    /// the means. a, b: one example each (inputSize floats); images: (steps, inputSize).
    public func interpolate(from a: UnsafeBufferPointer<Float>, to b: UnsafeBufferPointer<Float>,
                            steps: Int, into images: UnsafeMutableBufferPointer<Float>) throws {
        if steps < 2 || steps > 1 << 16 {
            throw AECVError.invalidArgument("steps: must be in 2...65536, got \(steps)")
        }
        var za = [Float](repeating: 0, count: latentSize), zb = za
        try za.withUnsafeMutableBufferPointer { try encode(inputs: a, batch: 1, into: $0) }
        try zb.withUnsafeMutableBufferPointer { try encode(inputs: b, batch: 1, into: $0) }
        var codes = [Float](repeating: 0, count: steps * latentSize)
        for i in 0..<steps {
            let t = Float(i) / Float(steps - 1)
            for j in 0..<latentSize { codes[i * latentSize + j] = (1 - t) * za[j] + t * zb[j] }
        }
        try codes.withUnsafeBufferPointer { try decode(codes: $0, batch: steps, into: images) }
    }
}

extension Autoencoder {
    /// Array form of `codeSparsity`.
    public func codeSparsity(_ inputs: [Float], threshold: Float = 1e-6) throws -> Float {
        if inputs.isEmpty || inputs.count % inputSize != 0 {
            throw AECVError.shape("inputs: \(inputs.count) floats is not a whole number of \(inputSize)-float examples")
        }
        return try inputs.withUnsafeBufferPointer {
            try codeSparsity(inputs: $0, batch: inputs.count / inputSize, threshold: threshold)
        }
    }

    /// Array form of `interpolate`.
    public func interpolate(from a: [Float], to b: [Float], steps: Int) throws -> [Float] {
        if steps < 2 || steps > 1 << 16 {
            throw AECVError.invalidArgument("steps: must be in 2...65536, got \(steps)")
        }
        var images = [Float](repeating: 0, count: steps * inputSize)
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                try images.withUnsafeMutableBufferPointer { try interpolate(from: pa, to: pb, steps: steps, into: $0) }
            }
        }
        return images
    }
}
