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

extension TrainingGroup {
    /// Whether Ctrl-C reached any rank (the same answer on every rank).
    func anyInterrupted() throws -> Bool {
        guard distributed else { return Interrupt.requested }
        var flag: [Double] = [Interrupt.requested ? 1 : 0]
        try flag.withUnsafeMutableBufferPointer { try sum($0) }
        return flag[0] > 0
    }
}
