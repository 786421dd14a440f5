import AECV
import AECVData
import Foundation
import XCTest

/// `aecv anomaly fit|score|heatmap`, run as processes on the fixture's small real data (its conv
/// model and .npy files), their outputs checked against the Swift API on the same images.
final class AnomalyCommandTests: XCTestCase {
    /// Scores in another process: the same code path and chunking, so equal up to float noise.
    private let scoreTolerance: Float = 1e-6

    private func assertClose(_ a: Float, _ b: Float, _ message: String = "",
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a, b, accuracy: scoreTolerance * max(1, abs(b)), message, file: file, line: line)
    }

    private func readJSON(_ path: String) throws -> JSONValue {
        try JSONValue.parse(String(contentsOfFile: path, encoding: .utf8))
    }

    func testFitWritesTheAPIThreshold() throws {
        let f = try CLIFixture.get()
        let model = try Autoencoder(contentsOf: f.convModel)
        for (metric, quantile) in [(AnomalyMetric.mse, 0.99), (.blurredMSE, 0.9)] {
            let out = "fit-\(metric.name).json"
            let r = try CLI.run(["anomaly", "fit", "conv.aecv", "--data", "train.npy", "--limit", "100",
                                 "--metric", metric.name, "--quantile", "\(quantile)", "--out", out], in: f.directory)
            XCTAssertEqual(r.status, 0, r.stderr)
            let scores = try model.anomalyScores(f.train.slice(0, count: 100), metric: metric)
            let expected = try anomalyThreshold(scores: scores, quantile: quantile)
            let json = try readJSON(f.path(out))
            XCTAssertEqual(json["metric"]?.asString, metric.name)
            XCTAssertEqual(json["quantile"]?.asDouble, quantile)
            XCTAssertEqual(json["n"]?.asInt, 100)
            assertClose(Float(try XCTUnwrap(json["threshold"]?.asDouble)), expected)
            XCTAssertTrue(r.stdout.contains("threshold \(Float(json["threshold"]!.asDouble!))"), r.stdout)
            XCTAssertTrue(r.stdout.contains("of 100 images of train.npy"), r.stdout)
        }
    }

    func testScoreCSVAndNPYMatchTheAPI() throws {
        let f = try CLIFixture.get()
        let model = try Autoencoder(contentsOf: f.convModel)
        // Calibrate on 256 normal images with the ssim metric, then score 64 others: the metric
        // comes from the file.
        let fit = try CLI.run(["anomaly", "fit", "conv.aecv", "--data", "train.npy", "--metric", "ssim",
                               "--quantile", "0.5", "--out", "ssim-threshold.json"], in: f.directory)
        XCTAssertEqual(fit.status, 0, fit.stderr)
        let threshold = Float(try XCTUnwrap(readJSON(f.path("ssim-threshold.json"))["threshold"]?.asDouble))
        let r = try CLI.run(["anomaly", "score", "conv.aecv", "--data", "test.npy", "--limit", "40",
                             "--threshold-file", "ssim-threshold.json", "--out", "scores/ssim.csv"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let expected = try model.anomalyScores(f.test.slice(0, count: 40), metric: .ssim)
        let lines = try String(contentsOfFile: f.path("scores/ssim.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "index,score,anomalous")
        XCTAssertEqual(lines.count, 41)
        var flagged = 0
        for (i, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",")
            XCTAssertEqual(fields.count, 3, String(line))
            XCTAssertEqual(Int(fields[0]), i)
            let score = try XCTUnwrap(Float(fields[1]))
            assertClose(score, expected[i], "image \(i)")
            XCTAssertEqual(fields[2], score > threshold ? "1" : "0", String(line))
            if score > threshold { flagged += 1 }
        }
        XCTAssertTrue(r.stdout.contains("40 images of test.npy (ssim)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("flagged \(flagged) of 40 as anomalous"), r.stdout)
        let mean = expected.reduce(0.0) { $0 + Double($1) } / 40
        XCTAssertTrue(r.stdout.contains("mean score \(TextFormat.significant(mean, 5))"), r.stdout)

        // .npy, default metric (mse), no threshold: float32 (N,).
        let n = try CLI.run(["anomaly", "score", "conv.aecv", "--data", "test.npy", "--limit", "16",
                             "--out", "scores.npy"], in: f.directory)
        XCTAssertEqual(n.status, 0, n.stderr)
        XCTAssertFalse(n.stdout.contains("flagged"), n.stdout)
        let array = try NPYArray.read(path: f.path("scores.npy"))
        XCTAssertEqual(array.shape, [16])
        guard case .float32(let values) = array.elements else { return XCTFail("not float32: \(array.elements)") }
        let mse = try model.anomalyScores(f.test.slice(0, count: 16), metric: .mse)
        for i in 0..<16 { assertClose(values[i], mse[i], "image \(i)") }
    }

    func testHeatmapPanelsAndBrightestPixel() throws {
        let f = try CLIFixture.get()
        let model = try Autoencoder(contentsOf: f.convModel)
        let count = 6, columns = 4, scale = 2
        let r = try CLI.run(["anomaly", "heatmap", "conv.aecv", "--data", "test.npy", "--limit", "\(count)",
                             "--columns", "\(columns)", "--scale", "\(scale)", "--out", "overlay.png"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let png = try PNG.read(path: f.path("overlay.png"))
        // Two groups (4 + 2 images) of three rows (image, heatmap, blend), 4 columns of 28×28 ×2.
        let tile = 28 * scale, gap = 2, groupGap = 8
        XCTAssertEqual(png.width, gap + columns * (tile + gap))
        XCTAssertEqual(png.height, gap + 6 * (tile + gap) + groupGap)
        XCTAssertEqual(png.channels, 3)

        let maps = try model.anomalyMaps(f.test.slice(0, count: count), metric: .mse)
        let plane = 28 * 28
        func panel(_ i: Int, _ kind: Int) -> [Int] {  // r + g + b per pixel of image i's panel
            let row = (i / columns) * 3 + kind, column = i % columns
            let x0 = gap + column * (tile + gap), y0 = gap + row * (tile + gap) + (row / 3) * groupGap
            return (0..<plane).map { p in
                let o = ((y0 + (p / 28) * scale) * png.width + x0 + (p % 28) * scale) * 3
                return Int(png.pixels[o]) + Int(png.pixels[o + 1]) + Int(png.pixels[o + 2])
            }
        }
        var matches = 0
        for i in 0..<count {
            let map = Array(maps[(i * plane)..<((i + 1) * plane)])
            let argmax = map.indices.max { map[$0] < map[$1] }!
            let heat = panel(i, 1)
            if heat[argmax] == heat.max()! && heat[argmax] > 0 { matches += 1 }
            // The image panel is the image in grey.
            let image = panel(i, 0)
            let expected = RasterImage(planar: f.test.slice(i, count: 1), shape: CLIFixture.shape).pixels
            XCTAssertLessThanOrEqual(zip(image, expected).map { abs($0 / 3 - Int($1)) }.max()!, CLITolerance.pixel)
        }
        XCTAssertGreaterThan(matches, 0, "no heatmap panel is brightest where the API's map is largest")
        // The image with the largest value of all maps reaches white (the top of the ramp).
        let top = (0..<count).max { maps[($0 * plane)..<(($0 + 1) * plane)].max()! < maps[($1 * plane)..<(($1 + 1) * plane)].max()! }!
        XCTAssertEqual(panel(top, 1).max(), 3 * 255)
        XCTAssertTrue(r.stdout.contains("wrote overlay.png: 6 images of test.npy"), r.stdout)
    }

    func testErrors() throws {
        let f = try CLIFixture.get()
        let unknown = try CLI.run(["anomaly", "score", "conv.aecv", "--data", "test.npy", "--metric", "psnr"],
                                  in: f.directory)
        assertOneLineError(unknown, contains: "'psnr' is invalid for '--metric", status: 64)
        XCTAssertTrue(unknown.stderr.contains("blurred_mse"), unknown.stderr)

        let missing = try CLI.run(["anomaly", "score", "conv.aecv", "--data", "test.npy",
                                   "--threshold-file", "no-such.json"], in: f.directory)
        assertOneLineError(missing, contains: "no-such.json")

        try "{\"metric\": \"mse\"}".write(toFile: f.path("bad-threshold.json"), atomically: true, encoding: .utf8)
        let bad = try CLI.run(["anomaly", "score", "conv.aecv", "--data", "test.npy",
                               "--threshold-file", "bad-threshold.json"], in: f.directory)
        assertOneLineError(bad, contains: "not a threshold file")

        let quantile = try CLI.run(["anomaly", "fit", "conv.aecv", "--data", "train.npy", "--quantile", "1.5"],
                                   in: f.directory)
        assertOneLineError(quantile, contains: "--quantile must be in [0, 1]", status: 64)

        let noModel = try CLI.run(["anomaly", "heatmap", "missing.aecv", "--data", "test.npy"], in: f.directory)
        assertOneLineError(noModel, contains: "missing.aecv")

        let format = try CLI.run(["anomaly", "score", "conv.aecv", "--data", "test.npy", "--out", "scores.txt"],
                                 in: f.directory)
        assertOneLineError(format, contains: "--out must end in .csv or .npy", status: 64)
    }
}
