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

/// Every malformed model file is refused with a format error (AECV_ERR_FORMAT), never a crash
/// and never a silently wrong model, checked exhaustively on a tiny model: every truncation and
/// every single-byte change (all 255 other values at every position). Plus the inputs the
/// fuzzer (fuzz/) found, kept in fuzz/regressions/, as regression tests.
final class ModelFileCorruptionTests: XCTestCase {
    /// 1x2x2 -> 2 -> 4: 22 parameters, a ~900-byte file with every section.
    static let tinySpec = """
        {"preset": "custom", "input": [1, 2, 2], "seed": 3,
         "encoder": [{"type": "flatten"}, {"type": "dense", "out": 2}, {"type": "relu"}],
         "decoder": [{"type": "dense", "out": 4}, {"type": "sigmoid"}, {"type": "unflatten", "shape": [1, 2, 2]}]}
        """

    private func tinyFileBytes() throws -> [UInt8] {
        let m = try Autoencoder(specJSON: Self.tinySpec)
        try m.trainStep(inputs: [0.1, 0.9, 0.4, 0.6, 0.2, 0.3, 0.8, 0.7])
        m.history = [0.25]
        return ModelFile(model: m).encode()
    }

    /// What aecv_model_load does with the bytes of a file: decode, build, restore.
    private func load(_ bytes: [UInt8]) throws -> Autoencoder {
        let file = try ModelFile.decode(bytes)
        let model = try Autoencoder(spec: file.spec)
        try file.restore(into: model)
        return model
    }

    private func isFormatError(_ error: Error) -> Bool {
        if case AECVError.format = error { return true }
        return false
    }

    func testEveryTruncationIsAFormatError() throws {
        let bytes = try tinyFileBytes()
        XCTAssertNoThrow(try load(bytes))
        var wrong: [String] = []
        for length in 0..<bytes.count {
            do {
                _ = try load(Array(bytes[0..<length]))
                wrong.append("\(length): accepted")
            } catch {
                if !isFormatError(error) { wrong.append("\(length): \(error)") }
            }
        }
        XCTAssertEqual(wrong, [], "truncations of a \(bytes.count)-byte file not refused as format errors")
    }

    func testEverySingleByteChangeIsAFormatError() throws {
        let bytes = try tinyFileBytes()
        var wrong: [String] = []
        var tried = 0
        var corrupted = bytes
        for position in bytes.indices {
            for delta in 1...255 {
                corrupted[position] = bytes[position] &+ UInt8(delta)
                tried += 1
                do {
                    _ = try load(corrupted)
                    wrong.append("byte \(position) + \(delta): accepted")
                } catch {
                    if !isFormatError(error) { wrong.append("byte \(position) + \(delta): \(error)") }
                }
            }
            corrupted[position] = bytes[position]
        }
        XCTAssertEqual(tried, bytes.count * 255)
        XCTAssertEqual(Array(wrong.prefix(10)), [], "\(wrong.count) of \(tried) single-byte changes not refused as format errors")
    }

    /// The same changes with the checksum recomputed, so that the parser itself sees them (as a
    /// deliberately crafted file would): each is refused with a format error or loads a valid
    /// model; none may trap.
    func testEverySingleByteChangeWithAValidChecksumIsHandled() throws {
        let bytes = try tinyFileBytes()
        var corrupted = bytes
        var refused = 0, accepted = 0
        var wrong: [String] = []
        for position in 0..<(bytes.count - 4) {
            for delta: UInt8 in [1, 2, 0x10, 0x80, 0xFF] {
                corrupted[position] = bytes[position] &+ delta
                do {
                    _ = try load(withValidChecksum(corrupted))
                    accepted += 1
                } catch {
                    if isFormatError(error) { refused += 1 } else { wrong.append("byte \(position) + \(delta): \(error)") }
                }
            }
            corrupted[position] = bytes[position]
        }
        XCTAssertEqual(Array(wrong.prefix(10)), [])
        XCTAssertGreaterThan(refused, 0)
        XCTAssertGreaterThan(accepted, 0)   // e.g. a changed parameter value: a valid file
    }

