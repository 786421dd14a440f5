import Foundation
import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Tiled pixel maps, image scores and the calibration stored with the model
/// (Inspection/AnomalyScoring.swift, AnomalyCalibration.swift, the model file's ANOM section).
final class InspectionScoringTests: XCTestCase {
    private func images(_ count: Int, seed: UInt64) -> [Float] {
        var random = RandomSource(seed: seed)
        return (0..<count).map { _ in random.uniform() }
    }

    private func conv(_ c: Int, _ h: Int, _ w: Int) throws -> Autoencoder {
        try Autoencoder(specJSON: #"{"preset": "conv", "input": [\#(c), \#(h), \#(w)], "hidden": [4, 8]}"#)
    }

    private func pixelMaps(_ m: Autoencoder, _ x: [Float], batch: Int, height: Int, width: Int,
                           scoring: AnomalyScoring) throws -> [Float] {
        var maps = [Float](repeating: .nan, count: batch * height * width)
        try x.withUnsafeBufferPointer { x in
            try maps.withUnsafeMutableBufferPointer {
                try m.anomalyPixelMaps(inputs: x, batch: batch, height: height, width: width, scoring: scoring, into: $0)
            }
        }
        return maps
    }

    private func imageScores(_ m: Autoencoder, _ x: [Float], batch: Int, height: Int, width: Int,
                             scoring: AnomalyScoring) throws -> [Float] {
        var scores = [Float](repeating: .nan, count: batch)
        try x.withUnsafeBufferPointer { x in
            try scores.withUnsafeMutableBufferPointer {
                try m.anomalyImageScores(inputs: x, batch: batch, height: height, width: width, scoring: scoring, into: $0)
            }
        }
        return scores
    }

    /// An image of the input's size is one tile: its pixel map is the channel mean of the
    /// metric's map, and the mean reduction is the old score.
    func testUntiledPixelMapIsTheChannelMeanOfTheMetricMap() throws {
        let m = try conv(3, 8, 8)
        let x = images(5 * 192, seed: 1)
        for metric in AnomalyMetric.allCases {
            let scoring = try AnomalyScoring(metric: metric)
            let maps = try pixelMaps(m, x, batch: 5, height: 8, width: 8, scoring: scoring)
            let full = try m.anomalyMaps(x, metric: metric)
            var expected = [Float](repeating: 0, count: 5 * 64)
            for i in 0..<5 { for c in 0..<3 { for p in 0..<64 { expected[i * 64 + p] += full[i * 192 + c * 64 + p] / 3 } } }
            XCTAssertLessThan(maxAbsoluteDifference(maps, expected), 1e-6, "\(metric)")
            let scores = try imageScores(m, x, batch: 5, height: 8, width: 8, scoring: scoring)
            let old = try m.anomalyScores(x, metric: metric)
            for i in 0..<5 { XCTAssertEqual(scores[i], old[i], accuracy: 1e-6 * max(1, old[i]), "\(metric) image \(i)") }
        }
    }

    /// Overlapping tiles, against a reference that maps every tile on its own and averages.
    func testTiledPixelMapAveragesTheMapsOfOverlappingTiles() throws {
        let m = try conv(1, 8, 8)
        let (h, w) = (13, 20)
        let x = images(2 * h * w, seed: 2)
        for stride in [0, 3, 8] {
            let scoring = try AnomalyScoring(metric: .blurredMSE, tileStride: stride)
            let maps = try pixelMaps(m, x, batch: 2, height: h, width: w, scoring: scoring)
            let s = stride == 0 ? 4 : stride
            func origins(_ length: Int) -> [Int] {
                var o = Array(Swift.stride(from: 0, to: length - 8, by: s))
                o.append(length - 8)
                return o
            }
            for image in 0..<2 {
                var sum = [Float](repeating: 0, count: h * w), cover = [Float](repeating: 0, count: h * w)
                for r0 in origins(h) {
                    for c0 in origins(w) {
                        var tile = [Float](repeating: 0, count: 64)
                        for r in 0..<8 { for c in 0..<8 { tile[r * 8 + c] = x[image * h * w + (r0 + r) * w + c0 + c] } }
                        let map = try m.anomalyMaps(tile, metric: .blurredMSE)
                        for r in 0..<8 { for c in 0..<8 { sum[(r0 + r) * w + c0 + c] += map[r * 8 + c]; cover[(r0 + r) * w + c0 + c] += 1 } }
                    }
                }
                let expected = zip(sum, cover).map { $0 / $1 }
                XCTAssertLessThan(maxAbsoluteDifference(Array(maps[(image * h * w)..<((image + 1) * h * w)]), expected), 1e-6,
                                  "stride \(stride) image \(image)")
            }
        }
    }

    func testImagesSmallerThanTheInputAreRefused() throws {
        let m = try conv(1, 8, 8)
        XCTAssertThrowsError(try pixelMaps(m, images(7 * 20, seed: 3), batch: 1, height: 7, width: 20,
                                           scoring: try AnomalyScoring())) {
            XCTAssertTrue(($0 as? AECVError)?.message.contains("smaller than the model's input") == true, "\($0)")
        }
        XCTAssertThrowsError(try AnomalyScoring(tileStride: -1))
    }

    // MARK: - Calibration

    private func calibrate(_ m: Autoencoder, _ x: [Float], batch: Int, height: Int, width: Int, scoring: AnomalyScoring,
                           quantile: Double, labels: [UInt8]? = nil, masks: [UInt8]? = nil) throws -> AnomalyCalibration {
        try x.withUnsafeBufferPointer { x in
            func run(_ l: UnsafeBufferPointer<UInt8>?, _ k: UnsafeBufferPointer<UInt8>?) throws -> AnomalyCalibration {
                try m.calibrateAnomaly(inputs: x, batch: batch, height: height, width: width, scoring: scoring,
                                       quantile: quantile, labels: l, masks: k)
            }
            func withMasks(_ l: UnsafeBufferPointer<UInt8>?) throws -> AnomalyCalibration {
                guard let masks else { return try run(l, nil) }
                return try masks.withUnsafeBufferPointer { try run(l, $0) }
            }
            guard let labels else { return try withMasks(nil) }
            return try labels.withUnsafeBufferPointer { try withMasks($0) }
        }
    }

    func testGoodOnlyCalibrationIsTheQuantileOfScoresAndPixels() throws {
        let m = try conv(1, 8, 8)
        let x = images(30 * 16 * 16, seed: 4)
        let scoring = try AnomalyScoring(metric: .mse, reduction: .topMean(0.1))
        let c = try calibrate(m, x, batch: 30, height: 16, width: 16, scoring: scoring, quantile: 0.9)
        let scores = try imageScores(m, x, batch: 30, height: 16, width: 16, scoring: scoring)
        let maps = try pixelMaps(m, x, batch: 30, height: 16, width: 16, scoring: scoring)
        XCTAssertEqual(c.imageThreshold, try anomalyThreshold(scores: scores, quantile: 0.9))
        XCTAssertEqual(c.pixelThreshold, try anomalyThreshold(scores: maps, quantile: 0.9))
        XCTAssertEqual(c.imageMethod, .quantile(0.9))
        XCTAssertEqual(m.anomalyCalibration, c)
        // The stored decision: flags = score > threshold; 3 of 30 lie above the 0.9 quantile.
        var s = [Float](repeating: 0, count: 30), flags = [UInt8](repeating: 9, count: 30)
        try x.withUnsafeBufferPointer { x in try s.withUnsafeMutableBufferPointer { s in try flags.withUnsafeMutableBufferPointer {
            try m.anomalyPredict(inputs: x, batch: 30, height: 16, width: 16, scores: s, flags: $0)
        } } }
        XCTAssertEqual(s, scores)
        XCTAssertEqual(flags, scores.map { $0 > c.imageThreshold ? 1 : 0 })
        XCTAssertEqual(flags.filter { $0 == 1 }.count, 3)
    }

    func testLabeledCalibrationUsesTheBestF1AndAFailedOneKeepsThePrevious() throws {
        let m = try conv(1, 8, 8)
        var x = images(20 * 64, seed: 5)
        var labels = [UInt8](repeating: 0, count: 20), masks = [UInt8](repeating: 0, count: 20 * 64)
        for i in stride(from: 0, to: 20, by: 4) {  // a bright square in every fourth image
            labels[i] = 1
            for r in 2..<5 { for c in 2..<5 { x[i * 64 + r * 8 + c] = 8; masks[i * 64 + r * 8 + c] = 1 } }
        }
        let scoring = try AnomalyScoring(metric: .mse, reduction: .max)
        let c = try calibrate(m, x, batch: 20, height: 8, width: 8, scoring: scoring, quantile: 0.99, labels: labels, masks: masks)
        let scores = try imageScores(m, x, batch: 20, height: 8, width: 8, scoring: scoring)
        let maps = try pixelMaps(m, x, batch: 20, height: 8, width: 8, scoring: scoring)
        let image = try scores.withUnsafeBufferPointer { s in try labels.withUnsafeBufferPointer { try InspectionMetrics.bestF1(scores: s, labels: $0) } }
        let pixel = try maps.withUnsafeBufferPointer { s in try masks.withUnsafeBufferPointer { try InspectionMetrics.bestF1(scores: s, labels: $0) } }
        XCTAssertEqual(c.imageThreshold, image.threshold)
        XCTAssertEqual(c.pixelThreshold, pixel.threshold)
        XCTAssertEqual(c.imageMethod, .bestF1)
        XCTAssertEqual(c.pixelMethod, .bestF1)
        // One class only: an error, and the calibration above stays.
        XCTAssertThrowsError(try calibrate(m, x, batch: 20, height: 8, width: 8, scoring: scoring, quantile: 0.5,
                                           labels: [UInt8](repeating: 0, count: 20)))
        XCTAssertThrowsError(try calibrate(m, x, batch: 20, height: 8, width: 8, scoring: scoring, quantile: 0.5,
                                           labels: nil, masks: masks)) {
            XCTAssertTrue(($0 as? AECVError)?.message.contains("without labels") == true, "\($0)")
        }
        XCTAssertEqual(m.anomalyCalibration, c)
    }

    func testCalibrationTravelsWithTheModelFile() throws {
        let dir = NSTemporaryDirectory() + "aecv-calibration-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = try conv(3, 8, 8)
        let x = images(6 * 3 * 12 * 12, seed: 6)
        // Without a calibration the file has no ANOM section (byte-identical to before).
        try m.save(to: dir + "/plain.aecv")
        XCTAssertNil(try Autoencoder(contentsOf: dir + "/plain.aecv").anomalyCalibration)
        let c = try calibrate(m, x, batch: 6, height: 12, width: 12,
                              scoring: try AnomalyScoring(metric: .ssim, reduction: .topMean(0.02), tileStride: 3), quantile: 0.75)
        try m.save(to: dir + "/calibrated.aecv")
        let loaded = try Autoencoder(contentsOf: dir + "/calibrated.aecv")
        XCTAssertEqual(loaded.anomalyCalibration, c)
        XCTAssertEqual(loaded.anomalyCalibrationJSON, m.anomalyCalibrationJSON)
        let plain = try Data(contentsOf: URL(fileURLWithPath: dir + "/plain.aecv"))
        let calibrated = try Data(contentsOf: URL(fileURLWithPath: dir + "/calibrated.aecv"))
        XCTAssertEqual(calibrated.count - plain.count, Array(c.json.serialized().utf8).count + 16,
                       "one more section: tag, flags, length (16 bytes) and the JSON")
        // The loaded model decides as the saved one did.
        var a = [Float](repeating: 0, count: 6), b = a, fa = [UInt8](repeating: 0, count: 6), fb = fa
        try x.withUnsafeBufferPointer { x in
            try a.withUnsafeMutableBufferPointer { s in try fa.withUnsafeMutableBufferPointer { try m.anomalyPredict(inputs: x, batch: 6, height: 12, width: 12, scores: s, flags: $0) } }
            try b.withUnsafeMutableBufferPointer { s in try fb.withUnsafeMutableBufferPointer { try loaded.anomalyPredict(inputs: x, batch: 6, height: 12, width: 12, scores: s, flags: $0) } }
        }
        XCTAssertEqual(a, b)
        XCTAssertEqual(fa, fb)
    }

    func testPredictWithoutACalibrationSaysHowToGetOne() throws {
        let m = try conv(1, 8, 8)
        let x = images(64, seed: 7)
        var s = [Float](repeating: 0, count: 1), f = [UInt8](repeating: 0, count: 1)
        XCTAssertThrowsError(try x.withUnsafeBufferPointer { x in try s.withUnsafeMutableBufferPointer { s in try f.withUnsafeMutableBufferPointer {
            try m.anomalyPredict(inputs: x, batch: 1, height: 8, width: 8, scores: s, flags: $0)
        } } }) {
            XCTAssertEqual(($0 as? AECVError)?.statusCode, AECVError.unsupported("").statusCode)
            XCTAssertTrue(($0 as? AECVError)?.message.contains("calibrate") == true, "\($0)")
        }
    }
}
