// The detector's flat parameter, buffer and gradient vectors for data-parallel hosts
// (TrainableCore+Flat.swift has the layouts).

import AECVModels

extension Detector {
    /// Floats of non-trainable state (running statistics) in the flat buffer vector.
    public var bufferCount: Int { core.store.bufferCount }
    /// Copies the flat parameter vector (`parameterCount` floats) into `out`.
    public func copyParameters(into out: UnsafeMutableBufferPointer<Float>) throws { try core.copyParameters(into: out) }
    /// Replaces the flat parameter vector (exactly `parameterCount` finite floats).
    public func setParameters(_ values: UnsafeBufferPointer<Float>) throws { try core.setParameters(values) }
    /// Copies the flat buffer vector (`bufferCount` floats) into `out`.
    public func copyBuffers(into out: UnsafeMutableBufferPointer<Float>) throws { try core.copyBuffers(into: out) }
    /// Replaces the flat buffer vector (exactly `bufferCount` finite floats).
    public func setBuffers(_ values: UnsafeBufferPointer<Float>) throws { try core.setBuffers(values) }
    /// The flat gradient vector left by `computeGradients`, which a host may rewrite.
    public var gradientBuffer: UnsafeMutableBufferPointer<Float> { core.gradientBuffer }
    /// The optimizer step on the gradient buffer, committing as `trainStep` does.
    /// - Throws: `.invalidArgument` when no gradients are pending; `.nonFinite` (unchanged).
    public func applyGradients() throws {
        try core.applyPendingGradients(owner: "detector")
    }
}
