import AECV
import AECVData
import Foundation
import XCTest

/// `aecv detect`, run as a process on a small detector saved by the Swift API: the JSON boxes
/// equal `Detector.detect` on the same PNG, and the overlay is the image scaled up 4x in RGB.
final class DetectCommandTests: XCTestCase {
    func testDetectWritesTheAPIBoxesAndAnOverlay() throws {
        let f = try CLIFixture.get()
        var spec = DetectorSpec(classes: 2, input: [1, 32, 32])
        spec.headChannels = 8
        spec.anchor = 10
        let detector = try Detector(spec: spec)
        try detector.save(to: f.path("d.aecvd"))
        var pixels = [UInt8](repeating: 0, count: 32 * 32)
        for y in 4..<16 { for x in 6..<18 { pixels[y * 32 + x] = 255 } }
        try PNG.write(RasterImage(width: 32, height: 32, channels: 1, pixels: pixels), to: f.path("square.png"))
        let r = try CLI.run(["detect", "d.aecvd", "--in", "square.png", "--json", "square.json",
                             "--out", "square-boxes.png", "--score-threshold", "0", "--class-names", "a,b"],
                            in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let image = pixels.map { Float($0) / 255 }
        let expected = try image.withUnsafeBufferPointer {
            try detector.detect(images: $0, batch: 1, scoreThreshold: 0, iouThreshold: 0.5)[0]
        }
        let json = try JSONValue.parse(String(contentsOfFile: f.path("square.json"), encoding: .utf8))
        guard case .array(let images) = json, case .array(let found)? = images.first?["detections"] else {
            return XCTFail("unexpected JSON \(json)")
        }
        XCTAssertEqual(found.count, expected.count)
        for (a, e) in zip(found, expected) {
            XCTAssertEqual(a["class"]?.asInt.map { Int($0) }, e.classIndex)
            XCTAssertEqual(a["name"]?.asString, ["a", "b"][e.classIndex])
            XCTAssertEqual(Float(try XCTUnwrap(a["score"]?.asDouble)), e.score, accuracy: 1e-6)
        }
        let overlay = try PNG.read(path: f.path("square-boxes.png"))
        XCTAssertEqual([overlay.width, overlay.height, overlay.channels], [128, 128, 3])
        // Wrong image size: a clear error, no crash.
        try PNG.write(RasterImage(width: 8, height: 8, fill: [0]), to: f.path("small.png"))
        let bad = try CLI.run(["detect", "d.aecvd", "--in", "small.png"], in: f.directory)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("takes 32×32"), bad.stderr)
    }
}
