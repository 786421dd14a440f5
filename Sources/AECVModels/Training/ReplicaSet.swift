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
/// Layers whose training statistics span the batch (BatchNorm) combine the parts' sums mid-pass
/// through a `BatchPartition`: a training region of such a network runs its parts together, each
/// on its own thread (`WorkerPool.runTogether`), or, when the pool cannot give it the threads, as
/// one part. Only part 0 writes the next buffers (the running statistics, equal in every part).
package final class ReplicaSet<Network> {
    private var replicas: [(network: Network, gradients: UnsafeMutablePointer<Float>)] = []
    /// Smallest part worth a thread: smaller GEMMs lose more efficiency than a thread gains.
    let minimumPart: Int
    private let make: () -> Network?
    private let stored: (Network) -> StoredNetwork
    /// Where the parts of a network with batch statistics meet (see `setPartitions`).
    private var rendezvous: PartRendezvous?

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
    /// than asked if a replica could not be made, or 1 when the parts of a network with batch
    /// statistics could not run together).
    @discardableResult
    package func forEachPart(_ parts: Int, batch: Int, primary: Network, store: ParameterStore, mode: LayerMode,
                     _ body: (Network, UnsafeMutablePointer<Float>, Int, Int, Int) -> Void) -> Int {
        // A replica that cannot be allocated means fewer parts, not a failure.
        while replicas.count < parts - 1, let copy = make(),
              let gradients = try? FloatMemory.allocate(store.count, "replica gradients") {
            replicas.append((copy, gradients))
        }
        let parts = max(1, min(parts, replicas.count + 1))
        let main = stored(primary)
        main.setMode(mode)
        for k in 0..<(parts - 1) {
            let network = stored(replicas[k].network)
            network.bind(parameters: store.parameters, gradients: replicas[k].gradients)
            network.bind(buffers: store.buffers, next: store.nextBuffers)
            network.setMode(mode)
        }
        // Part `part` of `count` (a `let` capture: a captured `var` would be boxed on the heap,
        // an allocation per step).
        func run(_ part: Int, of count: Int) {
            let offset = part * batch / count, end = (part + 1) * batch / count
            if part == 0 {
                body(primary, store.gradients, offset, end - offset, part)
            } else {
                let r = replicas[part - 1]
                body(r.network, r.gradients, offset, end - offset, part)
            }
        }
        guard parts > 1, mode == .training, main.usesBatchStatistics else {
            WorkerPool.shared.run(parts) { run($0, of: parts) }
            return parts
        }
        // The parts meet at every BatchNorm: they must all be running at once.
        setPartitions(parts, main)
        let together = WorkerPool.shared.runTogether(parts) { run($0, of: parts) }
        setPartitions(1, main)
        if !together { run(0, of: 1) }
        return together ? parts : 1
    }

    /// Points the primary (part 0) and the first parts − 1 replicas at one rendezvous, or (parts 1)
    /// clears the primary's and every replica's partition. The rendezvous is made once per part
    /// count, so a training loop at a fixed thread count allocates nothing here.
    private func setPartitions(_ parts: Int, _ primary: StoredNetwork) {
        guard parts > 1 else {
            primary.setPartition(nil)
            for r in replicas { stored(r.network).setPartition(nil) }
            return
        }
        if rendezvous?.parts != parts { rendezvous = PartRendezvous(parts: parts) }
        let meeting = rendezvous!
        primary.setPartition(BatchPartition(rendezvous: meeting, part: 0))
        for k in 0..<(parts - 1) {
            stored(replicas[k].network).setPartition(BatchPartition(rendezvous: meeting, part: k + 1))
        }
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
