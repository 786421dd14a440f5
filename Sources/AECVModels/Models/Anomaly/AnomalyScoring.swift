import AECVKernels

/// Everything that turns images into anomaly maps and scores, in one value, so that the C API,
/// Python and the CLI compute them the same way (and a model file stores it with its
/// thresholds, `AnomalyCalibration`):
///
///   pixel map (H, W) = the mean over channels of the metric's map (C, H, W) of each tile,
///                      averaged over the tiles that cover the pixel;
///   image score      = reduction(pixel map).
///
/// Tiles: an image larger than the model's input (C, h, w) is cut into h × w tiles placed every
/// `tileStride` pixels in each direction, the last tile of a row or column flush with the
/// border, so every pixel is covered; an image of exactly the input's size is one tile. Tiles
/// overlap when the stride is smaller than the tile, which smooths the seams (half the tile is
/// the default).
public struct AnomalyScoring: Equatable, Sendable {
    public var metric: AnomalyMetric
    public var reduction: ScoreReduction
    /// Pixels between tile origins; 0 = half the tile (rounded up) in each direction.
    public var tileStride: Int

    public init(metric: AnomalyMetric = .mse, reduction: ScoreReduction = .mean, tileStride: Int = 0) throws {
        if tileStride < 0 { throw AECVError.invalidArgument("tile_stride: must be 0 (half a tile) or positive, got \(tileStride)") }
        (self.metric, self.reduction, self.tileStride) = (metric, reduction, tileStride)
    }

    /// Tile origins along an axis of `length` pixels for tiles of `tile` pixels.
    package func origins(length: Int, tile: Int) -> [Int] {
        let stride = tileStride > 0 ? tileStride : (tile + 1) / 2
        var origins: [Int] = []
        var o = 0
        while o + tile < length { origins.append(o); o += stride }
        origins.append(length - tile)
        return origins
    }
}
