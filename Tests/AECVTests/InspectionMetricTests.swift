import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The inspection metrics (Inspection/InspectionMetrics.swift, PerRegionOverlap.swift) against
/// brute-force references written as directly as the definitions: AUROC by counting all pairs,
/// F1 by trying every threshold, PRO by labeling regions with a different algorithm (repeated
/// min-label relaxation) and evaluating every threshold from scratch. Scores are quantized so
/// that ties occur, which is where sweeping implementations go wrong.
final class InspectionMetricTests: XCTestCase {
    private func quantized(_ count: Int, levels: Float, seed: UInt64) -> [Float] {
        var random = RandomSource(seed: seed)
        return (0..<count).map { _ in (random.uniform() * levels).rounded(.down) / levels }
    }

    private func labels(_ count: Int, positiveRate: Float, seed: UInt64) -> [UInt8] {
        var random = RandomSource(seed: seed)
        return (0..<count).map { _ in random.uniform() < positiveRate ? 1 : 0 }
    }

    // MARK: - References

    private func bruteAUC(_ s: [Float], _ y: [UInt8]) -> Double {
        var wins = 0.0, pairs = 0.0
        for i in s.indices where y[i] != 0 {
            for j in s.indices where y[j] == 0 {
                pairs += 1
                wins += s[i] > s[j] ? 1 : (s[i] == s[j] ? 0.5 : 0)
            }
        }
        return wins / pairs
    }

    private func f1(_ s: [Float], _ y: [UInt8], threshold t: Float) -> Double {
        var tp = 0, fp = 0, fn = 0
        for i in s.indices {
            let flagged = s[i] > t, positive = y[i] != 0
            if flagged && positive { tp += 1 } else if flagged { fp += 1 } else if positive { fn += 1 }
        }
        return 2 * Double(tp) / Double(2 * tp + fp + fn)
    }

    private func bruteBestF1(_ s: [Float], _ y: [UInt8]) -> Double {
        // "score >= v" for every distinct v is "score > v.nextDown".
        Set(s).map { f1(s, y, threshold: $0.nextDown) }.max()!
    }

    /// Region labels by relaxation: every anomalous pixel starts with its own index and takes
    /// the smallest label among its 8 neighbours until nothing changes.
    private func bruteRegions(_ mask: [UInt8], count: Int, height: Int, width: Int) -> [Int] {
        var label = mask.indices.map { mask[$0] != 0 ? $0 + 1 : 0 }
        var changed = true
        while changed {
            changed = false
            for p in label.indices where label[p] != 0 {
                let image = p / (height * width), r = (p / width) % height, c = p % width
                for dr in -1...1 { for dc in -1...1 {
                    let (rr, cc) = (r + dr, c + dc)
                    guard rr >= 0, rr < height, cc >= 0, cc < width else { continue }
                    let q = image * height * width + rr * width + cc
                    if label[q] != 0 && label[q] < label[p] { label[p] = label[q]; changed = true }
                } }
            }
        }
        return label
    }

    private func brutePRO(_ maps: [Float], _ masks: [UInt8], count: Int, height: Int, width: Int, limit: Double) -> Double {
        let label = bruteRegions(masks, count: count, height: height, width: width)
        let regions = Set(label.filter { $0 != 0 })
        let normal = label.filter { $0 == 0 }.count
        var points: [(Double, Double)] = [(0, 0)]
        for t in Set(maps).sorted(by: >) {
            let fp = maps.indices.filter { label[$0] == 0 && maps[$0] >= t }.count
            var pro = 0.0
            for r in regions {
                let pixels = label.indices.filter { label[$0] == r }
                pro += Double(pixels.filter { maps[$0] >= t }.count) / Double(pixels.count)
            }
            points.append((Double(fp) / Double(normal), pro / Double(regions.count)))
        }
        var area = 0.0
        for k in 1..<points.count {
            let (x0, y0) = points[k - 1], (x1, y1) = points[k]
            if x1 >= limit {
                let y = x1 > x0 ? y0 + (y1 - y0) * (limit - x0) / (x1 - x0) : y1
                area += (limit - x0) * (y0 + y) / 2
                break
            }
            area += (x1 - x0) * (y0 + y1) / 2
        }
        return area / limit
    }

    // MARK: - AUROC and F1

    func testAUROCEqualsThePairCountWithTies() throws {
        for seed in 1...5 as ClosedRange<UInt64> {
            let s = quantized(300, levels: 12, seed: seed), y = labels(300, positiveRate: 0.3, seed: seed + 100)
            let auc = try s.withUnsafeBufferPointer { s in try y.withUnsafeBufferPointer { try InspectionMetrics.rocAUC(scores: s, labels: $0) } }
            XCTAssertEqual(auc, bruteAUC(s, y), accuracy: 1e-12, "seed \(seed)")
        }
    }

