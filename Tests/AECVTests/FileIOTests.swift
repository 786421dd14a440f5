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

/// A fresh directory under /tmp, removed (with its files) by `remove()`.
struct IOTestDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/aecv-test-XXXXXX".utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard result != nil else { throw AECVError.io("mkdtemp failed") }
        path = String(cString: template)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Names in the directory, without "." and "..".
    func entries() -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    func remove() {
        _ = chmod(path, 0o755)
        for name in entries() {
            let p = file(name)
            if rmdir(p) != 0 { unlink(p) }
        }
        rmdir(path)
    }
}

final class FileIOTests: XCTestCase {
    func testCRC32MatchesZlib() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
        XCTAssertEqual(CRC32.checksum([0]), 0xD202_EF8D)
        XCTAssertEqual(CRC32.checksum([UInt8](repeating: 0xFF, count: 32)), 0xFF6C_AB0B)
        // Slicing-by-8 and the byte loop agree at every length and alignment, and chaining works.
        let data = (0..<1031).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        func bytewise(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            return ~c
        }
        for start in 0..<9 {
            for end in stride(from: start, through: data.count, by: 13) {
                let slice = data[start..<end]
                XCTAssertEqual(slice.withUnsafeBytes { CRC32.checksum($0) }, bytewise(slice))
            }
        }
        let whole = CRC32.checksum(data)
        for split in [0, 1, 7, 8, 500, 1031] {
            let first = CRC32.checksum(Array(data[..<split]))
            XCTAssertEqual(CRC32.checksum(Array(data[split...]), initial: first), whole)
        }
    }

    func testByteWriterReaderRoundTrip() throws {
        var w = ByteWriter()
        w.writeUInt8(0xAB)
        w.writeUInt16(0x1234)
        w.writeUInt32(0xDEAD_BEEF)
        w.writeUInt64(0x0102_0304_0506_0708)
        w.writeInt32(-2)
        w.writeInt64(Int64.min)
        w.writeFloat(-1.5)
        w.writeDouble(0.1)
        w.writeLengthPrefixedString("héllo")
        w.writeFloats([1, -0.0, .infinity, 3.25])
        w.writeBytes([9, 8])
        // Explicit little-endian layout.
        XCTAssertEqual(Array(w.bytes[0..<7]), [0xAB, 0x34, 0x12, 0xEF, 0xBE, 0xAD, 0xDE])
        XCTAssertEqual(Array(w.bytes[7..<15]), [8, 7, 6, 5, 4, 3, 2, 1])
        XCTAssertEqual(Array(w.bytes[27..<31]), [0x00, 0x00, 0xC0, 0xBF])  // -1.5f
        XCTAssertTrue(w.patchUInt32(0x0A0B_0C0D, at: 3))
        XCTAssertEqual(Array(w.bytes[3..<7]), [0x0D, 0x0C, 0x0B, 0x0A])
        XCTAssertFalse(w.patchUInt64(1, at: w.count - 7))
        XCTAssertFalse(w.patchUInt32(1, at: -1))

        var r = ByteReader(w.bytes, name: "test")
        XCTAssertEqual(try r.readUInt8(), 0xAB)
        XCTAssertEqual(try r.readUInt16(), 0x1234)
        XCTAssertEqual(try r.readUInt32(), 0x0A0B_0C0D)
        XCTAssertEqual(try r.readUInt64(), 0x0102_0304_0506_0708)
        XCTAssertEqual(try r.readInt32(), -2)
        XCTAssertEqual(try r.readInt64(), Int64.min)
        XCTAssertEqual(try r.readFloat(), -1.5)
        XCTAssertEqual(try r.readDouble(), 0.1)
        XCTAssertEqual(try r.readLengthPrefixedString(), "héllo")
        let floats = try r.readFloats(count: 4)
        XCTAssertEqual(floats.map(\.bitPattern), [Float(1), -0.0, .infinity, 3.25].map(\.bitPattern))
        XCTAssertEqual(try r.readBytes(count: 2), [9, 8])
        XCTAssertTrue(r.isAtEnd)
        XCTAssertThrowsError(try r.readUInt8()) {
            XCTAssertEqual($0 as? AECVError, .format("test: truncated at offset \(w.count) (need 1 bytes, 0 left)"))
        }
    }

    func testByteReaderNeverTraps() throws {
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7]
        var r = ByteReader(bytes)
        XCTAssertThrowsError(try r.readUInt64())
        XCTAssertEqual(r.offset, 0)  // a failed read consumes nothing
        XCTAssertThrowsError(try r.readFloats(count: 2))
        XCTAssertThrowsError(try r.readFloats(count: -1))
        XCTAssertThrowsError(try r.readFloats(count: Int.max))
        XCTAssertThrowsError(try r.readBytes(count: -1))
        XCTAssertThrowsError(try r.readBytes(count: Int.max))
        XCTAssertThrowsError(try r.skip(8))
        XCTAssertThrowsError(try r.seek(to: 8))
        XCTAssertThrowsError(try r.seek(to: -1))
        XCTAssertEqual(try r.readUInt32(), 0x0403_0201)
        XCTAssertThrowsError(try r.readUInt32()) {
            XCTAssertTrue(($0 as? AECVError)?.message.contains("truncated at offset 4") ?? false)
        }
        XCTAssertEqual(try r.readUInt16(), 0x0605)
        // Length-prefixed strings: absurd lengths and invalid UTF-8 are format errors.
        var w = ByteWriter()
        w.writeUInt32(0xFFFF_FFFF)
        var r2 = ByteReader(w.bytes)
        XCTAssertThrowsError(try r2.readLengthPrefixedString())
        var w3 = ByteWriter()
        w3.writeUInt32(2)
        w3.writeBytes([0xC3, 0x28])
        var r3 = ByteReader(w3.bytes)
        XCTAssertThrowsError(try r3.readLengthPrefixedString()) {
            XCTAssertTrue(($0 as? AECVError)?.message.contains("invalid UTF-8") ?? false)
        }
        // Floats into a buffer.
        var w4 = ByteWriter()
        w4.writeFloats([0.5, 2])
        var r4 = ByteReader(w4.bytes)
        var out = [Float](repeating: 0, count: 3)
        XCTAssertThrowsError(try out.withUnsafeMutableBufferPointer { try r4.readFloats(into: $0) })
        try out.withUnsafeMutableBufferPointer { try r4.readFloats(into: UnsafeMutableBufferPointer(rebasing: $0[0..<2])) }
        XCTAssertEqual(out, [0.5, 2, 0])
    }

    func testReadAll() throws {
        let dir = try IOTestDirectory()
        defer { dir.remove() }
        let path = dir.file("data.bin")
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try FileIO.writeAtomically(path: path, bytes: payload)
        XCTAssertEqual(try FileIO.readAll(path: path, maxBytes: 100_000), payload)
        XCTAssertThrowsError(try FileIO.readAll(path: path, maxBytes: 99_999)) {
            guard case .format(let m)? = $0 as? AECVError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.contains(path))
        }
        XCTAssertThrowsError(try FileIO.readAll(path: dir.file("missing"), maxBytes: 10)) {
            XCTAssertEqual($0 as? AECVError, .io("cannot open \"\(dir.file("missing"))\": No such file or directory"))
        }
        XCTAssertThrowsError(try FileIO.readAll(path: dir.path, maxBytes: 10)) {
            guard case .io(let m)? = $0 as? AECVError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.contains(dir.path) && m.contains("Is a directory"), m)
        }
        // An empty file and a file without a size (/proc).
        try FileIO.writeAtomically(path: dir.file("empty"), bytes: [])
        XCTAssertEqual(try FileIO.readAll(path: dir.file("empty"), maxBytes: 0), [])
        let status = try FileIO.readAll(path: "/proc/self/status", maxBytes: 1 << 20)
        XCTAssertTrue(String(decoding: status, as: UTF8.self).contains("Name:"))
        XCTAssertThrowsError(try FileIO.readAll(path: "/proc/self/status", maxBytes: 10))
    }

    func testWriteAtomicallyReplacesAndCleansUp() throws {
        let dir = try IOTestDirectory()
        defer { dir.remove() }
        let path = dir.file("model.aecv")
        try FileIO.writeAtomically(path: path, bytes: [1, 2, 3])
        try FileIO.writeAtomically(path: path, bytes: [4, 5])
        XCTAssertEqual(try FileIO.readAll(path: path, maxBytes: 10), [4, 5])
        XCTAssertEqual(dir.entries(), ["model.aecv"])  // no temporary files left behind
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertNotEqual(info.st_mode & 0o044, 0, "a new file is not private like mkstemp's 0600")
        // A replaced file keeps its mode.
        chmod(path, 0o640)
        try FileIO.writeAtomically(path: path, bytes: [6])
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o640)
        // Relative paths resolve against the working directory.
        let cwd = getcwd(nil, 0)
        defer { if let cwd { chdir(cwd); free(cwd) } }
        XCTAssertEqual(chdir(dir.path), 0)
        try FileIO.writeAtomically(path: "relative.bin", bytes: [7])
        XCTAssertEqual(try FileIO.readAll(path: dir.file("relative.bin"), maxBytes: 1), [7])
    }

    func testWriteAtomicallyFailuresLeaveOldFile() throws {
        let dir = try IOTestDirectory()
        defer { dir.remove() }
        let path = dir.file("model.aecv")
        try FileIO.writeAtomically(path: path, bytes: [1, 2, 3])

        // Missing directory, empty path, a path that names a directory.
        XCTAssertThrowsError(try FileIO.writeAtomically(path: dir.file("nope/x"), bytes: [1])) {
            guard case .io(let m)? = $0 as? AECVError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.contains("nope/x") && m.contains("No such file or directory"), m)
        }
        XCTAssertThrowsError(try FileIO.writeAtomically(path: "", bytes: [1]))
        XCTAssertThrowsError(try FileIO.writeAtomically(path: dir.path + "/", bytes: [1]))
        XCTAssertEqual(mkdir(dir.file("sub"), 0o755), 0)
        XCTAssertEqual(mkdir(dir.file("sub/child"), 0o755), 0)
        XCTAssertThrowsError(try FileIO.writeAtomically(path: dir.file("sub"), bytes: [1])) {
            guard case .io(let m)? = $0 as? AECVError else { return XCTFail("\($0)") }
            // Refused before any temporary file is made (lstat), naming what it is.
            XCTAssertTrue(m.contains("is a directory, not a regular file"), m)
        }
        XCTAssertEqual(rmdir(dir.file("sub/child")), 0)
        XCTAssertEqual(dir.entries(), ["model.aecv", "sub"])

        // A write that fails part-way (file size limit, EFBIG): the old file is intact and the
        // temporary file is gone. Root ignores permissions, not RLIMIT_FSIZE.
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        var limited = old
        limited.rlim_cur = 4096
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited), 0)
        let big = [UInt8](repeating: 0x5A, count: 100_000)
        let result = Result { try FileIO.writeAtomically(path: path, bytes: big) }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        signal(SIGXFSZ, previousHandler)
        XCTAssertThrowsError(try result.get()) {
            guard case .io(let m)? = $0 as? AECVError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.contains("cannot write \"\(path)\""), m)
        }
        XCTAssertEqual(try FileIO.readAll(path: path, maxBytes: 10), [1, 2, 3])
        XCTAssertEqual(dir.entries(), ["model.aecv", "sub"])

        // A read-only directory (only meaningful when not root).
        if geteuid() != 0 {
            XCTAssertEqual(chmod(dir.path, 0o555), 0)
            XCTAssertThrowsError(try FileIO.writeAtomically(path: path, bytes: [9])) {
                guard case .io(let m)? = $0 as? AECVError else { return XCTFail("\($0)") }
                XCTAssertTrue(m.contains("Permission denied"), m)
            }
            chmod(dir.path, 0o755)
            XCTAssertEqual(try FileIO.readAll(path: path, maxBytes: 10), [1, 2, 3])
        }
    }
}
