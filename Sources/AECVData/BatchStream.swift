#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import AECV

/// Batches of images decoded on demand, for data sets that do not fit in memory as float32.
///
/// `workers` background threads decode the batches of one epoch's `order` (worker w takes
/// batches w, w + workers, ...) into at most `capacity` batches ahead of the consumer, so at
/// most (capacity + workers) · batchSize · C·H·W floats are alive at any time, whatever the
/// number of files. `next()` hands the batches out in order and blocks while the next one is
/// being decoded (that time is counted in `stallSeconds`: when it grows, decoding is the
/// bottleneck). A file that fails to decode stops the stream with its one-line error, or with
/// `skipBad` is left out of its batch (which is then smaller) and counted.
public final class BatchStream {
    public let shape: [Int]
    public let batchSize: Int
    public let order: [Int]
    let files: [String]
    let preprocessing: ImagePreprocessing
    let capacity: Int
    let skipBad: Bool
    public var batchCount: Int { (order.count + batchSize - 1) / batchSize }

    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var ready: [Int: [Float]] = [:]
    private var nextToHand = 0
    private var failure: AECVError?
    /// The batch whose decoding failed (the earliest, when several did): batches before it are
    /// still handed out, so an error surfaces at the step where its file was due.
    private var failedBatch = Int.max
    private var cancelled = false
    private var running = 0
    private var threads: [pthread_t] = []
    private var skippedCount = 0
    private var problem: String?
    /// Seconds `next()` waited for a batch that was not decoded yet.
    public private(set) var stallSeconds = 0.0

    /// `order`: indices into `files` for this epoch (e.g. shuffled). The prepared shape must be
    /// fixed (`preprocessing.shape` not nil).
    public init(files: [String], order: [Int], preprocessing: ImagePreprocessing, batchSize: Int,
                workers: Int = 1, capacity: Int = 4, skipBad: Bool = false) throws {
        guard let shape = preprocessing.shape else {
            throw AECVError.invalidArgument("streaming needs a fixed input size (give --size)")
        }
        precondition(batchSize >= 1 && workers >= 1 && capacity >= 1)
        precondition(order.allSatisfy { $0 >= 0 && $0 < files.count })
        self.files = files; self.order = order; self.preprocessing = preprocessing
        self.batchSize = batchSize; self.capacity = capacity; self.skipBad = skipBad; self.shape = shape
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
        for w in 0..<min(workers, max(1, batchCount)) {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(WorkerStart(stream: self, worker: w, workers: workers)).toOpaque()
            pthread_mutex_lock(&mutex); running += 1; pthread_mutex_unlock(&mutex)
            guard pthread_create(&thread, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.stream.work(worker: start.worker, workers: start.workers)
                return nil
            }, context) == 0 else {
                Unmanaged<WorkerStart>.fromOpaque(context).release()
                pthread_mutex_lock(&mutex); running -= 1; pthread_mutex_unlock(&mutex)
                cancel()
                throw AECVError.internal("cannot start a decoding thread")
            }
            threads.append(thread)
        }
    }

    private final class WorkerStart {
        let stream: BatchStream, worker: Int, workers: Int
        init(stream: BatchStream, worker: Int, workers: Int) { self.stream = stream; self.worker = worker; self.workers = workers }
    }

    deinit {
        cancel()
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    /// Stops the workers and waits for them.
    public func cancel() {
        pthread_mutex_lock(&mutex)
        cancelled = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
        for t in threads { pthread_join(t, nil) }
        threads = []
    }

    /// Images skipped as unreadable (with `skipBad`) so far, and the first message.
    public var skipped: (count: Int, first: String?) {
        pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }
        return (skippedCount, problem)
    }

    /// The next batch (count images of `shape`, flat), or nil after the last one.
    public func next() throws -> (images: [Float], count: Int)? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard nextToHand < batchCount else { return nil }
        var start: timespec? = nil
        while ready[nextToHand] == nil && nextToHand < failedBatch {
            if start == nil { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); start = t }
            pthread_cond_wait(&changed, &mutex)
        }
        if let s = start {
            var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t)
            stallSeconds += Double(t.tv_sec - s.tv_sec) + Double(t.tv_nsec - s.tv_nsec) * 1e-9
        }
        if ready[nextToHand] == nil, let failure = failure { throw failure }
        let images = ready.removeValue(forKey: nextToHand)!
        nextToHand += 1
        pthread_cond_broadcast(&changed)
        return (images, images.count / shape.reduce(1, *))
    }

    private func work(worker: Int, workers: Int) {
        let size = shape.reduce(1, *)
        var b = worker
        while b < batchCount {
            pthread_mutex_lock(&mutex)
            // Bounded: never more than `capacity` batches ahead of the consumer.
            while !cancelled && b < failedBatch && b - nextToHand >= capacity { pthread_cond_wait(&changed, &mutex) }
            let stop = cancelled || b > failedBatch
            pthread_mutex_unlock(&mutex)
            if stop { break }
            let indices = order[(b * batchSize)..<min(order.count, (b + 1) * batchSize)]
            var images = [Float](repeating: 0, count: indices.count * size)
            var filled = 0
            var error: AECVError?
            var skippedHere = 0
            var firstProblem: String?
            // With skipBad, a bad file is left out: the batch is one image smaller.
            for index in indices {
                let path = files[index]
                do {
                    let image = try preprocessing.load(path)
                    images.withUnsafeMutableBufferPointer { image.writePlanar(into: $0.baseAddress! + filled * size) }
                    filled += 1
                } catch let e as AECVError {
                    if !skipBad { error = e; break }
                    skippedHere += 1
                    if firstProblem == nil { firstProblem = e.message }
                } catch let other { error = .internal("\(path): \(other)"); break }
            }
            pthread_mutex_lock(&mutex)
            skippedCount += skippedHere
            if problem == nil { problem = firstProblem }
            if let e = error ?? (filled == 0 ? AECVError.format("no image of a batch could be read: \(firstProblem ?? "")") : nil) {
                if b < failedBatch { failure = e; failedBatch = b }
            } else {
                ready[b] = filled == indices.count ? images : Array(images[0..<(filled * size)])
            }
            pthread_cond_broadcast(&changed)
            pthread_mutex_unlock(&mutex)
            b += workers
        }
        pthread_mutex_lock(&mutex)
        running -= 1
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }
}