    func testAUROCOfSeparatedAndReversedScores() throws {
        let y: [UInt8] = [0, 0, 1, 1, 0, 1]
        let perfect: [Float] = y.map { $0 != 0 ? 2 : 1 }, reversed = perfect.map { -$0 }, tied = [Float](repeating: 3, count: 6)
        func auc(_ s: [Float]) throws -> Double {
            try s.withUnsafeBufferPointer { s in try y.withUnsafeBufferPointer { try InspectionMetrics.rocAUC(scores: s, labels: $0) } }
        }
        XCTAssertEqual(try auc(perfect), 1)
        XCTAssertEqual(try auc(reversed), 0)
        XCTAssertEqual(try auc(tied), 0.5)
        // −0 and +0 are the same score.
        XCTAssertEqual(try auc([0, -0.0, 0, -0.0, 0, 0]), 0.5)
    }

    func testBestF1EqualsTheBestOfEveryThresholdAndItsThresholdReachesIt() throws {
        for seed in 1...5 as ClosedRange<UInt64> {
            let s = quantized(200, levels: 9, seed: seed), y = labels(200, positiveRate: 0.25, seed: seed + 50)
            let best = try s.withUnsafeBufferPointer { s in try y.withUnsafeBufferPointer { try InspectionMetrics.bestF1(scores: s, labels: $0) } }
            XCTAssertEqual(best.f1, bruteBestF1(s, y), accuracy: 1e-12, "seed \(seed)")
            XCTAssertEqual(f1(s, y, threshold: best.threshold), best.f1, accuracy: 1e-12, "seed \(seed): the threshold's own F1")
        }
    }

    func testMetricsNameTheProblemWithTheirArguments() {
        func error(_ s: [Float], _ y: [UInt8]) -> String {
            do {
                _ = try s.withUnsafeBufferPointer { s in try y.withUnsafeBufferPointer { try InspectionMetrics.rocAUC(scores: s, labels: $0) } }
                return "no error"
            } catch let e as AECVError { return e.message } catch { return "\(error)" }
        }
        XCTAssertTrue(error([1, 2], [0, 0]).contains("both classes"), error([1, 2], [0, 0]))
        XCTAssertTrue(error([1, 2, 3], [0, 1]).contains("3 values"), error([1, 2, 3], [0, 1]))
        XCTAssertTrue(error([1, .nan], [0, 1]).contains("value 1"), error([1, .nan], [0, 1]))
        XCTAssertTrue(error([], []).contains("at least one"), error([], []))
    }

    // MARK: - PRO

    private func pro(_ maps: [Float], _ masks: [UInt8], count: Int, height: Int, width: Int, limit: Double = 0.3) throws -> Double {
        try maps.withUnsafeBufferPointer { m in
            try masks.withUnsafeBufferPointer {
                try InspectionMetrics.perRegionOverlap(maps: m, masks: $0, count: count, height: height, width: width, fprLimit: limit)
            }
        }
    }

    /// Masks of a few blobs (diagonal neighbours included, to exercise 8-connectivity).
    private func blobMasks(count: Int, height: Int, width: Int, seed: UInt64) -> [UInt8] {
        var random = RandomSource(seed: seed)
        var masks = [UInt8](repeating: 0, count: count * height * width)
        for image in 0..<count where image % 3 != 2 {  // every third image is defect-free
            for _ in 0..<2 {
                let r0 = Int(random.uniform() * Float(height - 3)), c0 = Int(random.uniform() * Float(width - 3))
                for k in 0..<(1 + Int(random.uniform() * 4)) { masks[image * height * width + (r0 + k % 3) * width + c0 + k] = 1 }
            }
        }
        return masks
    }

    func testPROEqualsTheDefinitionEvaluatedAtEveryThreshold() throws {
        for seed in 1...4 as ClosedRange<UInt64> {
            let (n, h, w) = (5, 9, 11)
            let masks = blobMasks(count: n, height: h, width: w, seed: seed)
            // Maps that partly see the defects: the mask plus quantized noise.
            let noise = quantized(n * h * w, levels: 7, seed: seed + 9)
            let maps = zip(masks, noise).map { Float($0) * 0.5 + $1 }
            for limit in [0.3, 0.05, 1.0] {
                XCTAssertEqual(try pro(maps, masks, count: n, height: h, width: w, limit: limit),
                               brutePRO(maps, masks, count: n, height: h, width: w, limit: limit),
                               accuracy: 1e-12, "seed \(seed) limit \(limit)")
            }
        }
    }

