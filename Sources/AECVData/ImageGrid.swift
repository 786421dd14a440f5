/// Lays tiles of one size out as a grid picture, e.g. originals above their reconstructions.
public struct ImageGrid {
    /// Rows of tiles, top to bottom; a row may be shorter than the widest.
    public var rows: [[RasterImage]]
    /// Pixels per tile pixel.
    public var scale: Int
    /// Space between tiles, and around the grid.
    public var gap = 2
    /// Rows come in groups of this many (e.g. 2: original, reconstruction) ...
    public var groupSize = 1
    /// ... separated by this much more space (when groupSize > 1).
    public var groupGap = 8
    public var background: UInt8 = 48

    public init(rows: [[RasterImage]], scale: Int = 1) {
        self.rows = rows; self.scale = max(1, scale)
    }

    /// The scale that makes a tile of `side` pixels about `target` pixels wide (at least 1).
    public static func autoScale(tileSide side: Int, target: Int = 56) -> Int {
        max(1, min(8, (target + side / 2) / max(1, side)))
    }

    /// The grid as one image: grey if every tile is grey, else RGB.
    public func render() -> RasterImage {
        let tiles = rows.flatMap { $0 }
        precondition(!tiles.isEmpty, "ImageGrid: no tiles")
        let tileW = tiles[0].width * scale, tileH = tiles[0].height * scale
        let columns = rows.map(\.count).max()!
        let groups = (rows.count + groupSize - 1) / groupSize
        let groupGap = groupSize > 1 ? self.groupGap : 0
        let width = gap + columns * (tileW + gap)
        let height = gap + rows.count * (tileH + gap) + max(0, groups - 1) * groupGap
        let channels = tiles.allSatisfy(\.isGrey) ? 1 : 3
        var image = RasterImage(width: width, height: height,
                                fill: [UInt8](repeating: background, count: channels))
        for (r, row) in rows.enumerated() {
            let y = gap + r * (tileH + gap) + (r / groupSize) * groupGap
            for (c, tile) in row.enumerated() {
                image.draw(tile, x: gap + c * (tileW + gap), y: y, scale: scale)
            }
        }
        return image
    }
}
