import XCTest
@testable import AECV

/// Files written by the format-1.0 code (commit 529c846, by FormatFixtureWriter) still load, and
/// the loaded models give bit-identical outputs: reconstructions, codes, samples and the
/// evaluation loss; a classifier's probabilities; a detector's boxes.
final class FormatCompatibilityTests: XCTestCase {
    private let dir = Fixture.directory + "/format-1.0"

    private func expected(_ name: String) throws -> [Float] {
        let bytes = try FileIO.readAll(path: "\(dir)/\(name).expected.f32", maxBytes: 1 << 20)
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    private func assertBitIdentical(_ got: [Float], _ want: [Float], _ what: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, "\(what): count", file: file, line: line)
        let differing = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0, "\(what): \(differing) of \(want.count) values differ", file: file, line: line)
    }

    func testModelFilesOfFormat10() throws {
        for (name, json) in FormatFixtureWriter.specs {
            let m = try Autoencoder(contentsOf: "\(dir)/\(name).aecv")
            XCTAssertEqual(m.spec, try ModelSpec(json: json).filled(), name)
            XCTAssertEqual(m.step, 3, name)
            let probe = FormatFixtureWriter.images(2, m.inputSize, seed: 2)
            var out = try m.reconstruct(probe) + m.encode(probe)
            if m.isGenerative { out += try m.sample(count: 2, seed: 9) }
            out += [try m.evaluate(inputs: probe)]
            assertBitIdentical(out, try expected(name), name)
        }
    }

    func testClassifierFileOfFormat10() throws {
        let c = try Classifier(contentsOf: "\(dir)/classifier.aecvc")
        assertBitIdentical(try c.predict(FormatFixtureWriter.images(2, 144, seed: 4)), try expected("classifier"), "classifier")
    }

    func testDetectorFileOfFormat10() throws {
        let d = try Detector(contentsOf: "\(dir)/detector.aecvd")
        let images = FormatFixtureWriter.images(2, 256, seed: 5)
        let found = try images.withUnsafeBufferPointer { try d.detect(images: $0, batch: 2, scoreThreshold: 0, iouThreshold: 0.5) }
        var flat: [Float] = []
        for image in found { for b in image.prefix(4) { flat += [Float(b.classIndex), b.score, b.xMin, b.yMin, b.xMax, b.yMax] } }
        assertBitIdentical(flat, try expected("detector"), "detector")
    }
}
