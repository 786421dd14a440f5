/// Data parallelism inside one call: a batch is split into up to `ComputeThreads.current` parts,
/// each run by one thread on its own replica of the network (sharing the parameters, with its own
/// workspaces and gradient buffer); the replicas' gradients are then summed into the model's.
/// Each part's objective is normalized by the whole batch, so the sum equals the unsplit
/// gradient up to float rounding, and training-time noise is drawn per example (`StepNoise`), so
/// results do not depend on the thread count beyond that rounding.
extension Autoencoder {
    /// Parts of at least 16 examples: smaller GEMMs lose more efficiency than a thread gains.
    static let minimumPart = 16

    func partCount(batch: Int, splittable: Bool) -> Int {
        guard splittable else { return 1 }
        return max(1, min(ComputeThreads.current, batch / Autoencoder.minimumPart, 1024))
    }

    /// Runs body(network, gradients, offset, count, part) for each part of `batch`, part 0 on the
    /// calling thread with the primary network. Replicas are created on first need (the only
    /// allocation) and bound to the current parameters before they run.
    func forEachPart(_ parts: Int, batch: Int,
                     _ body: (AutoencoderNetwork, UnsafeMutablePointer<Float>, Int, Int, Int) -> Void) {
        while replicas.count < parts - 1 {
            // The spec was validated when the model was built; building it again cannot fail.
            guard let copy = try? NetworkFactory.make(spec) else { break }
            let gradients = UnsafeMutablePointer<Float>.allocate(capacity: max(store.count, 1))
            gradients.initialize(repeating: 0, count: max(store.count, 1))
            replicas.append((copy, gradients))
        }
        let parts = min(parts, replicas.count + 1)
        for k in 0..<(parts - 1) {
            replicas[k].network.bind(parameters: store.parameters, gradients: replicas[k].gradients)
        }
        WorkerPool.shared.run(parts) { part in
            let offset = part * batch / parts, end = (part + 1) * batch / parts
            if part == 0 {
                body(network, store.gradients, offset, end - offset, part)
            } else {
                let r = replicas[part - 1]
                body(r.network, r.gradients, offset, end - offset, part)
            }
        }
    }

    /// store.gradients += Σ replica gradients, the parameter range split among the threads.
    func sumReplicaGradients(_ parts: Int) {
        let count = store.count
        WorkerPool.shared.run(parts) { part in
            let start = part * count / parts, end = (part + 1) * count / parts
            for r in replicas.prefix(parts - 1) {
                add(r.gradients + start, into: store.gradients + start, count: end - start)
            }
        }
    }
}
