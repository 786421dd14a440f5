// Pixel maps and image scores of images of any size, tiled as AnomalyScoring defines.

import AECVKernels
import AECVNN
import AECVModels

extension Autoencoder {
    /// Tiles reconstructed at once (bounds memory for 1024 × 1024 images: 256 tiles of the input).
    static let tileChunk = 256

    /// maps[i] = the pixel map (height, width) of image i, as `AnomalyScoring` defines it.
    /// inputs: (batch, C, height, width) with C the model's channels and height, width at least
    /// the model's input; maps: at least batch × height × width floats.
    /// Throws before writing: .invalidArgument (batch, sizes smaller than the input),
    /// .shape (buffer sizes), .nonFinite (NaN/Inf inputs), .noMemory.
    public func anomalyPixelMaps(inputs: UnsafeBufferPointer<Float>, batch: Int, height: Int, width: Int,
                                 scoring: AnomalyScoring, into maps: UnsafeMutableBufferPointer<Float>) throws {
        let plane = try checkImages(inputs: inputs, batch: batch, height: height, width: width)
        if maps.count < batch * plane {
            throw AECVError.shape("maps: batch \(batch) × \(height) × \(width) needs \(batch * plane) floats, capacity \(maps.count)")
        }
        if !allFinite(inputs.baseAddress!, count: inputs.count) { throw AECVError.nonFinite("inputs: contains NaN or Inf") }
        let (channels, tileH, tileW) = (inputShape[0], inputShape[1], inputShape[2])
        let rows = scoring.origins(length: height, tile: tileH), columns = scoring.origins(length: width, tile: tileW)
        let tilesPerImage = rows.count * columns.count
        let tileSize = inputSize, tilePlane = tileH * tileW
        let chunk = min(Self.tileChunk, batch * tilesPerImage)
        var tiles = try MemoryCheck.zeroedFloats(chunk * tileSize, "tiles: \(chunk) × \(tileSize) floats")
        var tileMaps = try MemoryCheck.zeroedFloats(chunk * tileSize, "tile maps: \(chunk) × \(tileSize) floats")
        var coverage = try MemoryCheck.zeroedFloats(batch * plane, "coverage: \(batch) × \(plane) floats")
        maps.baseAddress!.update(repeating: 0, count: batch * plane)
        // Tiles are numbered across the batch (g → image g / tilesPerImage), so that small
        // images, one tile each, are reconstructed `chunk` at a time.
        let totalTiles = batch * tilesPerImage
        func origin(_ g: Int) -> (image: Int, row: Int, column: Int) {
            let (image, k) = (g / tilesPerImage, g % tilesPerImage)
            return (image, rows[k / columns.count], columns[k % columns.count])
        }
        var t = 0
        while t < totalTiles {
            let n = min(chunk, totalTiles - t)
            // Crop tiles t..<t+n: (n, C, tileH, tileW).
            tiles.withUnsafeMutableBufferPointer { buffer in
                for k in 0..<n {
                    let (image, r0, c0) = origin(t + k)
                    let x = inputs.baseAddress! + image * channels * plane
                    for c in 0..<channels {
                        for r in 0..<tileH {
                            (buffer.baseAddress! + k * tileSize + c * tilePlane + r * tileW)
                                .update(from: x + c * plane + (r0 + r) * width + c0, count: tileW)
                        }
                    }
                }
            }
            try tiles.withUnsafeBufferPointer { tileInputs in
                try tileMaps.withUnsafeMutableBufferPointer {
                    try anomalyMaps(inputs: UnsafeBufferPointer(rebasing: tileInputs[0..<(n * tileSize)]),
                                    batch: n, metric: scoring.metric, into: $0)
                }
            }
            // Accumulate each tile's channel mean where it lies.
            tileMaps.withUnsafeBufferPointer { m in
                coverage.withUnsafeMutableBufferPointer { cover in
                    let scale = 1 / Float(channels)
                    for k in 0..<n {
                        let (image, r0, c0) = origin(t + k)
                        let map = maps.baseAddress! + image * plane, count = cover.baseAddress! + image * plane
                        for r in 0..<tileH {
                            for col in 0..<tileW {
                                var s: Float = 0
                                for c in 0..<channels { s += m[k * tileSize + c * tilePlane + r * tileW + col] }
                                let p = (r0 + r) * width + c0 + col
                                map[p] += s * scale
                                count[p] += 1
                            }
                        }
                    }
                }
            }
            t += n
        }
        coverage.withUnsafeBufferPointer { cover in
            for p in 0..<(batch * plane) { maps[p] /= cover[p] }
        }
    }

    /// scores[i] = scoring.reduction(pixel map of image i). Arguments and errors as for
    /// `anomalyPixelMaps`; scores: at least batch floats.
    public func anomalyImageScores(inputs: UnsafeBufferPointer<Float>, batch: Int, height: Int, width: Int,
                                   scoring: AnomalyScoring, into scores: UnsafeMutableBufferPointer<Float>) throws {
        let plane = try checkImages(inputs: inputs, batch: batch, height: height, width: width)
        if scores.count < batch { throw AECVError.shape("scores: batch \(batch) needs \(batch) floats, capacity \(scores.count)") }
        // A group of images at a time: the maps of a large batch of large images need not fit,
        // and images of one tile each are still reconstructed many at once.
        let tiles = scoring.origins(length: height, tile: inputShape[1]).count
            * scoring.origins(length: width, tile: inputShape[2]).count
        let group = min(batch, max(1, Self.tileChunk / tiles))
        var maps = try MemoryCheck.zeroedFloats((group + 1) * plane, "pixel maps: \(group) × \(height) × \(width)")
        let size = inputShape[0] * plane
        try maps.withUnsafeMutableBufferPointer { m in
            var start = 0
            while start < batch {
                let n = min(group, batch - start)
                try anomalyPixelMaps(inputs: UnsafeBufferPointer(rebasing: inputs[(start * size)..<((start + n) * size)]),
                                     batch: n, height: height, width: width, scoring: scoring,
                                     into: UnsafeMutableBufferPointer(rebasing: m[0..<(n * plane)]))
                let scratch = m.baseAddress! + group * plane
                for i in 0..<n {
                    scores[start + i] = scoring.reduction.reduce(m.baseAddress! + i * plane, count: plane, scratch: scratch)
                }
                start += n
            }
        }
    }

    /// Checks images (batch, C, height, width) against the model and returns height × width.
    func checkImages(inputs: UnsafeBufferPointer<Float>, batch: Int, height: Int, width: Int) throws -> Int {
        if batch < 1 { throw AECVError.invalidArgument("batch: must be at least 1, got \(batch)") }
        let (channels, tileH, tileW) = (inputShape[0], inputShape[1], inputShape[2])
        if height < tileH || width < tileW {
            throw AECVError.invalidArgument("height, width: \(height) × \(width) is smaller than the model's input \(tileH) × \(tileW)")
        }
        let (plane, o1) = height.multipliedReportingOverflow(by: width)
        let (perImage, o2) = plane.multipliedReportingOverflow(by: channels)
        let (total, o3) = perImage.multipliedReportingOverflow(by: batch)
        if o1 || o2 || o3 || total > Int(Int32.max) * 4 {
            throw AECVError.noMemory("inputs: \(batch) × \(channels) × \(height) × \(width) floats is too large")
        }
        if inputs.count != total {
            throw AECVError.shape("inputs: \(batch) × \(channels) × \(height) × \(width) needs \(total) floats, got \(inputs.count)")
        }
        return plane
    }
}
