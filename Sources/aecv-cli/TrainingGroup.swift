#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import AECV

/// The processes that train one model together (`aecv train --distributed` under `mpirun`), or
/// this process alone. Rank 0 leads: it broadcasts the initial state, prints and saves.
///
/// Every collective is called by every rank in the same order; the training loop guarantees it
/// by deciding everything that could differ between ranks (stop after Ctrl-C, the loss shown)
/// from values that were themselves summed across the group.
final class TrainingGroup {
    let rank: Int
    let size: Int
    /// Opened with MPI (false: one process, every collective is the identity).
    let distributed: Bool

    var isLead: Bool { rank == 0 }

    init(rank: Int, size: Int, distributed: Bool) {
        (self.rank, self.size, self.distributed) = (rank, size, distributed)
    }

    static let single = TrainingGroup(rank: 0, size: 1, distributed: false)

    /// "rank 1 of 4" for messages.
    var name: String { "rank \(rank) of \(size)" }

    /// The shard of a batch of `count` examples that this rank trains on: contiguous and as even
    /// as possible (rank r: [r·count/size, (r+1)·count/size)), so that shard sizes differ by at
    /// most one and example positions match the single-process batch (its noise, its order).
    func shard(ofBatch count: Int) -> (first: Int, count: Int) {
        let first = rank * count / size
        return (first, (rank + 1) * count / size - first)
    }

    /// An FNV-1a hash of the bytes of `values`: ranks agree on parameters bit for bit exactly
    /// when their hashes agree (up to collisions).
    static func checksum(_ values: UnsafeBufferPointer<Float>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in values {
            var bits = v.bitPattern
            for _ in 0..<4 {
                hash = (hash ^ UInt64(bits & 0xff)) &* 0x0000_0100_0000_01b3
                bits >>= 8
            }
        }
        return hash
    }

    /// Checks that every rank holds the same parameters, bit for bit.
    /// - Throws: `CLIError` naming the ranks' disagreement (a bug, or ranks given different data).
    func requireAgreement(on model: Autoencoder, _ when: String) throws {
        guard distributed else { return }
        var parameters = [Float](repeating: 0, count: model.parameterCount)
        try parameters.withUnsafeMutableBufferPointer { try model.copyParameters(into: $0) }
        let hash = parameters.withUnsafeBufferPointer { TrainingGroup.checksum($0) }
        let (low, high) = try minMax(hash)
        if low != high {
            throw CLIError("\(name): the ranks' parameters differ \(when) (checksums \(String(low, radix: 16)) to \(String(high, radix: 16)))")
        }
    }

    /// Rank 0's parameters and buffers on every rank.
    func broadcastState(of model: Autoencoder) throws {
        guard distributed else { return }
        var parameters = [Float](repeating: 0, count: model.parameterCount)
        try parameters.withUnsafeMutableBufferPointer { try model.copyParameters(into: $0) }
        try parameters.withUnsafeMutableBufferPointer { try broadcast($0) }
        try parameters.withUnsafeBufferPointer { try model.setParameters($0) }
        var buffers = [Float](repeating: 0, count: model.bufferCount)
        if !buffers.isEmpty {
            try buffers.withUnsafeMutableBufferPointer { try model.copyBuffers(into: $0); try broadcast($0) }
            try buffers.withUnsafeBufferPointer { try model.setBuffers($0) }
        }
    }
}

#if !AECV_MPI
extension TrainingGroup {
    static func joinWorld() throws -> TrainingGroup {
        throw CLIError("--distributed: this aecv was built without MPI; rebuild it with `make cli AECV_MPI=1` (needs Open MPI: apt-get install openmpi-bin libopenmpi-dev) and run it under mpirun")
    }
    func sum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    func sum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    func minMax(_ value: UInt64) throws -> (UInt64, UInt64) { (value, value) }
    func leave() {}
    func abort(_ message: String) -> Never {
        Terminal.writeError("aecv: error: \(message)\n")
        exit(1)
    }
    func startWatchdog(timeout: Double) {}
    func progressed() {}
}
#endif
