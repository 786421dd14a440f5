import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV
#if canImport(Glibc)
import Glibc
#endif

/// Model files: bit-exact round trips, refusal of truncated and corrupted files, atomic saves.
final class ModelFileTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        var template = Array("/tmp/aecv-modelfile-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    override func tearDown() {
        _ = system("rm -rf '\(directory)'")
    }

    private func trainedModel(_ preset: String = "conv") throws -> (Autoencoder, [Float]) {
        let m = try Autoencoder(specJSON: "{\"preset\": \"\(preset)\", \"input\": [1, 8, 8], \"seed\": 5}")
        var random = RandomSource(seed: 1)
        let x = (0..<(4 * 64)).map { _ in random.uniform() }
        for _ in 0..<3 { try m.trainStep(inputs: x) }
        m.history = [0.5, 0.25]
        return (m, x)
    }

    func testRoundTripIsBitExactIncludingOptimizerState() throws {
        for preset in ["conv", "dense", "vae", "denoising"] {
            let (m, x) = try trainedModel(preset)
            let path = directory + "/m.aecv"
            try m.save(to: path)
            let loaded = try Autoencoder(contentsOf: path)
            XCTAssertEqual(loaded.spec, m.spec)
            XCTAssertEqual(loaded.history, [0.5, 0.25])
            XCTAssertEqual(loaded.step, 3)
            XCTAssertEqual(try loaded.reconstruct(x), try m.reconstruct(x), preset)
            // Training continues identically: optimizer moments and the generator were restored.
            XCTAssertEqual(try loaded.trainStep(inputs: x), try m.trainStep(inputs: x), preset)
            XCTAssertEqual(try loaded.reconstruct(x), try m.reconstruct(x), preset)
        }
    }

    func testTruncatedAndCorruptedFilesAreFormatErrors() throws {
        let (m, _) = try trainedModel("dense")
        let bytes = ModelFile(model: m).encode()
        var cuts = Array(0..<min(bytes.count, 600))
        cuts += stride(from: 600, to: bytes.count, by: 997).map { $0 }
        for cut in cuts {
            XCTAssertThrowsError(try ModelFile.decode(Array(bytes[0..<cut]))) { error in
                guard case AECVError.format = error else { return XCTFail("cut \(cut): \(error)") }
            }
        }
        var random = RandomSource(seed: 2)
        for _ in 0..<300 {
            var corrupted = bytes
            let i = Int(random.next() % UInt64(bytes.count))
            corrupted[i] ^= UInt8(1 + random.next() % 255)
            XCTAssertThrowsError(try ModelFile.decode(corrupted), "byte \(i)")
        }
    }

    func testFileErrors() throws {
        XCTAssertThrowsError(try Autoencoder(contentsOf: directory + "/missing.aecv")) {
            XCTAssertEqual(($0 as? AECVError)?.statusCode, 5)
        }
        let empty = directory + "/empty.aecv"
        try FileIO.writeAtomically(path: empty, bytes: [])
        XCTAssertThrowsError(try Autoencoder(contentsOf: empty)) { XCTAssertEqual(($0 as? AECVError)?.statusCode, 6) }
        XCTAssertThrowsError(try Autoencoder(contentsOf: directory)) { XCTAssertNotNil($0 as? AECVError) }
        let (m, _) = try trainedModel()
        XCTAssertThrowsError(try m.save(to: directory + "/no/such/dir/m.aecv")) {
            XCTAssertEqual(($0 as? AECVError)?.statusCode, 5)
        }
    }

    /// A newer major version is refused with a message naming the version; an unknown optional
    /// section is skipped; an unknown required one is refused.
    func testVersionAndSectionRules() throws {
        let (m, x) = try trainedModel("dense")
        var bytes = ModelFile(model: m).encode()
        func resealed(_ b: [UInt8]) -> [UInt8] {
            var body = Array(b[0..<(b.count - 4)])
            let crc = body.withUnsafeBytes { CRC32.checksum($0) }
            body += [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)]
            return body
        }
        var newer = bytes
        newer[8] = 2
        XCTAssertThrowsError(try ModelFile.decode(resealed(newer))) { error in
            XCTAssertTrue("\(error)".contains("2.0"), "\(error)")
        }
        // Append an unknown optional section "XTRA" and bump the section count.
        func withExtraSection(required: Bool) -> [UInt8] {
            var b = Array(bytes[0..<(bytes.count - 4)])
            b[12] += 1
            b += Array("XTRA".utf8) + [required ? 1 : 0, 0, 0, 0] + [3, 0, 0, 0, 0, 0, 0, 0] + [9, 9, 9]
            return resealed(b + [0, 0, 0, 0])
        }
        let loaded = try ModelFile.decode(withExtraSection(required: false))
        let restored = try Autoencoder(spec: loaded.spec)
        try loaded.restore(into: restored)
        XCTAssertEqual(try restored.reconstruct(x), try m.reconstruct(x))
        XCTAssertThrowsError(try ModelFile.decode(withExtraSection(required: true)))
        bytes[0] = UInt8(ascii: "X")
        XCTAssertThrowsError(try ModelFile.decode(bytes)) { XCTAssertTrue("\($0)".contains("magic")) }
    }

    /// A failed save (the target is a directory, so rename fails) leaves the old file intact.
    func testFailedSaveLeavesTheOldFile() throws {
        let (m, x) = try trainedModel()
        let path = directory + "/keep.aecv"
        try m.save(to: path)
        let original = try FileIO.readAll(path: path, maxBytes: 1 << 30)
        _ = chmod(directory, 0o500)   // not writable: the temporary file cannot be created
        defer { _ = chmod(directory, 0o700) }
        if getuid() != 0 {   // root ignores directory permissions
            try m.trainStep(inputs: x)
            XCTAssertThrowsError(try m.save(to: path))
            XCTAssertEqual(try FileIO.readAll(path: path, maxBytes: 1 << 30), original)
        }
        _ = chmod(directory, 0o700)
        let blocker = directory + "/dir.aecv"
        _ = mkdir(blocker, 0o700)
        XCTAssertThrowsError(try m.save(to: blocker))
        let leftovers = try listDirectory(directory).filter { $0.contains(".tmp") }
        XCTAssertEqual(leftovers, [], "temporary files are removed on failure")
    }

    private func listDirectory(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
