// Model files for autoencoders: loading and atomic saving through ModelFile. They live in the
// IO target, above the models, so that a model never depends on its file format.

import AECVKernels
import AECVNN
import AECVModels

extension Autoencoder {
    /// Loads a model file written by `save(to:)`.
    public convenience init(contentsOf path: String) throws {
        let file = try ModelFile.read(path: path)
        try self.init(spec: file.spec)
        try file.restore(into: self)
    }

    /// Writes the model file atomically: a failed save leaves an existing file intact.
    public func save(to path: String) throws {
        // The parameters, buffers and optimizer state; a model too large to save in this
        // address space fails with AECV_ERR_NO_MEMORY, unchanged.
        try MemoryCheck.requireSaving("the model", floats: store.count + store.bufferCount + optimizer.stateBuffers.count * store.count,
                                      to: path)
        try ModelFile(model: self).write(path: path)
    }
}
