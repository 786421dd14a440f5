import AECVKernels
import AECVNN

/// Data parallelism inside one call: a batch is split into up to `ComputeThreads.current` parts,
/// each run by one thread (the caller or a `WorkerPool` worker) on its own replica of a network.
/// The replicas share the parameters of the owner's `ParameterStore`; each has its own workspaces
/// and gradient buffer, and the parts' gradients are then summed into the store's. The caller
/// normalizes each part's objective by the whole batch, so the sum equals the unsplit gradient up
/// to float rounding. Used by the autoencoders and the detector.
///
/// Replicas read the store's current buffers and run in the same mode as the primary network.
/// Layers whose training statistics span the batch (BatchNorm) must combine the parts' sums
/// themselves; replicas do not merge buffers.
package final class ReplicaSet<Network> {
    private var replicas: [(network: Network, gradients: UnsafeMutablePointer<Float>)] = []
    /// Smallest part worth a thread: smaller GEMMs lose more efficiency than a thread gains.
    let minimumPart: Int
    private let make: () -> Network?
    private let stored: (Network) -> StoredNetwork

    /// make: a fresh copy of the network (nil if it cannot be built); stored: the network as a
    /// `StoredNetwork` (an upcast: Swift cannot constrain the generic to an existential).
    package init(minimumPart: Int, make: @escaping () -> Network?, stored: @escaping (Network) -> StoredNetwork) {
        self.minimumPart = minimumPart
        self.make = make
        self.stored = stored
    }

    deinit { for r in replicas { FloatMemory.free(r.gradients) } }

    /// Replicas made so far (one per extra thread that has run a part).
    var count: Int { replicas.count }

    /// One part per thread, each of at least `minimumPart` examples; 1 when not splittable.
    package func partCount(batch: Int, splittable: Bool = true, threads: Int = ComputeThreads.current) -> Int {
        guard splittable else { return 1 }
        return max(1, min(threads, batch / minimumPart, 1024))
    }

    /// Runs body(network, gradients, offset, count, part) for each part of `batch`, part 0 on the
    /// calling thread with `primary` and the store's gradients. Replicas are made on first need
    /// (the only allocation) and bound to the current parameters. Returns the parts run (fewer
    /// than asked only if a replica could not be made).
    @discardableResult
    package func forEachPart(_ parts: Int, batch: Int, primary: Network, store: ParameterStore, mode: LayerMode,
                     _ body: (Network, UnsafeMutablePointer<Float>, Int, Int, Int) -> Void) -> Int {
        // A replica that cannot be allocated means fewer parts, not a failure.
        while replicas.count < parts - 1, let copy = make(),
              let gradients = try? FloatMemory.allocate(store.count, "replica gradients") {
            replicas.append((copy, gradients))
        }
        let parts = max(1, min(parts, replicas.count + 1))
        stored(primary).setMode(mode)
        for k in 0..<(parts - 1) {
            let network = stored(replicas[k].network)
            network.bind(parameters: store.parameters, gradients: replicas[k].gradients)
            network.bind(buffers: store.buffers, next: store.nextBuffers)
            network.setMode(mode)
        }
        WorkerPool.shared.run(parts) { part in
            let offset = part * batch / parts, end = (part + 1) * batch / parts
            if part == 0 {
                body(primary, store.gradients, offset, end - offset, part)
            } else {
                let r = replicas[part - 1]
                body(r.network, r.gradients, offset, end - offset, part)
            }
        }
        return parts
    }

    /// store.gradients += Σ the first parts − 1 replicas' gradients, the parameter range split
    /// among the threads.
    package func sumGradients(_ parts: Int, into store: ParameterStore) {
        guard parts > 1 else { return }
        let count = store.count
        WorkerPool.shared.run(parts) { part in
            let start = part * count / parts, end = (part + 1) * count / parts
            for r in replicas.prefix(parts - 1) {
                add(r.gradients + start, into: store.gradients + start, count: end - start)
            }
        }
    }
}
