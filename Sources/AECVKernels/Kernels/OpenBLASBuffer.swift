import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS's work buffers, checked before it is asked for them.
///
/// Every OpenBLAS GEMM takes a work buffer from a process-wide table; the first use of a slot
/// mmaps BUFFER_SIZE bytes (128 MiB on x86_64 in 0.3.21) and, when that mmap fails, OpenBLAS
/// retries it forever (blas_memory_alloc: 103k mmap calls in 3 s under `ulimit -v 400M`), which
/// hangs the host instead of failing. OpenBLAS has no option to fail instead, so the library
/// checks first: `reserve(threads:)` maps (without touching) one buffer per compute thread, all
/// at once, and unmaps them; if the address space cannot hold them the caller gets
/// `AECVError.noMemory` rather than a hang. After a successful check it runs one GEMM on each
/// thread, so that OpenBLAS's slots are taken while the memory is known to be there; later calls
/// reuse them (OpenBLAS keeps its buffers for the life of the process).
package enum OpenBLASBuffer {
    /// OpenBLAS's BUFFER_SIZE (common_x86_64.h: 32 << 22), plus the page of alignment it adds.
    static let bytesPerThread = (32 << 22) + (1 << 16)

    /// Highest thread count whose buffers have been checked and warmed (guarded by `lock`).
    private static var warmed = 0
    private static var lock = pthread_mutex_t()
    private static let lockInitialized: Bool = { pthread_mutex_init(&lock, nil); return true }()

    /// The check for the running call's thread count (`ComputeThreads.current`): model
    /// constructors and every compute entry call it, because `aecv_set_num_threads` may have
    /// raised the count since the model was made. Reading the count applies the default (one
    /// thread per online core) on first use. Cheap once warmed: a lock and a comparison.
    package static func reserveForCall() throws {
        try reserve(threads: ComputeThreads.current)
    }

    /// Throws `AECVError.noMemory` unless `threads` OpenBLAS buffers fit; warms them once.
    static func reserve(threads: Int) throws {
        _ = lockInitialized
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard threads > warmed else { return }
        var maps: [UnsafeMutableRawPointer] = []
        defer { for p in maps { munmap(p, bytesPerThread) } }
        for _ in 0..<threads {
            let p = mmap(nil, bytesPerThread, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
            guard let p, p != MAP_FAILED else {
                throw AECVError.noMemory(
                    "OpenBLAS work buffers: cannot map \(threads) × \(FloatMemory.describeBytes(bytesPerThread)) "
                    + "(one per compute thread; OpenBLAS would retry forever); lower the thread count or raise the memory limit")
            }
            maps.append(p)
        }
        for p in maps { munmap(p, bytesPerThread) }
        maps = []
        // One GEMM per thread, all in one run: each part holds its OpenBLAS slot while the others
        // take theirs. The shape is chosen to fault in the packing pages of the slot, not just to
        // take it: on Zen 2 (OpenBLAS 0.3.21, DYNAMIC_ARCH) a process whose slot had only seen
        // small GEMMs ran the small sgemm of a batch-64 layer at 10–19 GFLOP/s, and at ~33 after
        // one GEMM with M = 64, N = K = 1024 (or 512³, or reading every page of the buffer).
        // 128³ and 256³ do not do it. Cost: 134 MFLOP per thread, once per process (2–8 ms);
        // B is shared (read-only), A and C are per thread; calloc gives zeros.
        let (m, n, k) = (64, 1024, 1024)
        let perPart = m * k + m * n
        let scratch = try FloatMemory.allocate(k * n + perPart * threads, "OpenBLAS warm-up")
        defer { FloatMemory.free(scratch) }
        WorkerPool.shared.run(threads) { part in
            let a = scratch + k * n + perPart * part
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                        a, Int32(k), scratch, Int32(n), 0, a + m * k, Int32(n))
        }
        warmed = threads
    }
}
