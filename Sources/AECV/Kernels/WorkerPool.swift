#if canImport(Glibc)
import Glibc
#endif

/// The library's own threads: `threads − 1` persistent workers that run the parts of a split
/// batch next to the calling thread. Each part runs single-threaded OpenBLAS GEMMs, so the two
/// kinds of threads never compete for cores (ComputeThreads keeps OpenBLAS at 1 thread).
///
/// `run` is used by one caller at a time; a second caller that finds the pool busy (another
/// model on another thread) runs its parts itself, one after another, rather than wait.
final class WorkerPool {
    static let shared = WorkerPool()

    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var finished = pthread_cond_t()
    private var runLock = pthread_mutex_t()
    private var workers: [pthread_t] = []
    private var generation = 0
    private var pending = 0
    private var taskCount = 0
    private var job: ((Int) -> Void)?

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
        taskCount = 0
        job = nil
        initializeLocks()
        ComputeThreads.forkedChildNeedsWorkers()
    }

    /// Number of parts `run` executes in parallel (workers + the caller).
    var width: Int { workers.count + 1 }

    /// Grows the pool to `count` workers (never shrinks: idle workers only sleep).
    func ensureWorkers(_ count: Int) {
        pthread_mutex_lock(&runLock)
        defer { pthread_mutex_unlock(&runLock) }
        while workers.count < count {
            let index = workers.count + 1
            var thread = pthread_t()
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            guard pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.workerLoop(index: context.index)
                return nil
            }, context) == 0 else {
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                return
            }
            pthread_detach(thread)
            workers.append(thread)
        }
    }

    /// Runs body(0..<tasks), part 0 on the calling thread; returns when all are done.
    func run(_ tasks: Int, _ body: (Int) -> Void) {
        if tasks <= 1 { if tasks == 1 { body(0) }; return }
        guard pthread_mutex_trylock(&runLock) == 0 else {
            for k in 0..<tasks { body(k) }
            return
        }
        defer { pthread_mutex_unlock(&runLock) }
        let parallel = min(tasks, width)
        withoutActuallyEscaping(body) { body in
            pthread_mutex_lock(&mutex)
            job = body
            taskCount = parallel
            pending = parallel - 1
            generation &+= 1
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            body(0)
            pthread_mutex_lock(&mutex)
            while pending > 0 { pthread_cond_wait(&finished, &mutex) }
            job = nil
            pthread_mutex_unlock(&mutex)
        }
        // Parts beyond the pool's width run on the caller.
        for k in parallel..<tasks { body(k) }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            pthread_mutex_lock(&mutex)
            while generation == seen { pthread_cond_wait(&wake, &mutex) }
            seen = generation
            let mine = index < taskCount
            pthread_mutex_unlock(&mutex)
            guard mine else { continue }
            // Called through the property, without a local copy: `run` checks that its
            // non-escaping closure is unreferenced once every part has reported. `job` cannot
            // change before this part reports, so reading it outside the lock is safe.
            job?(index)
            pthread_mutex_lock(&mutex)
            pending -= 1
            if pending == 0 { pthread_cond_signal(&finished) }
            pthread_mutex_unlock(&mutex)
        }
    }
}

private final class WorkerContext {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) { self.pool = pool; self.index = index }
}
