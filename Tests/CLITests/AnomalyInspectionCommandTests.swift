import AECV
import AECVData
import Foundation
import XCTest

/// `aecv anomaly bench` on a synthetic MVTec AD category, the calibration stored by `fit` and
/// used by `score`, and `heatmap --images` on a 1024×1024 image (tiled through the core).
final class AnomalyInspectionCommandTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "aecv-inspection-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func readJSON(_ path: String) throws -> JSONValue {
        try JSONValue.parse(String(contentsOfFile: path, encoding: .utf8))
    }

    /// A conv model of `shape` after one Adam step on flat grey images, saved to `name`.
    private func tinyModel(_ shape: [Int], _ name: String) throws -> String {
        let net = try Autoencoder(spec: ModelSpec(preset: .conv, input: shape, seed: 3))
        let x = [Float](repeating: 0.3, count: 4 * shape.reduce(1, *))
        _ = try x.withUnsafeBufferPointer { try net.trainStep(inputs: $0, targets: nil, batch: 4) }
        let path = directory + "/" + name
        try net.save(to: path)
        return path
    }

    /// Bright defects (240–255) on a flat 70–82 texture: for any reconstruction r of a defect
    /// pixel below 0.6 its squared error exceeds 0.16, while a texture pixel's stays below 0.09
    /// for r in [0, 0.6], so the MSE map's maximum separates defect from good images as soon as
    /// the model reconstructs roughly the texture's level (seeded run: image AUROC 1.0).
    func testBenchEndToEnd() throws {
        let s = try SyntheticMVTec.write(root: directory + "/cat")
        let r = try CLI.run(["anomaly", "bench", s.root, "--size", "32", "--epochs", "2", "--batch-size", "8",
                             "--metric", "mse", "--reduction", "max", "--json", "metrics.json", "--out", "run"],
                            in: directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try readJSON(directory + "/metrics.json")
        for key in ["image_auroc", "pixel_auroc", "pro", "image_f1_max", "pixel_f1_max"] {
            let v = try XCTUnwrap(json[key]?.asDouble, key)
            XCTAssertTrue(v >= 0 && v <= 1, "\(key) = \(v)")
        }
        XCTAssertGreaterThan(try XCTUnwrap(json["image_auroc"]?.asDouble), 0.9, r.stdout)
        for type in SyntheticMVTec.types {
            XCTAssertEqual(json["per_type"]?[type]?["images"]?.asInt, Int64(s.goodCount + s.defectCount))
            let v = try XCTUnwrap(json["per_type"]?[type]?["pixel_auroc"]?.asDouble)
            XCTAssertTrue(v >= 0 && v <= 1)
        }
        XCTAssertTrue(r.stdout.contains("image AUROC"), r.stdout)
        XCTAssertTrue(r.stdout.contains("overall"), r.stdout)
        // The model carries its calibration: reading it back gives the JSON's thresholds.
        let model = try Autoencoder(contentsOf: directory + "/run/model.aecv")
        let c = try XCTUnwrap(model.anomalyCalibration)
        XCTAssertEqual(c.scoring.metric, .mse)
        XCTAssertEqual(c.scoring.reduction, .max)
        XCTAssertEqual(Double(c.imageThreshold), try XCTUnwrap(json["image_threshold"]?.asDouble), accuracy: 1e-6)
        XCTAssertEqual(c.count, 6)  // 15% of 40 held out
        // One overlay per test image: 4 panels of 32×32 with 2-pixel gaps.
        let overlays = try FileManager.default.contentsOfDirectory(atPath: directory + "/run/overlays")
        XCTAssertEqual(overlays.count, s.goodCount + 2 * s.defectCount)
        let overlay = try PNG.read(path: directory + "/run/overlays/square_000.png")
        XCTAssertEqual(overlay.width, 2 + 4 * 34)
        XCTAssertEqual(overlay.height, 36)
        // The ground-truth panel (4th) is white exactly on the defect.
        let d = SyntheticMVTec.defect("square", 0, side: 32)
        let x0 = 2 + 3 * 34
        var white = 0
        for y in 0..<32 { for x in 0..<32 where overlay.pixels[((2 + y) * overlay.width + x0 + x) * 3] == 255 { white += 1 } }
        XCTAssertEqual(white, d.w * d.h)
    }

    /// With --patch the model sees 16×16 patches and the 32×32 images are scored by tiles; the
    /// default recipe (ssim, top mean) runs and the measures are in [0, 1].
    func testBenchWithPatchesAndTheDefaultRecipe() throws {
        let s = try SyntheticMVTec.write(root: directory + "/cat", trainCount: 20, goodCount: 4, defectCount: 3)
        let r = try CLI.run(["anomaly", "bench", s.root, "--size", "32", "--patch", "16", "--epochs", "1",
                             "--json", "out/m.json", "--out", "run", "--overlays", "2"], in: directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try readJSON(directory + "/out/m.json")
        for key in ["image_auroc", "pixel_auroc", "pro"] {
            let v = try XCTUnwrap(json[key]?.asDouble, key)
            XCTAssertTrue(v >= 0 && v <= 1, "\(key) = \(v)")
        }
        XCTAssertEqual(json["metric"]?.asString, "ssim")
        XCTAssertEqual(json["reduction"]?.asString, "top_mean:0.02")
        XCTAssertEqual(json["spec"]?["preset"]?.asString, "denoising")
        XCTAssertEqual(json["spec"]?["loss"]?.asString, "mse_ssim")
        XCTAssertEqual(json["spec"]?["input"], .array([.int(1), .int(16), .int(16)]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/run/overlays").count, 2)
        // A spec passed inline is used as given: the DRAEM-style recipe (denoising on synthetic
        // defects, MSE + SSIM loss) and a dense model.
        let recipe = "{\"preset\": \"denoising\", \"base\": \"conv\", \"loss\": \"mse_ssim\", "
            + "\"noise\": {\"synthetic_anomaly\": {\"probability\": 0.5}}}"
        for (spec, name) in [(recipe, "denoising"), ("{\"preset\": \"dense\", \"hidden\": [32], \"latent\": 8}", "dense")] {
            let d = try CLI.run(["anomaly", "bench", s.root, "--size", "32", "--patch", "16", "--epochs", "1", "--overlays", "0",
                                 "--spec", spec, "--json", "\(name).json", "--out", name], in: directory)
            XCTAssertEqual(d.status, 0, d.stderr)
            let json = try readJSON(directory + "/\(name).json")
            XCTAssertEqual(json["spec"]?["preset"]?.asString, name)
            XCTAssertNotNil(json["image_auroc"]?.asDouble)
        }
        XCTAssertEqual(try readJSON(directory + "/denoising.json")["spec"]?["loss"]?.asString, "mse_ssim")
    }

    /// `train --spec FILE` and `bench --spec FILE` share one reader (SpecFile): the file's fields
    /// are kept, the input comes from the data, and a bad file is named in the error.
    func testSpecFilesForTrainAndBench() throws {
        let s = try SyntheticMVTec.write(root: directory + "/cat", trainCount: 8, goodCount: 2, defectCount: 2)
        try "{\"preset\": \"conv\", \"hidden\": [8, 4]}".write(toFile: directory + "/spec.json", atomically: true, encoding: .utf8)
        let t = try CLI.run(["train", "--spec", "spec.json", "--data", s.root + "/train/good", "--epochs", "1",
                             "--out", "t.aecv"], in: directory)
        XCTAssertEqual(t.status, 0, t.stderr)
        let trained = try Autoencoder(contentsOf: directory + "/t.aecv")
        XCTAssertEqual(trained.spec.hidden, [8, 4])
        XCTAssertEqual(trained.inputShape, [1, 32, 32])
        let b = try CLI.run(["anomaly", "bench", s.root, "--size", "32", "--epochs", "1", "--spec", "spec.json",
                             "--overlays", "0", "--out", "b"], in: directory)
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertEqual(try Autoencoder(contentsOf: directory + "/b/model.aecv").spec.hidden, [8, 4])
        try "{\"preset\": ".write(toFile: directory + "/bad.json", atomically: true, encoding: .utf8)
        for command in [["train", "--data", s.root + "/train/good"], ["anomaly", "bench", s.root, "--size", "32"]] {
            assertOneLineError(try CLI.run(command + ["--spec", "bad.json"], in: directory), contains: "bad.json: invalid JSON")
        }
    }

    func testBenchErrors() throws {
        let s = try SyntheticMVTec.write(root: directory + "/cat", trainCount: 2, goodCount: 1, defectCount: 1)
        try FileManager.default.removeItem(atPath: s.root + "/ground_truth/line/000_mask.png")
        let missing = try CLI.run(["anomaly", "bench", s.root, "--size", "32"], in: directory)
        assertOneLineError(missing, contains: s.root + "/ground_truth/line/000_mask.png: missing")
        let noFolder = try CLI.run(["anomaly", "bench", directory + "/none", "--size", "32"], in: directory)
        assertOneLineError(noFolder, contains: directory + "/none: not a folder; an MVTec AD category holds train/good")
        let patch = try CLI.run(["anomaly", "bench", s.root, "--size", "32", "--patch", "64"], in: directory)
        assertOneLineError(patch, contains: "--patch must be in 8...--size", status: 64)
    }

    /// fit stores thresholds in the model (quantile of the API's scores); score then flags
    /// exactly the images whose stored-scoring score exceeds the stored threshold.
    func testFitStoresTheCalibrationAndScoreUsesIt() throws {
        let s = try SyntheticMVTec.write(root: directory + "/cat", trainCount: 12, goodCount: 4, defectCount: 4)
        let model = try tinyModel([1, 16, 16], "tiny.aecv")
        let fit = try CLI.run(["anomaly", "fit", model, "--data", s.root + "/train/good", "--reduction", "max",
                               "--tile-stride", "4", "--quantile", "0.5", "--out", "calibrated.aecv",
                               "--threshold-file", "t.json"], in: directory)
        XCTAssertEqual(fit.status, 0, fit.stderr)
        XCTAssertNil(try Autoencoder(contentsOf: model).anomalyCalibration, "the input model must stay unchanged with --out")
        let net = try Autoencoder(contentsOf: directory + "/calibrated.aecv")
        let c = try XCTUnwrap(net.anomalyCalibration)
        XCTAssertEqual(c.scoring, try AnomalyScoring(metric: .mse, reduction: .max, tileStride: 4))
        XCTAssertEqual(c.count, 12)
        // Oracle: the median of the scores of the same 32×32 images by the API.
        let prep = ImagePreprocessing(channels: 1, resize: .none)
        let train = try ImageDataset.imageFiles(try ImageFolder(path: s.root + "/train/good").files, preprocessing: prep).dataset
        var scores = [Float](repeating: 0, count: 12)
        try train.floats().withUnsafeBufferPointer { x in
            try scores.withUnsafeMutableBufferPointer {
                try net.anomalyImageScores(inputs: x, batch: 12, height: 32, width: 32, scoring: c.scoring, into: $0)
            }
        }
        XCTAssertEqual(c.imageThreshold, try anomalyThreshold(scores: scores, quantile: 0.5), accuracy: 1e-6)
        let file = try readJSON(directory + "/t.json")
        XCTAssertEqual(file["reduction"]?.asString, "max")
        XCTAssertEqual(file["tile_stride"]?.asInt, 4)
        XCTAssertEqual(Float(try XCTUnwrap(file["threshold"]?.asDouble)), c.imageThreshold, accuracy: 1e-6)

        // score: the stored scoring and threshold, on test/ (good and defect, 32×32, tiled).
        let r = try CLI.run(["anomaly", "score", "calibrated.aecv", "--data", s.root + "/test", "--out", "s.csv"], in: directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let test = try ImageDataset.imageFiles(try ImageFolder(path: s.root + "/test").files, preprocessing: prep).dataset
        var expected = [Float](repeating: 0, count: test.count), flags = [UInt8](repeating: 0, count: test.count)
        try test.floats().withUnsafeBufferPointer { x in
            try expected.withUnsafeMutableBufferPointer { e in
                try flags.withUnsafeMutableBufferPointer {
                    try net.anomalyPredict(inputs: x, batch: test.count, height: 32, width: 32, scores: e, flags: $0)
                }
            }
        }
        let lines = try String(contentsOfFile: directory + "/s.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "index,score,anomalous")
        XCTAssertEqual(lines.count, test.count + 1)
        for (i, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",")
            let score = try XCTUnwrap(Float(fields[1]))
            XCTAssertEqual(score, expected[i], accuracy: 1e-6 * max(1, abs(expected[i])))
            XCTAssertEqual(fields[2], flags[i] != 0 ? "1" : "0", String(line))
            XCTAssertEqual(fields[2], score > c.imageThreshold ? "1" : "0", String(line))
        }
        XCTAssertTrue(r.stdout.contains("the threshold stored in calibrated.aecv"), r.stdout)
        // Options that disagree with the stored calibration are refused.
        let clash = try CLI.run(["anomaly", "score", "calibrated.aecv", "--data", s.root + "/test", "--reduction", "mean"],
                                in: directory)
        assertOneLineError(clash, contains: "--reduction mean does not match the calibration stored in calibrated.aecv")

        // Without --out the model file itself is calibrated (rewritten atomically).
        let inPlace = try CLI.run(["anomaly", "fit", model, "--data", s.root + "/train/good"], in: directory)
        XCTAssertEqual(inPlace.status, 0, inPlace.stderr)
        XCTAssertEqual(try Autoencoder(contentsOf: model).anomalyCalibration?.scoring.reduction, .mean)
    }

    /// A 1024×1024 PNG through a 32×32 model: tiled by the core; the PNG has the image's size
    /// per panel, and with a calibration the mask panel is the API's segmentation.
    func testHeatmapOfALargeImage() throws {
        let model = try tinyModel([1, 32, 32], "tiny32.aecv")
        var pixels = [UInt8](repeating: 0, count: 1024 * 1024)
        for y in 0..<1024 { for x in 0..<1024 { pixels[y * 1024 + x] = UInt8(60 + (x / 8 + y / 8) % 40) } }
        for y in 500..<540 { for x in 300..<340 { pixels[y * 1024 + x] = 255 } }
        let big = RasterImage(width: 1024, height: 1024, channels: 1, pixels: pixels)
        try FileManager.default.createDirectory(atPath: directory + "/big", withIntermediateDirectories: true)
        try PNG.write(big, to: directory + "/big/photo.png")
        let r = try CLI.run(["anomaly", "heatmap", model, "--images", "big/photo.png", "--out", "heat.png"], in: directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let heat = try PNG.read(path: directory + "/heat.png")
        XCTAssertEqual(heat.width, 2 + 3 * (1024 + 2))
        XCTAssertEqual(heat.height, 2 + 1024 + 2)

        // Calibrated on the image itself (quantile 0.99 of its pixels), the 4th panel is its mask.
        let fit = try CLI.run(["anomaly", "fit", model, "--data", "big/photo.png", "--out", "cal32.aecv"], in: directory)
        XCTAssertEqual(fit.status, 0, fit.stderr)
        let folder = try CLI.run(["anomaly", "heatmap", "cal32.aecv", "--images", "big", "--out", "maps"], in: directory)
        XCTAssertEqual(folder.status, 0, folder.stderr)
        let drawn = try PNG.read(path: directory + "/maps/photo.png")
        XCTAssertEqual(drawn.width, 2 + 4 * (1024 + 2))
        XCTAssertEqual(drawn.height, 1028)
        let net = try Autoencoder(contentsOf: directory + "/cal32.aecv")
        let x = big.planarFloats(channels: 1)
        var maps = [Float](repeating: 0, count: 1024 * 1024), masks = [UInt8](repeating: 0, count: 1024 * 1024)
        try x.withUnsafeBufferPointer { xs in
            try maps.withUnsafeMutableBufferPointer { m in
                try masks.withUnsafeMutableBufferPointer {
                    try net.anomalySegment(inputs: xs, batch: 1, height: 1024, width: 1024, maps: m, masks: $0)
                }
            }
        }
        let flagged = masks.filter { $0 != 0 }.count
        XCTAssertGreaterThan(flagged, 0)
        let x0 = 2 + 3 * 1026
        var mismatches = 0
        for y in 0..<1024 {
            for x in 0..<1024 where (drawn.pixels[((2 + y) * drawn.width + x0 + x) * 3] == 255) != (masks[y * 1024 + x] != 0) {
                mismatches += 1
            }
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertTrue(folder.stdout.contains("\(flagged) pixels above the threshold"), folder.stdout)
    }
}
