import AECV
import AECVData
import CZlib
import Foundation
import XCTest

/// A small .gz whose header promises gigabytes (issue 19: a 1 MB gzip bomb once trained with
/// 1.07 GB RSS): the reader checks the header's size first and inflates only what the header
/// and the limit ask for.
final class IDXBombTests: XCTestCase {
    /// Peak resident memory of this process in KiB (VmHWM).
    private func peakKiB() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    /// An IDX uint8 file with the given header dimensions and `zeros` bytes of zero data, gzipped.
    private func writeBomb(_ path: String, dims: [UInt32], zeros: Int) {
        let file = gzopen(path, "wb1")!
        var header: [UInt8] = [0, 0, 8, UInt8(dims.count)]
        for d in dims { header += [UInt8(d >> 24), UInt8((d >> 16) & 255), UInt8((d >> 8) & 255), UInt8(d & 255)] }
        _ = header.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<(zeros >> 20) { _ = chunk.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) } }
        gzclose(file)
    }

    func testHeaderLargerThanTheLimitIsRefusedUnread() throws {
        let path = NSTemporaryDirectory() + "aecv-bomb-\(getpid())-a.gz"
        defer { unlink(path) }
        writeBomb(path, dims: [60000, 1000, 1000], zeros: 1 << 20)  // claims 60 GB
        XCTAssertThrowsError(try IDXFile.read(path: path)) { error in
            XCTAssertTrue("\(error)".contains("more than the limit"), "\(error)")
        }
    }

    func testLimitReadsOnlyTheFirstItems() throws {
        let path = NSTemporaryDirectory() + "aecv-bomb-\(getpid())-b.gz"
        defer { unlink(path) }
        // Claims 2000 images of 1000×1000 (2 GB); holds 8 MiB of zeros (a few KB gzipped).
        writeBomb(path, dims: [2000, 1000, 1000], zeros: 8 << 20)
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertLessThan(Int(info.st_size), 2 << 20, "the bomb is small on disk")
        let before = peakKiB()
        let file = try IDXFile.read(path: path, limit: 3)
        XCTAssertEqual(file.dimensions, [3, 1000, 1000])
        XCTAssertEqual(file.bytes.count, 3_000_000)
        // Without the limit the header's 2 GB is within maxBytes, but the stream runs out first:
        // refused as truncated, having held at most what it inflated (8 MiB), not 2 GB.
        XCTAssertThrowsError(try IDXFile.read(path: path)) { error in
            XCTAssertTrue("\(error)".contains("file has \(8 << 20)"), "\(error)")
        }
        let grown = peakKiB() - before
        XCTAssertLessThan(grown, 200 << 10, "peak memory grew by \(grown) KiB reading a bomb")
    }
}
