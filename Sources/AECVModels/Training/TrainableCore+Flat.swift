import AECVKernels

/// The flat views of a trainable model's state that data-parallel hosts exchange: the parameter
/// vector (broadcast from rank 0, compared across ranks), the buffer vector (running
/// statistics) and the gradient vector (allreduced between `computeGradients` and
/// `applyGradients`). Layouts are the store's: entries in order, each row-major.
extension TrainableCore {
    /// Copies the parameters into `out` (at least `store.count` floats).
    package func copyParameters(into out: UnsafeMutableBufferPointer<Float>) throws {
        try copy(store.parameters, count: store.count, into: out, what: "parameters")
    }

    /// Copies the buffers into `out` (at least `store.bufferCount` floats).
    package func copyBuffers(into out: UnsafeMutableBufferPointer<Float>) throws {
        try copy(store.buffers, count: store.bufferCount, into: out, what: "buffers")
    }

    /// Replaces every parameter; all-or-nothing (exactly `store.count` finite floats).
    /// The optimizer's state is kept.
    package func setParameters(_ values: UnsafeBufferPointer<Float>) throws {
        try replace(store.parameters, count: store.count, with: values, what: "parameters")
    }

    /// Replaces every buffer; all-or-nothing (exactly `store.bufferCount` finite floats).
    package func setBuffers(_ values: UnsafeBufferPointer<Float>) throws {
        try replace(store.buffers, count: store.bufferCount, with: values, what: "buffers")
    }

    /// The gradient buffer itself (not a copy): valid as long as the model, rewritten by the next
    /// `computeGradients`.
    package var gradientBuffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: store.gradients, count: store.count)
    }

    private func copy(_ source: UnsafeMutablePointer<Float>, count: Int, into out: UnsafeMutableBufferPointer<Float>,
                      what: String) throws {
        guard out.count >= count else {
            throw AECVError.shape("out: the model has \(count) \(what) floats, capacity \(out.count)")
        }
        if count > 0 { out.baseAddress!.update(from: source, count: count) }
    }

    private func replace(_ target: UnsafeMutablePointer<Float>, count: Int, with values: UnsafeBufferPointer<Float>,
                         what: String) throws {
        guard values.count == count else {
            throw AECVError.shape("values: the model has \(count) \(what) floats, got \(values.count)")
        }
        try BatchCheck.finite("values", values)
        if count > 0 { target.update(from: values.baseAddress!, count: count) }
    }
}

extension Autoencoder {
    /// Copies the flat parameter vector (`parameterCount` floats) into `out`.
    public func copyParameters(into out: UnsafeMutableBufferPointer<Float>) throws { try core.copyParameters(into: out) }
    /// Replaces the flat parameter vector (exactly `parameterCount` finite floats).
    public func setParameters(_ values: UnsafeBufferPointer<Float>) throws { try core.setParameters(values) }
    /// Copies the flat buffer vector (`bufferCount` floats) into `out`.
    public func copyBuffers(into out: UnsafeMutableBufferPointer<Float>) throws { try core.copyBuffers(into: out) }
    /// Replaces the flat buffer vector (exactly `bufferCount` finite floats).
    public func setBuffers(_ values: UnsafeBufferPointer<Float>) throws { try core.setBuffers(values) }
    /// The flat gradient vector left by `computeGradients`: the model's own memory, which a host
    /// may rewrite (e.g. average across processes) before `applyGradients`.
    public var gradientBuffer: UnsafeMutableBufferPointer<Float> { core.gradientBuffer }
}
