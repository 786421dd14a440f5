import AECVKernels
import AECVNN
import AECVModels

/// Parameters to and from safetensors files, named as the state_dict of the equivalent PyTorch
/// module (docs/model-format.md lists the names of every preset), so that
///
///     torch.nn.Module.load_state_dict(safetensors.torch.load_file(path))
///
/// loads an exported model and a state_dict saved with `safetensors.torch.save_file` imports
/// with no renaming.
///
/// Buffers (BatchNorm's `running_mean`, `running_var`, `num_batches_tracked`) travel with the
/// parameters under their state_dict names, after them.
///
/// Export: every parameter, then every buffer, as F32, in the model's layout order, with metadata
/// `{"format": "pt", "aecv.spec": <filled spec JSON>}` (the spec is informative; import ignores
/// metadata).
///
/// Import is all-or-nothing. The file must hold exactly the model's tensors: each one with the
/// model's shape (F32, F64, F16, BF16 and I64 are accepted and converted to float32), and no other
/// name. An unknown name is refused rather than ignored, because a tensor that nobody reads
/// almost always means the file belongs to a different architecture. A refused import leaves
/// the model bit-identical. An accepted one replaces every parameter and resets the optimizer
/// (Adam moments / SGD momentum to zero, step count to 0), since that state belonged to other
/// weights; the learning rate, the random generator and the history are kept.
extension Autoencoder {
    /// The parameters, then the buffers, as safetensors tensors, F32, in layout order.
    public func exportSafeTensors() -> SafeTensors {
        SafeTensors(
            tensors: (parameters() + buffers()).map { SafeTensors.Tensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.values) },
            metadata: ["format": "pt", "aecv.spec": specJSON])
    }

    /// Every tensor the file exchanges, with where its values live: parameters, then buffers.
    private var exchangedEntries: [(entry: ParameterStore.Entry, base: UnsafeMutablePointer<Float>)] {
        store.entries.map { ($0, store.parameters) } + store.bufferEntries.map { ($0, store.buffers) }
    }

    /// Writes the parameters as a safetensors file, atomically (an existing file is left intact
    /// on failure).
    /// - Throws: `AECVError.io` when the file cannot be written.
    public func exportSafeTensors(path: String) throws {
        try exportSafeTensors().write(to: path)
    }

    /// Reads a safetensors file and imports it (see the type's documentation).
    /// - Throws: `.io` (missing or unreadable), `.format` (not valid safetensors), `.shape`
    ///   (missing, unknown or misshapen tensors), `.nonFinite` (NaN/Inf values).
    public func importSafeTensors(path: String) throws {
        let file = try SafeTensors.read(path: path, maxBytes: SafeTensors.importLimit(parameterCount: parameterCount + bufferCount))
        try importSafeTensors(file)
    }

    /// Imports decoded tensors: all-or-nothing, every check before the first write.
    public func importSafeTensors(_ file: SafeTensors) throws {
        let plan = try importPlan(file)
        for (entry, base, values) in plan {
            values.withUnsafeBufferPointer {
                (base + entry.offset).update(from: $0.baseAddress!, count: entry.count)
            }
        }
        for buffer in optimizer.stateBuffers {
            buffer.pointer.update(repeating: 0, count: store.count)
        }
        optimizer.restore(step: 0)
    }

    /// Matches the file's tensors to the model's parameters; throws on the first problem found
    /// in this order: unknown names, missing names, shapes, non-finite values.
    private func importPlan(_ file: SafeTensors) throws -> [(ParameterStore.Entry, UnsafeMutablePointer<Float>, [Float])] {
        var byName: [String: SafeTensors.Tensor] = [:]
        for t in file.tensors { byName[t.name] = t }
        let entries = exchangedEntries
        let names = entries.map(\.entry.name)
        let expected = Set(names)
        let unknown = file.tensors.map(\.name).filter { !expected.contains($0) }
        let model = "this \(spec.preset.rawValue) model"
        if !unknown.isEmpty {
            throw AECVError.shape("safetensors: \(model) has no tensor named \(listed(unknown)) "
                + "(it expects \(listed(names))); is the file from another architecture?")
        }
        let missing = names.filter { byName[$0] == nil }
        if !missing.isEmpty {
            throw AECVError.shape("safetensors: missing \(listed(missing)), which \(model) needs")
        }
        var plan: [(ParameterStore.Entry, UnsafeMutablePointer<Float>, [Float])] = []
        for (entry, base) in entries {
            let t = byName[entry.name]!
            if t.shape != entry.shape {
                throw AECVError.shape("safetensors: tensor \"\(entry.name)\" has shape \(t.shape), but \(model) needs \(entry.shape)")
            }
            plan.append((entry, base, t.values))
        }
        for (entry, _, values) in plan {
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                throw AECVError.nonFinite("safetensors: tensor \"\(entry.name)\" holds \(values[i]) at flat index \(i); the model was left unchanged")
            }
        }
        return plan
    }

    /// "\"a\", \"b\" and 3 more" (at most 8 names).
    private func listed(_ names: [String]) -> String {
        let shown = names.prefix(8).map { "\"\($0)\"" }.joined(separator: ", ")
        return names.count > 8 ? "\(shown) and \(names.count - 8) more" : shown
    }
}

extension SafeTensors {
    /// Largest safetensors file worth reading for a model of `parameterCount` parameters: every
    /// tensor as F64 plus the largest header the format allows (and 1 MiB of slack). A larger
    /// file cannot be a valid import and is refused before it is read.
    public static func importLimit(parameterCount: Int) -> Int {
        8 + maxHeaderBytes + 8 * parameterCount + (1 << 20)
    }
}
