import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import AECVKernels

/// `WorkerPool.run` and `runShort` run every part exactly once, whoever takes it: the caller
/// claims the parts of `runShort` that no worker has started, workers that wake late for an
/// older run must claim nothing of a newer one, and a pool busy with another caller runs the
/// parts on the caller.
final class WorkerPoolTests: XCTestCase {
    override func tearDown() { ComputeThreads.set(2) }

    /// Counts how often each part ran; a part is written by one thread at a time, and the pool
    /// returns only when all parts are done, so plain stores are enough.
    private final class Tally {
        let counts: UnsafeMutablePointer<Int>
        let size: Int
        init(_ size: Int) {
            self.size = size
            counts = .allocate(capacity: size)
            counts.initialize(repeating: 0, count: size)
        }
        deinit { counts.deallocate() }
        func reset() { for i in 0..<size { counts[i] = 0 } }
        var exactlyOnce: Bool { (0..<size).allSatisfy { counts[$0] == 1 } }
    }

    /// Back-to-back short runs of every size up to past the 32-part limit, with and without work
    /// in the parts (parts so short that the caller usually takes the workers' parts, and long
    /// enough that workers claim theirs), alternating with ordinary runs.
    func testEveryPartRunsOnce() {
        for threads in [2, 3] {
            ComputeThreads.set(threads)
            for tasks in 1...34 {
                let tally = Tally(tasks)
                for round in 0..<60 {
                    tally.reset()
                    let spin = round % 3 == 0 ? 0 : 2_000
                    WorkerPool.shared.runShort(tasks) { part in
                        var x = 0.0
                        for i in 0..<spin { x += Double(i) }
                        if x < 0 { print(x) }
                        tally.counts[part] += 1
                    }
                    XCTAssertTrue(tally.exactlyOnce, "runShort(\(tasks)) on \(threads) threads, round \(round)")
                    tally.reset()
                    WorkerPool.shared.run(tasks) { tally.counts[$0] += 1 }
                    XCTAssertTrue(tally.exactlyOnce, "run(\(tasks)) on \(threads) threads, round \(round)")
                }
            }
        }
    }

    /// A short run inside a part of an ordinary run finds the pool busy and runs its parts on
    /// that thread, one after another.
    func testShortRunsInsideAPartRunOnTheirThread() {
        ComputeThreads.set(2)
        let outer = 2, inner = 5
        let tally = Tally(outer * inner)
        WorkerPool.shared.run(outer) { o in
            let me = pthread_self()
            WorkerPool.shared.runShort(inner) { i in
                XCTAssertTrue(pthread_equal(me, pthread_self()) != 0, "inner part \(i) of \(o) left its thread")
                tally.counts[o * inner + i] += 1
            }
        }
        XCTAssertTrue(tally.exactlyOnce)
    }

    /// Short runs from two threads at once: one of them has the pool, the other runs its parts
    /// itself; both see each part once, over many rounds (with ThreadSanitizer, `make tsan`,
    /// through test_concurrency.c, which runs the same path from C).
    func testShortRunsFromTwoThreads() {
        ComputeThreads.set(2)
        final class Context {
            let tally = Tally(64)
            var failures = 0
        }
        let contexts = [Context(), Context()]
        var threads = [pthread_t](repeating: pthread_t(), count: 2)
        for k in 0..<2 {
            let raw = Unmanaged.passRetained(contexts[k]).toOpaque()
            pthread_create(&threads[k], nil, { raw in
                let c = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
                for round in 0..<400 {
                    let tasks = 2 + round % 7
                    for i in 0..<tasks { c.tally.counts[i] = 0 }
                    WorkerPool.shared.runShort(tasks) { c.tally.counts[$0] += 1 }
                    if !(0..<tasks).allSatisfy({ c.tally.counts[$0] == 1 }) { c.failures += 1 }
                }
                return nil
            }, raw)
        }
        for k in 0..<2 { pthread_join(threads[k], nil) }
        XCTAssertEqual(contexts[0].failures, 0)
        XCTAssertEqual(contexts[1].failures, 0)
    }
}
