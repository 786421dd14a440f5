// The MPI side of TrainingGroup, compiled only with -DAECV_MPI (`make cli AECV_MPI=1`).
#if AECV_MPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CMPI

extension TrainingGroup {
    /// MPI_Init and this process's place in MPI_COMM_WORLD. Errors of MPI calls are returned
    /// (MPI_ERRORS_RETURN) and become `CLIError`s that name the rank, instead of MPI's default
    /// of aborting without saying where.
    static func joinWorld() throws -> TrainingGroup {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            let status = MPI_Init(nil, nil)
            if status != aecv_mpi_success() { throw CLIError("--distributed: MPI_Init failed (\(errorText(status)))") }
        }
        let world = aecv_mpi_comm_world()
        MPI_Comm_set_errhandler(world, aecv_mpi_errors_return())
        var rank: Int32 = 0, size: Int32 = 1
        MPI_Comm_rank(world, &rank)
        MPI_Comm_size(world, &size)
        return TrainingGroup(rank: Int(rank), size: Int(size), distributed: true)
    }

    private static func errorText(_ status: Int32) -> String {
        var text = [CChar](repeating: 0, count: Int(aecv_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(status, &text, &length)
        return String(cString: text)
    }

    private func check(_ status: Int32, _ call: String) throws {
        if status != aecv_mpi_success() {
            throw CLIError("\(name): \(call) failed: \(TrainingGroup.errorText(status))")
        }
    }

    /// MPI counts are Int32: larger buffers go in chunks.
    private func chunks(_ count: Int, _ body: (Int, Int32) throws -> Void) rethrows {
        var offset = 0
        while offset < count {
            let n = min(count - offset, Int(Int32.max))
            try body(offset, Int32(n))
            offset += n
        }
    }

    /// MPI_Allreduce(MPI_SUM) in place on a float32 buffer: afterwards every rank holds the sum.
    func sum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = buffer.baseAddress else { return }
        try chunks(buffer.count) { offset, n in
            try check(MPI_Allreduce(aecv_mpi_in_place(), base + offset, n, aecv_mpi_float(), aecv_mpi_sum(),
                                    aecv_mpi_comm_world()), "MPI_Allreduce of \(buffer.count) gradients")
        }
    }

    /// The same for float64 (losses, counts, flags).
    func sum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let base = buffer.baseAddress else { return }
        try check(MPI_Allreduce(aecv_mpi_in_place(), base, Int32(buffer.count), aecv_mpi_double(), aecv_mpi_sum(),
                                aecv_mpi_comm_world()), "MPI_Allreduce of the step's loss")
    }

    /// MPI_Bcast from rank 0.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = buffer.baseAddress else { return }
        try chunks(buffer.count) { offset, n in
            try check(MPI_Bcast(base + offset, n, aecv_mpi_float(), 0, aecv_mpi_comm_world()),
                      "MPI_Bcast of rank 0's \(buffer.count) floats")
        }
    }

    /// The smallest and largest `value` over the ranks.
    func minMax(_ value: UInt64) throws -> (UInt64, UInt64) {
        var low = value, high = value
        try check(MPI_Allreduce(aecv_mpi_in_place(), &low, 1, aecv_mpi_uint64(), aecv_mpi_min(), aecv_mpi_comm_world()),
                  "MPI_Allreduce(MIN) of the parameter checksum")
        try check(MPI_Allreduce(aecv_mpi_in_place(), &high, 1, aecv_mpi_uint64(), aecv_mpi_max(), aecv_mpi_comm_world()),
                  "MPI_Allreduce(MAX) of the parameter checksum")
        return (low, high)
    }

    func leave() {
        watchdogStop()
        MPI_Finalize()
    }

    /// Ends the whole job: prints `message` (naming this rank) and calls MPI_Abort, which makes
    /// mpirun stop every other rank instead of leaving them blocked in a collective.
    func abort(_ message: String) -> Never {
        Terminal.finishProgressLine()
        Terminal.writeError("aecv: error: \(message)\n")
        MPI_Abort(aecv_mpi_comm_world(), 1)
        exit(1)
    }

    /// A thread that ends the job when no step finishes for `timeout` seconds: a rank that
    /// hangs (or a peer that vanished without mpirun noticing) stops the job with a message
    /// instead of blocking the others in MPI_Allreduce forever. `_exit` rather than MPI_Abort:
    /// MPI was initialized for one thread, and mpirun ends the job when a rank exits early.
    func startWatchdog(timeout: Double) {
        Watchdog.shared.start(timeout: timeout, rankName: name)
    }

    func progressed() { Watchdog.shared.touch() }

    private func watchdogStop() { Watchdog.shared.stop() }
}

/// Last-progress time shared with the watchdog thread (under a mutex).
private final class Watchdog {
    static let shared = Watchdog()
    private var mutex = pthread_mutex_t()
    private var last = 0.0
    private var timeout = 0.0
    private var running = false
    private var rankName = ""
    private var thread = pthread_t()

    init() { pthread_mutex_init(&mutex, nil) }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    func start(timeout: Double, rankName: String) {
        pthread_mutex_lock(&mutex)
        (self.timeout, self.rankName, last, running) = (timeout, rankName, Watchdog.now(), true)
        pthread_mutex_unlock(&mutex)
        pthread_create(&thread, nil, { _ in Watchdog.shared.loop(); return nil }, nil)
    }

    func touch() {
        pthread_mutex_lock(&mutex)
        last = Watchdog.now()
        pthread_mutex_unlock(&mutex)
    }

    func stop() {
        pthread_mutex_lock(&mutex)
        let wasRunning = running
        running = false
        pthread_mutex_unlock(&mutex)
        if wasRunning { pthread_join(thread, nil) }
    }

    private func loop() {
        while true {
            usleep(200_000)
            pthread_mutex_lock(&mutex)
            let (isRunning, idle, limit, who) = (running, Watchdog.now() - last, timeout, rankName)
            pthread_mutex_unlock(&mutex)
            if !isRunning { return }
            if idle > limit {
                Terminal.writeError("\naecv: error: \(who): no training step finished for \(Int(limit)) s "
                                    + "(--step-timeout); another rank died or hangs; ending the job\n")
                _exit(124)
            }
        }
    }
}
#endif
