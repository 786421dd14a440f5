import AECV

/// One data-parallel step of `aecv train --distributed`, like Horovod's DistributedOptimizer
/// around the library's two-call step.
extension Train {
    /// This rank's shard `shard` of a global batch of `count` images: the shard's gradient,
    /// weighted for the whole batch (`computeGradients(firstExample:totalBatch:)`), summed over
    /// the ranks in place with MPI_Allreduce — the sum IS the gradient of the global batch, for
    /// uneven shards too — then the optimizer step, identical on every rank. The Ctrl-C flag
    /// travels with the loss, so every rank stops after the same step.
    /// - Returns: the global batch's loss and whether any rank was interrupted.
    func distributedStep(_ net: Autoencoder, group: TrainingGroup, inputs: UnsafeBufferPointer<Float>,
                         shard: (first: Int, count: Int), of count: Int) throws -> (Float, Bool) {
        let local = try net.computeGradients(inputs: inputs, targets: nil, batch: shard.count,
                                             firstExample: shard.first, totalBatch: count)
        try group.sum(net.gradientBuffer)
        var stats: [Double] = [Double(local), Interrupt.requested ? 1 : 0]
        try stats.withUnsafeMutableBufferPointer { try group.sum($0) }
        try net.applyGradients()
        group.progressed()
        return (Float(stats[0]), stats[1] > 0)
    }
}

extension Train {
    /// The examples this rank trains on in an epoch of `steps` global batches, in step order: for
    /// each step s its shard (`TrainingGroup.shard(ofBatch:)`) of order[s·G ..< s·G + count],
    /// G = batch size × ranks; in one process, `order` itself. Every shard is one --batch-size
    /// batch except the last step's, so `BatchStream` over these indices yields exactly this
    /// rank's batches, and the in-memory path reads them in the same order.
    func shardOrder(_ order: [Int], steps: Int, group: TrainingGroup) -> [Int] {
        let global = batchSize * group.size
        var mine: [Int] = []
        mine.reserveCapacity(steps * batchSize)
        for s in 0..<steps {
            let shard = group.shard(ofBatch: min(global, order.count - s * global))
            mine.append(contentsOf: order[(s * global + shard.first)..<(s * global + shard.first + shard.count)])
        }
        return mine
    }
}

extension TrainingGroup {
    /// Whether Ctrl-C reached any rank (the same answer on every rank).
    func anyInterrupted() throws -> Bool {
        guard distributed else { return Interrupt.requested }
        var flag: [Double] = [Interrupt.requested ? 1 : 0]
        try flag.withUnsafeMutableBufferPointer { try sum($0) }
        return flag[0] > 0
    }
}
