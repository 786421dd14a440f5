/// Data parallelism inside one call: a batch is split into up to `ComputeThreads.current` parts,
/// each run by one thread (the caller or a `WorkerPool` worker) on its own replica of a network.
/// The replicas share the parameters of the owner's `ParameterStore`; each has its own workspaces
/// and gradient buffer, and the parts' gradients are then summed into the store's. The caller
/// normalizes each part's objective by the whole batch, so the sum equals the unsplit gradient up
/// to float rounding. Used by the autoencoders and the detector.
final class ReplicaSet<Network> {
    private var replicas: [(network: Network, gradients: UnsafeMutablePointer<Float>)] = []
    /// Smallest part worth a thread: smaller GEMMs lose more efficiency than a thread gains.
    let minimumPart: Int
    private let make: () -> Network?
    private let bind: (Network, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void

    /// make: a fresh copy of the network (nil if it cannot be built); bind: points a copy at
    /// (parameters, gradients).
    init(minimumPart: Int, make: @escaping () -> Network?,
         bind: @escaping (Network, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        self.minimumPart = minimumPart
        self.make = make
        self.bind = bind
    }

    deinit { for r in replicas { r.gradients.deallocate() } }

    /// Replicas made so far (one per extra thread that has run a part).
    var count: Int { replicas.count }

    /// One part per thread, each of at least `minimumPart` examples; 1 when not splittable.
    func partCount(batch: Int, splittable: Bool = true) -> Int {
        guard splittable else { return 1 }
        return max(1, min(ComputeThreads.current, batch / minimumPart, 1024))
    }

    /// Runs body(network, gradients, offset, count, part) for each part of `batch`, part 0 on the
    /// calling thread with `primary` and the store's gradients. Replicas are made on first need
    /// (the only allocation) and bound to the current parameters. Returns the parts run (fewer
    /// than asked only if a replica could not be made).
    @discardableResult
    func forEachPart(_ parts: Int, batch: Int, primary: Network, store: ParameterStore,
                     _ body: (Network, UnsafeMutablePointer<Float>, Int, Int, Int) -> Void) -> Int {
        while replicas.count < parts - 1, let copy = make() {
            let gradients = UnsafeMutablePointer<Float>.allocate(capacity: max(store.count, 1))
            gradients.initialize(repeating: 0, count: max(store.count, 1))
            replicas.append((copy, gradients))
        }
        let parts = max(1, min(parts, replicas.count + 1))
        for k in 0..<(parts - 1) { bind(replicas[k].network, store.parameters, replicas[k].gradients) }
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
    func sumGradients(_ parts: Int, into store: ParameterStore) {
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
