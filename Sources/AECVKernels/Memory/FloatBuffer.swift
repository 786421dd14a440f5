#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Float memory whose allocation can fail without killing the process.
///
/// Swift's `UnsafeMutablePointer.allocate` aborts when malloc fails (SIGABRT "failed to
/// allocate"); a library embedded in someone else's process must return an error instead. Every
/// buffer whose size comes from the caller (parameters, optimizer state, gradients, workspaces)
/// is allocated here, zero-filled, and freed with `free`.
package enum FloatMemory {
    /// `count` zeroed floats (at least one), or `AECVError.noMemory` naming `what` and the size.
    package static func allocate(_ count: Int, _ what: String) throws -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        let (bytes, overflow) = n.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow, let raw = calloc(n, MemoryLayout<Float>.stride) else {
            throw AECVError.noMemory("\(what): cannot allocate \(overflow ? "more than \(Int.max)" : describeBytes(bytes))")
        }
        return raw.bindMemory(to: Float.self, capacity: n)
    }

    package static func free(_ pointer: UnsafeMutablePointer<Float>) { Glibc.free(pointer) }

    /// "1.5 GiB", "12.0 MiB", "512 bytes".
    package static func describeBytes(_ bytes: Int) -> String {
        let units: [(Int, String)] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, name) in units where bytes >= size {
            let tenths = bytes / (size / 10)
            return "\(tenths / 10).\(tenths % 10) \(name) (\(bytes) bytes)"
        }
        return "\(bytes) bytes"
    }
}

/// A pair of equally sized buffers: `current` is the state in force, `spare` receives the next.
/// Swapping them commits a step without a copy; a rejected step leaves `current` as it was.
package final class DoubleBuffer {
    let count: Int
    package private(set) var current: UnsafeMutablePointer<Float>
    package private(set) var spare: UnsafeMutablePointer<Float>

    package init(count: Int, _ what: String) throws {
        self.count = count
        current = try FloatMemory.allocate(count, what)
        do { spare = try FloatMemory.allocate(count, what) } catch {
            FloatMemory.free(current)
            throw error
        }
    }

    deinit { FloatMemory.free(current); FloatMemory.free(spare) }

    package func swap() { Swift.swap(&current, &spare) }
}

/// Checks that a Swift array (or several) of a caller-given size can be allocated before making
/// it: Swift's arrays abort the process when malloc fails, and have no failable initializer. The
/// check maps the bytes and unmaps them at once; under an address-space limit
/// (`ulimit -v`, a container's) a request that would fail fails here, as an error. It is a
/// probe, not a reservation: memory another thread takes in between can still run out.
public enum MemoryCheck {
    /// Throws `AECVError.noMemory` naming `what` and the size unless `bytes` can be allocated.
    public static func require(_ bytes: Int, _ what: String) throws {
        guard bytes > 0 else { return }
        // mmap, not malloc: the optimizer deletes a malloc whose result is only freed, which made
        // this probe always succeed in release builds. An untouched PROT_NONE mapping costs no
        // memory but counts against the address-space limit exactly as malloc's large blocks
        // (themselves mmaps) do.
        let p = mmap(nil, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let p, p != MAP_FAILED else {
            throw AECVError.noMemory("\(what): cannot allocate \(FloatMemory.describeBytes(bytes))")
        }
        munmap(p, bytes)
    }

    /// The check before saving `what` ("the model", "the classifier") with `floats` floats of
    /// tensors to `path`: the tensor arrays, their encoded sections and the file's bytes are
    /// about three copies (12 bytes per float) at the peak. Checked first, so that a save too
    /// large for this address space fails as NO_MEMORY before anything is written.
    package static func requireSaving(_ what: String, floats: Int, to path: String) throws {
        try require(try bytes(floats, 12, "saving \(what)"), "saving \(what) to \(path) (3 copies of \(floats) floats)")
    }

    /// `count` × `size` bytes, or `AECVError.noMemory` on overflow.
    public static func bytes(_ count: Int, _ size: Int, _ what: String) throws -> Int {
        let (n, overflow) = max(count, 0).multipliedReportingOverflow(by: size)
        if overflow { throw AECVError.noMemory("\(what): \(count) × \(size) bytes overflows") }
        return n
    }

    /// `count` zero bytes, checked first.
    public static func zeroedBytes(_ count: Int, _ what: String) throws -> [UInt8] {
        try require(count, what)
        return [UInt8](repeating: 0, count: count)
    }

    /// `count` zero floats, checked first.
    public static func zeroedFloats(_ count: Int, _ what: String) throws -> [Float] {
        try require(bytes(count, MemoryLayout<Float>.stride, what), what)
        return [Float](repeating: 0, count: count)
    }
}
