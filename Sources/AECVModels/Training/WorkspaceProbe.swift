import AECVKernels

/// The memory check before a batch grows a model's workspaces.
///
/// Workspaces (activations, im2col columns, gradient buffers: `Workspace`) grow to the largest
/// batch a model has run and cannot fail softly: Swift's allocation aborts the process. Inference
/// runs in bounded chunks, but a training step, `evaluate` and the classifier's and detector's
/// calls take the caller's batch whole (BatchNorm and the batch-coupled objectives need it whole).
/// So before a batch larger than any checked so far, the probe asks `MemoryCheck` for
///
///     batch × floatsPerExample × 4 bytes
///
/// where floatsPerExample is the network's `trainingFloatsPerExample` (every layer's output and
/// scratch, and the gradient buffers) plus the model's own input-sized buffers. A batch whose
/// workspaces cannot fit under the address-space limit is refused with `AECVError.noMemory`
/// before anything runs, so the model is unchanged. Like `MemoryCheck` it is a probe, not a
/// reservation; a batch no larger than one already run allocates nothing and is not probed.
package struct WorkspaceProbe {
    /// The largest batch checked (and so, after it ran, already allocated for).
    private(set) var checkedBatch = 0

    package init() {}

    /// Throws `AECVError.noMemory` naming `what`, the batch and the bytes unless the
    /// workspaces of `batch` examples can be allocated.
    /// OpenBLAS's work buffers for the call's thread count are checked first (see
    /// `OpenBLASBuffer.reserveForCall`).
    package mutating func require(batch: Int, floatsPerExample: Int, what: String) throws {
        try OpenBLASBuffer.reserveForCall()
        guard batch > checkedBatch else { return }
        let perExample = try MemoryCheck.bytes(floatsPerExample, MemoryLayout<Float>.stride, what)
        let total = try MemoryCheck.bytes(batch, perExample, "\(what): the workspaces of a batch of \(batch)")
        try MemoryCheck.require(total, "\(what): the workspaces of a batch of \(batch) (\(FloatMemory.describeBytes(perExample)) per example; use smaller batches)")
        checkedBatch = batch
    }
}
