import AECVKernels
import AECVNN

/// What every trainable model shares — the autoencoders, the classifier and the detector: the
/// flat store of parameters, gradients and buffers; the optimizer over it (one factory, one
/// trainable mask); the transactional commit of a step; and tensors by name for files.
///
/// A training step is `computeGradients` (the owner's forward, loss and backward, leaving the
/// objective's gradient in `store.gradients` and any new buffer values in `store.nextBuffers`)
/// followed by `applyGradients` here. A host may rewrite the gradient buffer between the two —
/// the data-parallel allreduce of `aecv_model_gradients` does.
package final class TrainableCore {
    package let store: ParameterStore
    package let optimizer: Optimizer
    /// True between a successful gradient computation and the step that applies it.
    package var hasPendingGradients = false

    /// `configure` may freeze entries or give them their own learning rate before the optimizer
    /// is made; the optimizer walks the resulting segments.
    package init(network: StoredNetwork, optimizer spec: OptimizerSpec,
         configure: (ParameterStore) -> Void = { _ in }) throws {
        store = try ParameterStore(network: network)
        configure(store)
        optimizer = try makeOptimizer(spec, count: store.count, segments: store.segments)
    }

    var parameterCount: Int { store.count }
    var step: Int { optimizer.step }

    /// The optimizer step on `store.gradients`, committing parameters, optimizer state and
    /// buffers together; a non-finite update leaves all of them as they were.
    /// - Throws: `AECVError.nonFinite` naming `what` and saying that `owner` is unchanged.
    package func applyGradients(_ what: String, owner: String) throws {
        // The optimizer checks gradients, moments and new parameters in the same pass.
        guard optimizer.prepare(parameters: store.parameters, gradients: store.gradients,
                                newParameters: store.spare) else {
            throw AECVError.nonFinite("\(what): the update produced NaN or Inf (gradients exploded?); the \(owner) was left unchanged")
        }
        optimizer.commit()
        store.commit()
        hasPendingGradients = false
    }

    /// `applyGradients` for the public apply_gradients calls, which are only valid after a
    /// `computeGradients`: `.invalidArgument` when nothing is pending.
    package func applyPendingGradients(owner: String) throws {
        guard hasPendingGradients else {
            throw AECVError.invalidArgument("apply_gradients: no gradients were computed since the last step (call compute_gradients first)")
        }
        try applyGradients("apply_gradients", owner: owner)
    }

    package func setLearningRate(_ learningRate: Float) throws {
        try BatchCheck.learningRate(learningRate)
        optimizer.learningRate = learningRate
    }

    // MARK: - Tensors by name

    private func copy(_ e: ParameterStore.Entry, from base: UnsafeMutablePointer<Float>) -> (name: String, tensor: Tensor) {
        (e.name, Tensor(shape: e.shape, values: Array(UnsafeBufferPointer(start: base + e.offset, count: e.count))))
    }

    /// The parameters as named tensors (PyTorch state_dict names), copied, in store order.
    package func parameterTensors() -> [(name: String, tensor: Tensor)] { store.entries.map { copy($0, from: store.parameters) } }

    /// The buffers as named tensors, copied, in store order.
    package func bufferTensors() -> [(name: String, tensor: Tensor)] { store.bufferEntries.map { copy($0, from: store.buffers) } }

    /// Replaces parameters and buffers by name; all-or-nothing: an unknown name, a shape
    /// mismatch or a non-finite value throws before anything is written. Names not given keep
    /// their values. `owner` names the model in messages ("this conv model").
    func setTensors(_ tensors: [(name: String, tensor: Tensor)], owner: String) throws {
        var plan: [(UnsafeMutablePointer<Float>, Tensor)] = []
        for (name, tensor) in tensors {
            let target: UnsafeMutablePointer<Float>
            let entry: ParameterStore.Entry
            if let e = store.entry(named: name) {
                (entry, target) = (e, store.parameters + e.offset)
            } else if let e = store.bufferEntry(named: name) {
                (entry, target) = (e, store.buffers + e.offset)
            } else {
                throw AECVError.shape("parameter \"\(name)\": \(owner) has no such tensor")
            }
            if entry.shape != tensor.shape {
                throw AECVError.shape("parameter \"\(name)\": expected shape \(entry.shape), got \(tensor.shape)")
            }
            if !tensor.values.allSatisfy({ $0.isFinite }) {
                throw AECVError.nonFinite("parameter \"\(name)\": contains NaN or Inf")
            }
            plan.append((target, tensor))
        }
        for (target, tensor) in plan {
            tensor.values.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: $0.count) }
        }
    }

    /// Restores a file's tensors, which must be exactly the store's parameters (names, shapes,
    /// order) and, when the file has them, its buffers; all are checked before any is written.
    /// - Throws: `AECVError.format` naming `file` and the first mismatch.
    package func restore(parameters: [(name: String, shape: [Int], values: [Float])],
                 buffers: [(name: String, shape: [Int], values: [Float])]?, file: String, owner: String) throws {
        try TrainableCore.check(parameters: parameters, buffers: buffers, against: store, file: file, owner: owner)
        assign(parameters: parameters, buffers: buffers)
    }

    /// Writes tensors that `check` has accepted.
    package func assign(parameters: [(name: String, shape: [Int], values: [Float])],
                buffers: [(name: String, shape: [Int], values: [Float])]?) {
        for (t, e) in zip(parameters, store.entries) {
            t.values.withUnsafeBufferPointer { (store.parameters + e.offset).update(from: $0.baseAddress!, count: e.count) }
        }
        for (t, e) in zip(buffers ?? [], store.bufferEntries) {
            t.values.withUnsafeBufferPointer { (store.buffers + e.offset).update(from: $0.baseAddress!, count: e.count) }
        }
    }

    /// The checks of `restore`, without writing.
    package static func check(parameters: [(name: String, shape: [Int], values: [Float])],
                      buffers: [(name: String, shape: [Int], values: [Float])]?,
                      against store: ParameterStore, file: String, owner: String) throws {
        func check(_ tensors: [(name: String, shape: [Int], values: [Float])], _ entries: [ParameterStore.Entry]) throws {
            if tensors.count != entries.count {
                throw AECVError.format("\(file): \(tensors.count) tensors, but its spec builds a \(owner) with \(entries.count)")
            }
            for (t, e) in zip(tensors, entries) {
                if t.name != e.name || t.shape != e.shape {
                    throw AECVError.format("\(file): tensor \(t.name) \(t.shape) does not match the \(owner)'s \(e.name) \(e.shape)")
                }
                if !t.values.allSatisfy({ $0.isFinite }) {
                    throw AECVError.format("\(file): tensor \(t.name) contains NaN or Inf")
                }
            }
        }
        try check(parameters, store.entries)
        if let buffers { try check(buffers, store.bufferEntries) }
    }
}
