import AECVKernels

/// Anomaly detection from reconstruction error: an autoencoder trained on normal images only
/// reconstructs them well and anything else worse, so the error between an image and its
/// reconstruction is an anomaly score (per image) and an anomaly map (per pixel). See
/// `AnomalyMetric` for the measures; for each of them score = mean of the map.
extension Autoencoder {
    /// Examples reconstructed at once: memory stays bounded (two chunks of images plus the
    /// network's workspaces for this batch size) however large the batch is.
    static let anomalyChunk = 256

    /// scores[i] = the anomaly score of example i (higher = more anomalous).
    /// inputs: (batch, C, H, W), exactly batch × inputSize floats; scores: at least batch floats.
    /// Reconstructions go through the means for VAEs and use no training-time corruption.
    /// Throws before writing anything: .invalidArgument (batch < 1), .shape (buffer sizes),
    /// .nonFinite (NaN/Inf in the inputs), .noMemory (absurd batch).
    public func anomalyScores(inputs: UnsafeBufferPointer<Float>, batch: Int, metric: AnomalyMetric,
                              into scores: UnsafeMutableBufferPointer<Float>) throws {
        try checkAnomalyArguments(inputs: inputs, batch: batch, output: "scores",
                                  outputCount: scores.count, perExample: 1)
        let size = inputSize
        var map = [Float](repeating: 0, count: size)
        try map.withUnsafeMutableBufferPointer { map in
            try forEachReconstruction(inputs: inputs, batch: batch, metric: metric) { i, mapper, x, r in
                mapper.map(x, r, into: map.baseAddress!)
                scores[i] = mean(map.baseAddress!, count: size)
            }
        }
    }

    /// maps[i] = the anomaly map of example i, in the layout of the input (C, H, W) per example.
    /// inputs: (batch, C, H, W); maps: at least batch × inputSize floats, not overlapping inputs.
    /// Errors as for `anomalyScores`.
    public func anomalyMaps(inputs: UnsafeBufferPointer<Float>, batch: Int, metric: AnomalyMetric,
                            into maps: UnsafeMutableBufferPointer<Float>) throws {
        try checkAnomalyArguments(inputs: inputs, batch: batch, output: "maps",
                                  outputCount: maps.count, perExample: inputSize)
        let size = inputSize
        try forEachReconstruction(inputs: inputs, batch: batch, metric: metric) { i, mapper, x, r in
            mapper.map(x, r, into: maps.baseAddress! + i * size)
        }
    }

    // MARK: - Internals

    private func checkAnomalyArguments(inputs: UnsafeBufferPointer<Float>, batch: Int, output: String,
                                       outputCount: Int, perExample: Int) throws {
        if batch < 1 { throw AECVError.invalidArgument("batch: must be at least 1, got \(batch)") }
        let (needed, overflow) = batch.multipliedReportingOverflow(by: inputSize)
        if overflow || needed > Int(Int32.max) * 4 {
            throw AECVError.noMemory("inputs: batch \(batch) × \(inputSize) floats is too large")
        }
        if inputs.count != needed {
            throw AECVError.shape("inputs: batch \(batch) needs \(needed) floats, got \(inputs.count)")
        }
        let outputNeeded = batch * perExample
        if outputCount < outputNeeded {
            throw AECVError.shape("\(output): batch \(batch) needs \(outputNeeded) floats, capacity \(outputCount)")
        }
        // All of the inputs now, not chunk by chunk: a failed call must write nothing.
        if !allFinite(inputs.baseAddress!, count: needed) {
            throw AECVError.nonFinite("inputs: contains NaN or Inf")
        }
    }

    /// Reconstructs the inputs chunk by chunk and calls body(example index, mapper, x_i, x̂_i).
    private func forEachReconstruction(
        inputs: UnsafeBufferPointer<Float>, batch: Int, metric: AnomalyMetric,
        _ body: (Int, inout AnomalyMapper, UnsafePointer<Float>, UnsafePointer<Float>) -> Void
    ) throws {
        let size = inputSize
        var mapper = AnomalyMapper(metric: metric, shape: inputShape)
        var reconstructions = [Float](repeating: 0, count: min(batch, Self.anomalyChunk) * size)
        try reconstructions.withUnsafeMutableBufferPointer { r in
            var start = 0
            while start < batch {
                let count = min(Self.anomalyChunk, batch - start)
                let chunk = UnsafeBufferPointer(rebasing: inputs[(start * size)..<((start + count) * size)])
                try reconstruct(inputs: chunk, batch: count, into: r)
                for j in 0..<count {
                    body(start + j, &mapper, chunk.baseAddress! + j * size, r.baseAddress! + j * size)
                }
                start += count
            }
        }
    }
}

/// The `quantile` (in [0, 1]) of anomaly scores, for a decision threshold calibrated on normal
/// images: with the threshold at the 0.99 quantile of their scores, about 1% of normal images
/// score above it. Linear interpolation between the two nearest order statistics, as numpy's
/// default `np.quantile` (so the CLI and Python's `AnomalyDetector.fit` agree):
/// h = (n − 1)·q, threshold = s[⌊h⌋] + (h − ⌊h⌋)·(s[⌊h⌋ + 1] − s[⌊h⌋]) over the sorted scores s.
/// Throws .invalidArgument for no scores, a quantile outside [0, 1], or non-finite scores.
public func anomalyThreshold(scores: [Float], quantile: Double) throws -> Float {
    guard !scores.isEmpty else { throw AECVError.invalidArgument("scores: at least one is needed") }
    guard quantile >= 0, quantile <= 1 else {
        throw AECVError.invalidArgument("quantile: must be in [0, 1], got \(quantile)")
    }
    guard scores.allSatisfy({ $0.isFinite }) else { throw AECVError.nonFinite("scores: contain NaN or Inf") }
    let sorted = scores.map(Double.init).sorted()
    let h = Double(sorted.count - 1) * quantile
    let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    return Float(sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo]))
}

/// Σ x / count, accumulated in Double so large images keep float32 precision.
private func mean(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var s = 0.0
    for i in 0..<count { s += Double(x[i]) }
    return Float(s / Double(count))
}

// MARK: - Conveniences for Swift callers working with arrays

extension Autoencoder {
    private func exampleCount(_ inputs: [Float]) throws -> Int {
        if inputs.isEmpty || inputs.count % inputSize != 0 {
            throw AECVError.shape("inputs: \(inputs.count) floats is not a whole number of \(inputSize)-float examples")
        }
        return inputs.count / inputSize
    }

    /// One anomaly score per example of `inputs` (whole examples, flat).
    public func anomalyScores(_ inputs: [Float], metric: AnomalyMetric = .mse) throws -> [Float] {
        let batch = try exampleCount(inputs)
        var scores = [Float](repeating: 0, count: batch)
        try inputs.withUnsafeBufferPointer { x in
            try scores.withUnsafeMutableBufferPointer {
                try anomalyScores(inputs: x, batch: batch, metric: metric, into: $0)
            }
        }
        return scores
    }

    /// Anomaly maps, shaped like `inputs`.
    public func anomalyMaps(_ inputs: [Float], metric: AnomalyMetric = .mse) throws -> [Float] {
        let batch = try exampleCount(inputs)
        var maps = [Float](repeating: 0, count: inputs.count)
        try inputs.withUnsafeBufferPointer { x in
            try maps.withUnsafeMutableBufferPointer {
                try anomalyMaps(inputs: x, batch: batch, metric: metric, into: $0)
            }
        }
        return maps
    }
}