    /// A file whose spec names a huge model but holds no parameters is refused while decoding,
    /// before the model is allocated (it used to allocate ~7 GB: 2^28 parameters with their
    /// gradients and Adam state, from a 131-byte file).
    func testSmallFileCannotMakeTheLoaderAllocateAHugeModel() throws {
        let spec = Array(#"{"preset":"dense","input":[1,128,128],"hidden":[8000],"latent":64}"#.utf8)
        var w = ByteWriter()
        w.writeBytes(ModelFile.magic)
        w.writeUInt16(1); w.writeUInt16(0); w.writeUInt32(2)
        w.writeString("SPEC"); w.writeUInt32(1); w.writeUInt64(UInt64(spec.count)); w.writeBytes(spec)
        w.writeString("PARM"); w.writeUInt32(1); w.writeUInt64(4); w.writeUInt32(0)
        w.writeUInt32(0)
        let bytes = withValidChecksum(w.bytes)
        XCTAssertThrowsError(try ModelFile.decode(bytes)) { error in
            XCTAssertTrue(self.isFormatError(error), "\(error)")
            XCTAssertTrue("\(error)".contains("0 tensors"), "\(error)")
        }
    }

    /// A section header that runs into the checksum (fuzzer crash: UInt64 of a negative count
    /// trapped in SectionedFile.decode).
    func testSectionHeaderOverlappingTheChecksum() throws {
        var w = ByteWriter()
        w.writeBytes(ModelFile.magic)
        w.writeUInt16(1); w.writeUInt16(0); w.writeUInt32(1)
        w.writeString("SPEC"); w.writeUInt32(1); w.writeUInt64(0)   // its last 4 bytes become the CRC
        XCTAssertThrowsError(try ModelFile.decode(withValidChecksum(w.bytes))) {
            XCTAssertTrue(self.isFormatError($0), "\($0)")
        }
    }

    /// Every input in fuzz/regressions/model_file/ (crashes found by `make fuzz`), as is and with
    /// its checksum recomputed, is refused with a format error.
    func testFuzzerRegressions() throws {
        let files = regressionFiles("model_file")
        XCTAssertFalse(files.isEmpty)
        for path in files {
            let bytes = try FileIO.readAll(path: path, maxBytes: 1 << 24)
            for variant in [bytes, bytes.count >= 20 ? withValidChecksum(bytes) : bytes] {
                XCTAssertThrowsError(try load(variant), path) { XCTAssertTrue(self.isFormatError($0), "\(path): \($0)") }
            }
        }
    }

    /// The fuzz regressions of safetensors files (if any) must be refused or import cleanly.
    func testSafeTensorsFuzzerRegressions() throws {
        let model = try Autoencoder(specJSON: Self.tinySpec)
        for path in regressionFiles("safetensors") {
            let bytes = try FileIO.readAll(path: path, maxBytes: 1 << 24)
            if let file = try? SafeTensors.decode(bytes: bytes) { _ = try? model.importSafeTensors(file) }
        }
    }

    private func regressionFiles(_ target: String) -> [String] {
        let here = "\(#filePath)"
        let tests = here[..<here.lastIndex(of: "/")!]
        let root = tests[..<tests.lastIndex(of: "/")!]
        let repo = root[..<root.lastIndex(of: "/")!]
        let directory = "\(repo)/fuzz/regressions/\(target)"
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
            }
            if !name.hasPrefix(".") { names.append("\(directory)/\(name)") }
        }
        return names.sorted()
    }
}

/// The bytes with their last 4 replaced by the CRC-32 of the rest (as fuzz/Harness.swift does).
func withValidChecksum(_ bytes: [UInt8]) -> [UInt8] {
    var fixed = bytes
    let end = fixed.count - 4
    let crc = fixed.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
    for k in 0..<4 { fixed[end + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
    return fixed
}
