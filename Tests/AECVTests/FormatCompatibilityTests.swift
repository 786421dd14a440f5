import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Files written by the format-1.0 code (commit 529c846, by FormatFixtureWriter) still load:
/// - saving a loaded file again gives the same bytes (every tensor, the spec and the optimizer
///   state survived bit for bit: this part holds on any machine);
/// - the loaded models give the outputs the old code gave: reconstructions, codes, samples and
///   the evaluation loss; a classifier's probabilities; a detector's boxes. These match to a
///   relative 1e-5, not bit for bit, because OpenBLAS picks its GEMM kernels by CPU model
///   (Haswell, SkylakeX, Zen, ...) and the kernels sum in different orders; on the machine that
///   wrote the fixtures they are bit-identical.
final class FormatCompatibilityTests: XCTestCase {
    private let dir = Fixture.directory + "/format-1.0"

    private func expected(_ name: String) throws -> [Float] {
        let bytes = try FileIO.readAll(path: "\(dir)/\(name).expected.f32", maxBytes: 1 << 20)
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// |got - want| <= 1e-5 * max(1, |want|) for every value (see the type's comment for why).
    private func assertMatches(_ got: [Float], _ want: [Float], _ what: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, "\(what): count", file: file, line: line)
        let worst = zip(got, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 1e-5, "\(what): relative difference \(worst)", file: file, line: line)
    }

    /// Loading then saving gives back the fixture's bytes.
    private func assertResavesIdentically(_ path: String, save: (String) throws -> Void,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        let copy = NSTemporaryDirectory() + "/aecv-format10-\(getpid())-" + (path as NSString).lastPathComponent
        defer { unlink(copy) }
        try save(copy)
        let original = try FileIO.readAll(path: path, maxBytes: 1 << 24)
        let again = try FileIO.readAll(path: copy, maxBytes: 1 << 24)
        XCTAssertTrue(original == again, "\(path): re-saved file differs (\(again.count) vs \(original.count) bytes)",
                      file: file, line: line)
    }

    func testModelFilesOfFormat10() throws {
        for (name, json) in FormatFixtureWriter.specs {
            let m = try Autoencoder(contentsOf: "\(dir)/\(name).aecv")
            try assertResavesIdentically("\(dir)/\(name).aecv", save: m.save(to:))
            XCTAssertEqual(m.spec, try ModelSpec(json: json).filled(), name)
            XCTAssertEqual(m.step, 3, name)
            let probe = FormatFixtureWriter.images(2, m.inputSize, seed: 2)
            var out = try m.reconstruct(probe) + m.encode(probe)
            if m.isGenerative { out += try m.sample(count: 2, seed: 9) }
            out += [try m.evaluate(inputs: probe)]
            assertMatches(out, try expected(name), name)
        }
    }

    func testClassifierFileOfFormat10() throws {
        let c = try Classifier(contentsOf: "\(dir)/classifier.aecvc")
        try assertResavesIdentically("\(dir)/classifier.aecvc", save: c.save(to:))
        assertMatches(try c.predict(FormatFixtureWriter.images(2, 144, seed: 4)), try expected("classifier"), "classifier")
    }

    func testDetectorFileOfFormat10() throws {
        let d = try Detector(contentsOf: "\(dir)/detector.aecvd")
        try assertResavesIdentically("\(dir)/detector.aecvd", save: d.save(to:))
        let images = FormatFixtureWriter.images(2, 256, seed: 5)
        let found = try images.withUnsafeBufferPointer { try d.detect(images: $0, batch: 2, scoreThreshold: 0, iouThreshold: 0.5) }
        var flat: [Float] = []
        for image in found { for b in image.prefix(4) { flat += [Float(b.classIndex), b.score, b.xMin, b.yMin, b.xMax, b.yMax] } }
        assertMatches(flat, try expected("detector"), "detector")
    }
}
