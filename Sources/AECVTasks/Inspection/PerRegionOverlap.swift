import AECVKernels

/// PRO, the per-region overlap of the MVTec AD evaluation (Bergmann et al., "The MVTec Anomaly
/// Detection Dataset", IJCV 2021): unlike pixel AUROC, where one large defect outweighs many
/// small ones, every connected defect region counts the same.
///
/// For a threshold t (pixel anomalous when map > t, swept over every distinct map value):
///
///     PRO(t) = (1 / R) Σ_regions |{p ∈ region : map(p) > t}| / |region|
///     FPR(t) = |{p normal : map(p) > t}| / |{p normal}|
///
/// over the R connected regions of the ground-truth masks (8-connected, as scipy.ndimage.label
/// with a 3 × 3 structure in the reference code), pooled over all images, and the normal pixels
/// of all images (defect-free images included). The metric is the area under PRO(FPR) from
/// FPR 0 to `fprLimit` (0.3 by default), by the trapezoid rule with the curve interpolated
/// linearly at the limit, divided by `fprLimit` so that a perfect map scores 1.
extension InspectionMetrics {
    public static let defaultFPRLimit = 0.3

    /// maps, masks: (count, height, width); 0 in a mask = normal. Throws .shape for sizes that
    /// disagree, .invalidArgument when the masks have no anomalous or no normal pixel or the
    /// limit is outside (0, 1], .nonFinite for NaN/Inf in the maps.
    public static func perRegionOverlap(maps: UnsafeBufferPointer<Float>, masks: UnsafeBufferPointer<UInt8>,
                                        count: Int, height: Int, width: Int,
                                        fprLimit: Double = defaultFPRLimit) throws -> Double {
        guard fprLimit > 0, fprLimit <= 1 else {
            throw AECVError.invalidArgument("fpr_limit: must be in (0, 1], got \(fprLimit)")
        }
        guard count >= 1, height >= 1, width >= 1 else {
            throw AECVError.invalidArgument("count, height, width: must be at least 1, got \(count), \(height), \(width)")
        }
        let (plane, o1) = height.multipliedReportingOverflow(by: width)
        let (total, o2) = plane.multipliedReportingOverflow(by: count)
        if o1 || o2 || total >= Int(UInt32.max) {
            throw AECVError.noMemory("maps: \(count) × \(height) × \(width) pixels is too many")
        }
        if maps.count != total || masks.count != total {
            throw AECVError.shape("maps and masks: \(count) × \(height) × \(width) needs \(total) values each, got \(maps.count) and \(masks.count)")
        }
        // Region numbers 1...R per pixel (0 = normal), and each region's size.
        var regions = try MemoryCheck.zeroedBytes(MemoryCheck.bytes(total, 4, "masks: region labels"), "masks: region labels")
        var sizes: [Int] = [0]
        regions.withUnsafeMutableBytes { raw in
            let label = raw.bindMemory(to: UInt32.self)
            var stack: [Int] = []
            for image in 0..<count {
                labelRegions(masks.baseAddress! + image * plane, height: height, width: width,
                             into: label.baseAddress! + image * plane, sizes: &sizes, stack: &stack)
            }
        }
        let regionCount = sizes.count - 1
        let normalCount = total - sizes.reduce(0, +)
        if regionCount == 0 { throw AECVError.invalidArgument("masks: no anomalous pixel; PRO needs at least one defect region") }
        if normalCount == 0 { throw AECVError.invalidArgument("masks: every pixel is anomalous; PRO needs normal pixels for the false-positive rate") }

        let ranked = try regions.withUnsafeBytes { raw in
            let label = raw.bindMemory(to: UInt32.self)
            return try RankedScores(count: total, what: "maps", score: { maps[$0] }, payload: { label[$0] })
        }
        // Sweep the thresholds from the highest map value down; (fpr, pro) rises from (0, 0).
        let inverseSizes = sizes.map { $0 > 0 ? 1 / Double($0) : 0 }
        var overlapSum = 0.0, falsePositives = 0
        var area = 0.0, last = (fpr: 0.0, pro: 0.0), done = false
        ranked.forEachRun { start, end in
            if done { return }
            for i in start..<end {
                let r = Int(ranked.payload(i))
                if r == 0 { falsePositives += 1 } else { overlapSum += inverseSizes[r] }
            }
            let point = (fpr: Double(falsePositives) / Double(normalCount), pro: overlapSum / Double(regionCount))
            if point.fpr >= fprLimit {
                // Interpolate the segment to the limit and stop.
                let span = point.fpr - last.fpr
                let proAtLimit = span > 0 ? last.pro + (point.pro - last.pro) * (fprLimit - last.fpr) / span : point.pro
                area += (fprLimit - last.fpr) * (last.pro + proAtLimit) / 2
                done = true
                return
            }
            area += (point.fpr - last.fpr) * (last.pro + point.pro) / 2
            last = point
        }
        // The last threshold flags every pixel (FPR 1), so the sweep always reaches the limit.
        return area / fprLimit
    }

    /// Labels the 8-connected regions of one mask with the numbers sizes.count, sizes.count + 1,
    /// … and appends their sizes. mask, label: (height, width); stack: reused scratch.
    static func labelRegions(_ mask: UnsafePointer<UInt8>, height: Int, width: Int,
                             into label: UnsafeMutablePointer<UInt32>, sizes: inout [Int], stack: inout [Int]) {
        for start in 0..<(height * width) where mask[start] != 0 && label[start] == 0 {
            let region = UInt32(sizes.count)
            var size = 0
            label[start] = region
            stack.append(start)
            while let p = stack.popLast() {
                size += 1
                let (r, c) = (p / width, p % width)
                for dr in -1...1 {
                    let rr = r + dr
                    if rr < 0 || rr >= height { continue }
                    for dc in -1...1 {
                        let cc = c + dc
                        if cc < 0 || cc >= width { continue }
                        let q = rr * width + cc
                        if mask[q] != 0 && label[q] == 0 {
                            label[q] = region
                            stack.append(q)
                        }
                    }
                }
            }
            sizes.append(size)
        }
    }
}
