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

/// Saving respects the file system (issue 19): special files are refused and left alone, a
/// symbolic link is followed and its target replaced, and a legal long name saves.
final class SpecialFileSaveTests: XCTestCase {
    private func kind(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
    }

    private func assertRefused(_ path: String, naming word: String, in dir: IOTestDirectory,
                               file: StaticString = #filePath, line: UInt = #line) {
        let before = kind(path)
        let entries = dir.entries()
        XCTAssertThrowsError(try FileIO.writeAtomically(path: path, bytes: [1, 2, 3]), file: file, line: line) { error in
            guard case AECVError.io(let message) = error else { return XCTFail("not an I/O error: \(error)", file: file, line: line) }
            XCTAssertTrue(message.contains(word), "\(message) should name \(word)", file: file, line: line)
            XCTAssertTrue(message.contains(path), "\(message) should name the path", file: file, line: line)
        }
        XCTAssertEqual(kind(path), before, "the special file must stay what it was", file: file, line: line)
        XCTAssertEqual(dir.entries(), entries, "no temporary file left behind", file: file, line: line)
    }

    func testFIFOIsRefused() throws {
        let dir = try IOTestDirectory(); defer { dir.remove() }
        let fifo = dir.file("pipe")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        assertRefused(fifo, naming: "FIFO", in: dir)
    }

    func testDirectoryIsRefused() throws {
        let dir = try IOTestDirectory(); defer { dir.remove() }
        XCTAssertEqual(mkdir(dir.file("sub"), 0o755), 0)
        assertRefused(dir.file("sub"), naming: "directory", in: dir)
    }

    func testCharacterDeviceIsRefused() throws {
        guard getuid() == 0 else {
            throw XCTSkip("SKIPPED LOUDLY: mknod of a character device needs root; the /dev/null case is untested")
        }
        let dir = try IOTestDirectory(); defer { dir.remove() }
        let null = dir.file("null")
        // /dev/null's numbers: major 1, minor 3 (glibc's makedev encoding for small numbers).
        XCTAssertEqual(mknod(null, S_IFCHR | 0o666, dev_t((1 << 8) | 3)), 0, "mknod: \(FileIO.describeErrno(errno))")
        assertRefused(null, naming: "character device", in: dir)
        // Through a symlink too.
        XCTAssertEqual(symlink("null", dir.file("link")), 0)
        assertRefused(dir.file("link"), naming: "character device", in: dir)
    }

    func testSymlinkIsFollowedAndKept() throws {
        let dir = try IOTestDirectory(); defer { dir.remove() }
        XCTAssertEqual(mkdir(dir.file("real"), 0o755), 0)
        try FileIO.writeAtomically(path: dir.file("real/model.aecv"), bytes: [9])
        XCTAssertEqual(symlink("real/model.aecv", dir.file("link.aecv")), 0)
        try FileIO.writeAtomically(path: dir.file("link.aecv"), bytes: [1, 2, 3])
        XCTAssertEqual(kind(dir.file("link.aecv")), S_IFLNK, "the link must stay a link")
        XCTAssertEqual(try FileIO.readAll(path: dir.file("real/model.aecv"), maxBytes: 100), [1, 2, 3])
        XCTAssertEqual(dir.entries(), ["link.aecv", "real"])
        // A dangling link creates its target.
        XCTAssertEqual(symlink("real/new.aecv", dir.file("dangling")), 0)
        try FileIO.writeAtomically(path: dir.file("dangling"), bytes: [7])
        XCTAssertEqual(try FileIO.readAll(path: dir.file("real/new.aecv"), maxBytes: 100), [7])
        XCTAssertEqual(kind(dir.file("dangling")), S_IFLNK)
    }

    func testLongestNamesSave() throws {
        let dir = try IOTestDirectory(); defer { dir.remove() }
        for length in [250, 255] {
            let name = String(repeating: "m", count: length - 5) + ".aecv"
            try FileIO.writeAtomically(path: dir.file(name), bytes: [UInt8(length & 0xff)])
            try FileIO.writeAtomically(path: dir.file(name), bytes: [1, UInt8(length & 0xff)])
            XCTAssertEqual(try FileIO.readAll(path: dir.file(name), maxBytes: 10), [1, UInt8(length & 0xff)])
        }
        // A multi-byte name cut inside a UTF-8 sequence still works (the temporary is bytes).
        let name = String(repeating: "é", count: 125) + "x"   // 251 bytes
        try FileIO.writeAtomically(path: dir.file(name), bytes: [5])
        XCTAssertEqual(try FileIO.readAll(path: dir.file(name), maxBytes: 10), [5])
        XCTAssertEqual(dir.entries().count, 3, "no temporary left: \(dir.entries())")
    }

    func testModelSaveToFIFORefusedAndModelUsable() throws {
        let dir = try IOTestDirectory(); defer { dir.remove() }
        let fifo = dir.file("m.aecv")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let m = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 4, 4]}"#)
        XCTAssertThrowsError(try m.save(to: fifo))
        XCTAssertEqual(kind(fifo), S_IFIFO)
        try m.save(to: dir.file("ok.aecv"))
    }
}
