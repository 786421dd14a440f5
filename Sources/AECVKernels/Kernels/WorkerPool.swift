#if canImport(Glibc)
import Glibc
#endif
import CKernels

/// The library's own threads: `threads − 1` persistent workers that run the parts of a split
/// batch next to the calling thread. Each part runs single-threaded OpenBLAS GEMMs, so the two
/// kinds of threads never compete for cores (ComputeThreads keeps OpenBLAS at 1 thread).
///
/// `run` is used by one caller at a time; a second caller that finds the pool busy (another
/// model on another thread) runs its parts itself, one after another, rather than wait.
///
/// A worker that has finished a part, and the caller that waits for the workers, first watch
/// the run's atomic mirrors (ckernels_pool_*) for up to `spinNanoseconds`, and only then sleep on
/// the condition variables. On a VM, waking a thread whose vCPU is idle took long enough that a
/// batch-64 dense encode, about 100 µs a part, ran no faster on 2 threads than on 1. A host that
/// calls once in a while pays that much CPU time of a worker per call.
package final class WorkerPool {
    /// How long a waiting thread spins before it sleeps: longer than a Python caller's time
    /// between two one-image calls (20–30 µs), which a spin of 12 µs missed. Only while the
    /// pool has no more threads than the machine has cores: beyond that a spinning worker would
    /// take a core from a part still running (`resize` sets it).
    private static let spinNanoseconds = 200_000
    private static let onlineCores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    package static let shared = WorkerPool()

    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var finished = pthread_cond_t()
    private var runLock = pthread_mutex_t()
    private var workers: [WorkerContext] = []
    private var generation = 0
    private var pending = 0
    private var taskCount = 0
    private var job: ((Int) -> Void)?
    /// The current job came from `runShort`: its parts are claimed (ckernels_pool_claim).
    private var short = false

    private init() {
        initializeLocks()
        // A forked child has only the forking thread: forget the parent's workers (the child
        // starts its own when it next needs them) so `run` never waits for threads that are gone.
        pthread_atfork(nil, nil) { WorkerPool.shared.resetInForkedChild() }
    }

    private func initializeLocks() {
        pthread_mutex_init(&mutex, nil)
        pthread_mutex_init(&runLock, nil)
        pthread_cond_init(&wake, nil)
        pthread_cond_init(&finished, nil)
    }

    private func resetInForkedChild() {
        workers = []
        generation = 0
        pending = 0
        ckernels_pool_publish(0, 0)
        taskCount = 0
        job = nil
        initializeLocks()
    }

    /// Number of parts `run` executes in parallel (workers + the caller). Read under runLock.
    private var width: Int { workers.count + 1 }

    /// Resizes the pool to `count` workers unless a `run` is in progress (the next `run`
    /// resizes then).
    func resizeIfIdle(_ count: Int) {
        guard pthread_mutex_trylock(&runLock) == 0 else { return }
        defer { pthread_mutex_unlock(&runLock) }
        resize(count)
    }

    /// Workers currently in the pool (retired ones may still be exiting). For tests.
    var workerCount: Int {
        pthread_mutex_lock(&runLock)
        defer { pthread_mutex_unlock(&runLock) }
        return workers.count
    }

    /// Grows or shrinks the pool to `count` workers; called with runLock held. Retired workers
    /// are woken and exit; a thread that cannot be created leaves the pool smaller.
    private func resize(_ count: Int) {
        if workers.count > count {
            pthread_mutex_lock(&mutex)
            for w in workers[count...] { w.retired = true }
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            workers.removeSubrange(count...)
        }
        while workers.count < count {
            // The worker starts from the current generation: no run is in progress (runLock),
            // so it must not mistake the last finished run for a new one.
            pthread_mutex_lock(&mutex)
            let context = WorkerContext(pool: self, index: workers.count + 1, generation: generation)
            pthread_mutex_unlock(&mutex)
            var thread = pthread_t()
            let raw = Unmanaged.passRetained(context).toOpaque()
            guard pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.workerLoop(context)
                return nil
            }, raw) == 0 else {
                Unmanaged<WorkerContext>.fromOpaque(raw).release()
                return
            }
            pthread_detach(thread)
            workers.append(context)
        }
        ckernels_pool_set_spin(workers.count + 1 <= Self.onlineCores ? Self.spinNanoseconds : 0)
    }

    /// Runs body(0..<tasks), part 0 on the calling thread; returns when all are done.
    package func run(_ tasks: Int, _ body: (Int) -> Void) {
        if tasks <= 1 { if tasks == 1 { body(0) }; return }
        guard pthread_mutex_trylock(&runLock) == 0 else {
            for k in 0..<tasks { body(k) }
            return
        }
        defer { pthread_mutex_unlock(&runLock) }
        resize(ComputeThreads.stored - 1)
        dispatch(tasks, body)
    }

    /// Runs body(0..<tasks) with every part on its own thread at the same time, so that parts may
    /// wait for each other (`PartRendezvous`). Returns false, having run nothing, when the pool
    /// cannot give each part a thread now (it is busy with another caller, or has fewer workers).
    package func runTogether(_ tasks: Int, _ body: (Int) -> Void) -> Bool {
        if tasks <= 1 { if tasks == 1 { body(0) }; return true }
        guard pthread_mutex_trylock(&runLock) == 0 else { return false }
        defer { pthread_mutex_unlock(&runLock) }
        resize(ComputeThreads.stored - 1)
        guard tasks <= width else { return false }
        dispatch(tasks, body)
        return true
    }

    /// Runs body(0..<tasks) for parts of a few microseconds (a matrix-vector product split by
    /// rows): part k goes to worker k if that worker claims it before the caller, which, after
    /// its own part, takes every part not yet claimed. A worker that is asleep, or late, then costs
    /// nothing but its wake-up, where `run` would wait for it (tens of microseconds on a VM for
    /// parts this short). Parts beyond 32, or a pool busy with another caller, run on the caller.
    /// While the workers are spinning they take their parts, each the same one every call, so a
    /// product split this way keeps its rows in the same core's cache.
    package func runShort(_ tasks: Int, _ body: (Int) -> Void) {
        if tasks <= 1 { if tasks == 1 { body(0) }; return }
        guard tasks <= 32, pthread_mutex_trylock(&runLock) == 0 else {
            for k in 0..<tasks { body(k) }
            return
        }
        defer { pthread_mutex_unlock(&runLock) }
        resize(ComputeThreads.stored - 1)
        let parallel = min(tasks, width)
        withoutActuallyEscaping(body) { body in
            let run = post(body, parts: parallel, short: true)
            for k in 0..<parallel where ckernels_pool_claim(run, k) != 0 {
                body(k)
                ckernels_pool_part_finished()
            }
            // Every part is claimed now; wait for those the workers took.
            if ckernels_pool_spin_for_parts(parallel, ckernels_pool_spin()) == 0 {
                pthread_mutex_lock(&mutex)
                while ckernels_pool_parts_finished() < parallel { pthread_cond_wait(&finished, &mutex) }
                pthread_mutex_unlock(&mutex)
            }
            // `short` stays set: a worker that wakes for this run only now must find its part
            // claimed, not take the run for one of `run`'s.
            pthread_mutex_lock(&mutex)
            job = nil
            pthread_mutex_unlock(&mutex)
        }
        for k in parallel..<tasks { body(k) }
    }

    /// Hands `body` to the workers as a new run of `parts` parts and wakes them; returns the
    /// run's generation. A short run's parts are claimed (none is claimed yet); an ordinary run
    /// waits for `parts − 1` workers. Called with runLock held.
    @discardableResult
    private func post(_ body: @escaping (Int) -> Void, parts: Int, short isShort: Bool) -> Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        job = body
        short = isShort
        taskCount = parts
        pending = isShort ? 0 : parts - 1
        generation &+= 1
        if isShort { ckernels_pool_open_claims(generation, parts) }
        ckernels_pool_publish(generation, pending)
        pthread_cond_broadcast(&wake)
        return generation
    }

    /// The parallel part of `run`; called with runLock held.
    private func dispatch(_ tasks: Int, _ body: (Int) -> Void) {
        let parallel = min(tasks, width)
        withoutActuallyEscaping(body) { body in
            post(body, parts: parallel, short: false)
            body(0)
            _ = ckernels_pool_spin_for_done(ckernels_pool_spin())
            pthread_mutex_lock(&mutex)
            while pending > 0 { pthread_cond_wait(&finished, &mutex) }
            job = nil
            pthread_mutex_unlock(&mutex)
        }
        // Parts beyond the pool's width run on the caller.
        for k in parallel..<tasks { body(k) }
    }

    /// Calls the job through the property, in a frame of its own: its reference to the closure
    /// is gone when this returns, before the part is counted finished, so the caller's
    /// `withoutActuallyEscaping` never sees it still held.
    @inline(never)
    private func runJob(_ index: Int) {
        job?(index)
    }

    private func workerLoop(_ context: WorkerContext) {
        let index = context.index
        var seen = context.startGeneration
        while true {
            _ = ckernels_pool_spin_for_generation(seen, ckernels_pool_spin())
            pthread_mutex_lock(&mutex)
            while generation == seen && !context.retired { pthread_cond_wait(&wake, &mutex) }
            if context.retired { pthread_mutex_unlock(&mutex); return }
            seen = generation
            let mine = index < taskCount, claimed = short
            pthread_mutex_unlock(&mutex)
            guard mine else { continue }
            if claimed {
                // A part of runShort: only if the caller has not taken it. The claim names the
                // run this worker woke for, so `job` below is that run's, and the caller cannot
                // return before this part is counted.
                guard ckernels_pool_claim(seen, index) != 0 else { continue }
                runJob(index)
                // Counted under the mutex, which the caller takes before it posts the next job:
                // the hand-over is then visible to ThreadSanitizer, which does not see the C
                // atomics (the caller may have seen the count by spinning, without the mutex).
                pthread_mutex_lock(&mutex)
                ckernels_pool_part_finished()
                pthread_cond_signal(&finished)
                pthread_mutex_unlock(&mutex)
                continue
            }
            // Called through the property, without a local copy: `run` checks that its
            // non-escaping closure is unreferenced once every part has reported. `job` cannot
            // change before this part reports, so reading it outside the lock is safe.
            runJob(index)
            pthread_mutex_lock(&mutex)
            pending -= 1
            ckernels_pool_publish(generation, pending)
            if pending == 0 { pthread_cond_signal(&finished) }
            pthread_mutex_unlock(&mutex)
        }
    }
}

/// One worker: its part index and whether it has been retired (set under the pool's mutex).
private final class WorkerContext {
    let pool: WorkerPool
    let index: Int
    let startGeneration: Int
    var retired = false
    init(pool: WorkerPool, index: Int, generation: Int) {
        self.pool = pool; self.index = index; startGeneration = generation
    }
}
