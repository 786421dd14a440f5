import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The `synthetic_anomaly` noise of denoising models: mask areas, untouched pixels, the fill,
/// determinism, the spec and its errors, training and model files.
final class SyntheticAnomalyTests: XCTestCase {
    private let shape = [3, 64, 64]

    private func batch(_ n: Int, seed: UInt64 = 4) -> [Float] {
        var random = RandomSource(seed: seed)
        return (0..<(n * shape.reduce(1, *))).map { _ in random.uniform() }
    }

    /// Runs example `index` of `x` with generator `seed`; returns (out, mask, defect?).
    private func corrupt(_ options: SyntheticAnomalySpec, _ x: [Float], count: Int, index: Int,
                         seed: UInt64) -> ([Float], [Float], Bool) {
        let anomaly = SyntheticAnomaly(options: options, shape: shape)
        var out = [Float](repeating: .nan, count: shape.reduce(1, *))
        var mask = [Float](repeating: .nan, count: shape[1] * shape[2])
        var random = RandomSource(seed: seed)
        let hit = anomaly.apply(batch: x, count: count, index: index, into: &out, random: &random, mask: &mask)
        return (out, mask, hit)
    }

    func testMaskAreasUntouchedPixelsAndTheShiftedFill() {
        var options = SyntheticAnomalySpec(probability: 1)
        options.minimumOpacity = 1; options.maximumOpacity = 1  // out = the source exactly in the mask
        let x = batch(1)
        let (h, w) = (shape[1], shape[2]), plane = h * w
        var fractions: [Float] = []
        for seed in 0..<300 as Range<UInt64> {
            let (out, mask, hit) = corrupt(options, x, count: 1, index: 0, seed: seed)
            XCTAssertTrue(hit)
            let inside = mask.filter { $0 == 1 }.count
            fractions.append(Float(inside) / Float(plane))
            // outside: bit-identical; inside: a roll of the image by one offset for all channels
            var offset: Int? = nil
            for p in 0..<plane {
                for c in 0..<shape[0] {
                    let o = c * plane
                    if mask[p] == 0 {
                        XCTAssertEqual(out[o + p].bitPattern, x[o + p].bitPattern)
                    } else if offset == nil {
                        offset = (0..<plane).first { q in
                            let (r, col) = (p / w, p % w)
                            let s = ((r + q / w) % h) * w + (col + q % w) % w
                            return (0..<shape[0]).allSatisfy { out[$0 * plane + p] == x[$0 * plane + s] }
                        }
                        XCTAssertNotNil(offset)
                    }
                }
            }
            if let q = offset {
                XCTAssertNotEqual(q, 0, "the source is rolled by a non-zero offset")
                for p in 0..<plane where mask[p] == 1 {
                    let s = ((p / w + q / w) % h) * w + (p % w + q % w) % w
                    for c in 0..<shape[0] { XCTAssertEqual(out[c * plane + p], x[c * plane + s]) }
                }
            }
        }
        // a = round(U(0.02, 0.3) · H·W) pixels (ties of the smooth field could only add some)
        let lo = fractions.min()!, hi = fractions.max()!
        XCTAssertGreaterThanOrEqual(lo, 0.02 - 1 / Float(plane))
        XCTAssertLessThanOrEqual(hi, 0.3 + 1 / Float(plane))
        XCTAssertLessThan(lo, 0.05, "the whole documented range is drawn")
        XCTAssertGreaterThan(hi, 0.27)
        let mean = fractions.reduce(0, +) / Float(fractions.count)
        XCTAssertEqual(mean, 0.16, accuracy: 0.02)
    }

    func testOpacityBlendAndBatchSource() {
        var options = SyntheticAnomalySpec(probability: 1, source: .batch)
        options.minimumOpacity = 0.5; options.maximumOpacity = 0.5
        let x = batch(3), size = shape.reduce(1, *), plane = shape[1] * shape[2]
        let (out, mask, _) = corrupt(options, x, count: 3, index: 1, seed: 9)
        // the masked pixels are 0.5 x + 0.5 s for a pixel s of example 0 or 2
        let p = mask.firstIndex(of: 1)!
        let candidates = [0, 2].flatMap { n in (0..<plane).map { n * size + $0 } }
        let found = candidates.contains { s in
            (0..<shape[0]).allSatisfy { c in
                abs(out[c * plane + p] - (0.5 * x[size + c * plane + p] + 0.5 * x[s + c * plane])) < 1e-6
            }
        }
        XCTAssertTrue(found, "the fill blends another example of the batch")
        // a batch of one falls back to the image itself
        let (single, _, hit) = corrupt(options, Array(x[0..<size]), count: 1, index: 0, seed: 9)
        XCTAssertTrue(hit && single.allSatisfy(\.isFinite))
    }

    func testDeterminismAndProbability() {
        let x = batch(2)
        let options = SyntheticAnomalySpec(probability: 0.5)
        XCTAssertEqual(corrupt(options, x, count: 2, index: 1, seed: 3).0, corrupt(options, x, count: 2, index: 1, seed: 3).0)
        var hits = 0
        for seed in 0..<400 as Range<UInt64> where corrupt(options, x, count: 2, index: 0, seed: seed).2 { hits += 1 }
        XCTAssertEqual(Double(hits) / 400, 0.5, accuracy: 0.1)
        let never = SyntheticAnomalySpec(probability: 0)
        let size = shape.reduce(1, *)
        for seed in 0..<20 as Range<UInt64> {
            let (out, _, hit) = corrupt(never, x, count: 2, index: 1, seed: seed)
            XCTAssertFalse(hit)
            XCTAssertEqual(out.map(\.bitPattern), x[size...].map(\.bitPattern))
        }
    }