    func testPROOfAPerfectMapIsOneAndOfAConstantMapIsHalf() throws {
        let (n, h, w) = (3, 8, 8)
        let masks = blobMasks(count: n, height: h, width: w, seed: 7)
        XCTAssertEqual(try pro(masks.map(Float.init), masks, count: n, height: h, width: w), 1, accuracy: 1e-12)
        // One threshold flags everything: the curve is the segment (0, 0)–(1, 1), whose mean
        // height up to 0.3 is 0.15.
        XCTAssertEqual(try pro([Float](repeating: 0.2, count: n * h * w), masks, count: n, height: h, width: w), 0.15, accuracy: 1e-12)
    }

    /// A small region counts as much as a large one: finding only the large one gives PRO(0) = ½.
    func testPROWeighsEveryRegionTheSame() throws {
        let (h, w) = (10, 10)
        var masks = [UInt8](repeating: 0, count: h * w)
        for r in 0..<5 { for c in 0..<5 { masks[r * w + c] = 1 } }     // 25 pixels
        masks[9 * w + 9] = 1                                            // 1 pixel
        var maps = [Float](repeating: 0, count: h * w)
        for r in 0..<5 { for c in 0..<5 { maps[r * w + c] = 1 } }
        // The curve: (0, 0) → (0, ½) when the big region is flagged → (1, 1) when everything is;
        // up to FPR 0.3 the height goes from 0.5 to 0.65: area 0.3 · 0.575, normalized 0.575.
        XCTAssertEqual(try pro(maps, masks, count: 1, height: h, width: w), 0.575, accuracy: 1e-12)
        // The pixel AUROC of the same map is far higher: 25 of the 26 defect pixels are found.
        let auc = try maps.withUnsafeBufferPointer { m in try masks.withUnsafeBufferPointer { try InspectionMetrics.rocAUC(scores: m, labels: $0) } }
        XCTAssertGreaterThan(auc, 0.95)
    }

    func testPRORefusesMasksWithoutDefectsOrWithoutNormalPixels() {
        XCTAssertThrowsError(try pro([0, 1, 2, 3], [0, 0, 0, 0], count: 1, height: 2, width: 2)) {
            XCTAssertTrue(($0 as? AECVError)?.message.contains("no anomalous pixel") == true, "\($0)")
        }
        XCTAssertThrowsError(try pro([0, 1, 2, 3], [1, 1, 1, 1], count: 1, height: 2, width: 2)) {
            XCTAssertTrue(($0 as? AECVError)?.message.contains("normal pixels") == true, "\($0)")
        }
        XCTAssertThrowsError(try pro([0, 1, 2], [0, 1, 1], count: 1, height: 2, width: 2)) {
            XCTAssertTrue(($0 as? AECVError)?.message.contains("needs 4 values") == true, "\($0)")
        }
        XCTAssertThrowsError(try pro([0, 1, 2, 3], [0, 1, 0, 0], count: 1, height: 2, width: 2, limit: 0))
    }

    // MARK: - Reductions

    func testReductionsAgainstSortedReferences() throws {
        let map = quantized(97, levels: 50, seed: 3)
        var scratch = [Float](repeating: 0, count: map.count)
        func reduce(_ r: ScoreReduction) -> Float {
            map.withUnsafeBufferPointer { m in scratch.withUnsafeMutableBufferPointer { r.reduce(m.baseAddress!, count: 97, scratch: $0.baseAddress!) } }
        }
        let sorted = map.sorted(by: >)
        XCTAssertEqual(reduce(.mean), Float(map.map(Double.init).reduce(0, +) / 97), accuracy: 1e-6)
        XCTAssertEqual(reduce(.max), sorted[0])
        // ⌈0.05 · 97⌉ = 5 pixels.
        XCTAssertEqual(reduce(try .topMean(0.05)), sorted[0..<5].reduce(0, +) / 5, accuracy: 1e-6)
        XCTAssertEqual(reduce(try .topMean(1e-9)), sorted[0], "at least one pixel")
        XCTAssertEqual(try ScoreReduction(name: "top_mean:0.05"), try .topMean(0.05))
        XCTAssertEqual(try ScoreReduction(name: try ScoreReduction.topMean(0.25).name), try .topMean(0.25))
        XCTAssertThrowsError(try ScoreReduction(name: "median")) {
            XCTAssertTrue(($0 as? AECVError)?.message.contains("mean, max, top_mean") == true, "\($0)")
        }
        XCTAssertThrowsError(try ScoreReduction.topMean(1.5))
        XCTAssertThrowsError(try ScoreReduction(validating: 7, fraction: 0.1)) {
            XCTAssertTrue(($0 as? AECVError)?.message.contains("aecv_score_reduction") == true, "\($0)")
        }
    }
}
