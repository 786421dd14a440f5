import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The worker pool is capped and shrinks (issue 19: after set(1024), 1024 threads lived on).
final class ThreadCapTests: XCTestCase {
    override func tearDown() { ComputeThreads.set(2) }

    /// Threads of this process (entries of /proc/self/task).
    private func threadCount() -> Int {
        guard let dir = opendir("/proc/self/task") else { return -1 }
        defer { closedir(dir) }
        var n = 0
        while let e = readdir(dir) { if e.pointee.d_name.0 != UInt8(ascii: ".") { n += 1 } }
        return n
    }

    private func trainOnce() throws {
        let m = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 8, 8]}"#)
        try m.trainStep(inputs: [Float](repeating: 0.5, count: 64 * 64))
    }

    func testCapAndRetirement() throws {
        XCTAssertEqual(ComputeThreads.limit, min(4 * Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 64))
        XCTAssertEqual(ComputeThreads.set(1024), ComputeThreads.limit, "1024 is capped")
        XCTAssertEqual(ComputeThreads.current, ComputeThreads.limit)
        try trainOnce()
        XCTAssertEqual(WorkerPool.shared.workerCount, ComputeThreads.limit - 1)
        let many = threadCount()
        ComputeThreads.set(1)
        try trainOnce()
        XCTAssertEqual(WorkerPool.shared.workerCount, 0)
        // Retired workers exit on their own; wait for them (bounded, not timed).
        var now = threadCount()
        for _ in 0..<200 where now > many - (ComputeThreads.limit - 1) { usleep(50_000); now = threadCount() }
        XCTAssertLessThanOrEqual(now, many - (ComputeThreads.limit - 1), "retired workers did not exit")
    }

    /// A call reads the setting once: `current` inside forCall keeps its value while another
    /// thread changes the setting.
    func testSettingIsReadOncePerCall() {
        ComputeThreads.set(2)
        ComputeThreads.forCall {
            let seen = ComputeThreads.current
            var thread = pthread_t()
            pthread_create(&thread, nil, { _ in ComputeThreads.set(1); return nil }, nil)
            pthread_join(thread, nil)
            XCTAssertEqual(ComputeThreads.current, seen)
        }
        XCTAssertEqual(ComputeThreads.current, 1)
    }
}