    func testSpecDefaultsRoundTripAndErrors() throws {
        let s = try ModelSpec(json: #"{"preset": "denoising", "input": [3, 64, 64], "noise": {"synthetic_anomaly": {}}}"#).filled()
        XCTAssertEqual(s.noise, .syntheticAnomaly(SyntheticAnomalySpec()))
        XCTAssertTrue(s.jsonString().contains(#""noise":{"synthetic_anomaly":{"probability":0.5,"area":[0.02,0.3],"opacity":[0.1,1.0],"grid":[2,8],"source":"shifted"}}"#), s.jsonString())
        XCTAssertEqual(try ModelSpec(json: s.jsonString()), s)
        let given = try ModelSpec(json: #"{"preset": "denoising", "input": [3, 64, 64], "loss": "mse_ssim", "noise": {"synthetic_anomaly": {"probability": 0.7, "area": [0.05, 0.2], "opacity": [0.3, 0.9], "grid": [1, 4], "source": "batch"}}}"#)
        guard case .syntheticAnomaly(let a)? = given.noise else { return XCTFail("\(String(describing: given.noise))") }
        XCTAssertEqual([a.probability, a.minimumArea, a.maximumArea, a.minimumOpacity, a.maximumOpacity], [0.7, 0.05, 0.2, 0.3, 0.9])
        XCTAssertEqual([a.minimumGrid, a.maximumGrid], [1, 4]); XCTAssertEqual(a.source, .batch)
        XCTAssertEqual(try ModelSpec(json: given.jsonString()), given)
        XCTAssertEqual(try ModelSpec(json: #"{"preset": "denoising", "input": [1, 8, 8], "noise": {"synthetic_anomaly": 0.25}}"#).noise,
                       .syntheticAnomaly(SyntheticAnomalySpec(probability: 0.25)))

        let prefix = #"{"preset": "denoising", "input": [3, 64, 64], "noise": {"synthetic_anomaly": "#
        for (body, fragment) in [
            (#"{"probability": 1.5}"#, "spec.noise.synthetic_anomaly.probability: must be a probability in [0, 1], got 1.5"),
            (#"{"area": [0.3, 0.1]}"#, "spec.noise.synthetic_anomaly.area: expected [min, max] with 0 < min <= max <= 1, got [0.3, 0.1]"),
            (#"{"area": 0.2}"#, "spec.noise.synthetic_anomaly.area: expected 2 numbers [min, max], got 0.2"),
            (#"{"opacity": [0, 1]}"#, "spec.noise.synthetic_anomaly.opacity: expected [min, max] with 0 < min <= max <= 1, got [0, 1]"),
            (#"{"grid": [0, 4]}"#, "spec.noise.synthetic_anomaly.grid: expected [min, max] with 1 <= min <= max <= 256, got [0, 4]"),
            (#"{"grid": [2.5, 4]}"#, "spec.noise.synthetic_anomaly.grid[0]: expected a positive integer, got 2.5"),
            (#"{"source": "dtd"}"#, "spec.noise.synthetic_anomaly.source: expected one of \"shifted\", \"batch\", got \"dtd\""),
            (#"{"probabilty": 0.5}"#, "spec.noise.synthetic_anomaly: unknown key \"probabilty\" (did you mean \"probability\"?)"),
            (#""yes""#, "spec.noise.synthetic_anomaly: expected an object with any of"),
        ] {
            XCTAssertThrowsError(try ModelSpec(json: prefix + body + "}}")) { error in
                guard case AECVError.config(let message) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(message.hasPrefix(fragment), "\"\(message)\" lacks \"\(fragment)\"")
            }
        }
        XCTAssertThrowsError(try ModelSpec(json: #"{"preset": "denoising", "input": [1, 8, 8], "noise": {"blur": 1}}"#)) { error in
            guard case AECVError.config(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.hasPrefix(#"spec.noise: unknown key "blur" (allowed: "gaussian", "masking", "salt_pepper", "synthetic_anomaly")"#), message)
        }
    }

    /// A conv denoising model at 3×64×64 with mse_ssim and each source: training is deterministic
    /// from the seed, and a saved model reloads with the same spec and continues identically.
    func testTrainingAndModelFile() throws {
        let x = batch(8)
        for source in ["shifted", "batch"] {
            let json = "{\"preset\": \"denoising\", \"input\": [3, 64, 64], \"seed\": 3, \"loss\": \"mse_ssim\", \"noise\": {\"synthetic_anomaly\": {\"probability\": 0.8, \"source\": \"\(source)\"}}}"
            let a = try Autoencoder(specJSON: json), b = try Autoencoder(specJSON: json)
            for _ in 0..<2 {
                let la = try a.trainStep(inputs: x), lb = try b.trainStep(inputs: x)
                XCTAssertTrue(la.isFinite); XCTAssertEqual(la, lb, source)
            }
            var template = Array("/tmp/aecv-synthetic-XXXXXX".utf8CString)
            let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
            defer { _ = system("rm -rf '\(directory)'") }
            try a.save(to: directory + "/m.aecv")
            let loaded = try Autoencoder(contentsOf: directory + "/m.aecv")
            XCTAssertEqual(loaded.spec, a.spec)
            XCTAssertEqual(loaded.spec.loss, .mseSSIM)
            XCTAssertEqual(try loaded.trainStep(inputs: x), try a.trainStep(inputs: x), source)
        }
    }
}
