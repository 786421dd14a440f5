/// A confusion matrix rendered to an RGB raster: one cell per (true, predicted) class pair, shaded
/// by the fraction of the true class's images it holds (white 0 → blue 1), with the count
/// written in the cell when it fits. Rows are the true classes (named on the left), columns the
/// predicted ones (numbered on top).
public struct ConfusionMatrixPlot {
    /// counts[t][p]: images of true class t predicted as p; square.
    public var counts: [[Int]]
    /// One name per class for the row labels (e.g. "0 t-shirt/top"); default the numbers.
    public var classNames: [String]
    public var title: String

    public init(counts: [[Int]], classNames: [String]? = nil, title: String) {
        self.counts = counts
        self.classNames = classNames ?? counts.indices.map(String.init)
        self.title = title
    }

    static let ink: [UInt8] = [40, 40, 40]
    static let full: [UInt8] = [31, 100, 190]

    /// Pixels per cell: 40, smaller for many classes (at least 6).
    var cell: Int { max(6, min(40, 1000 / max(1, counts.count))) }

    public func render() -> RasterImage {
        let k = counts.count
        let cell = self.cell
        let labelWidth = classNames.prefix(k).map { BitmapFont.width(of: $0) }.max() ?? 0
        let left = 12 + labelWidth + 14, top = 62
        let gridSide = k * cell
        let width = max(left + gridSide + 16, BitmapFont.width(of: title) * 2 + 24)
        let height = top + gridSide + 16
        var image = RasterImage(width: width, height: height, fill: [255, 255, 255])
        image.drawText(title, x: (width - BitmapFont.width(of: title) * 2) / 2, y: 8, colour: Self.ink, scale: 2)
        let caption = "predicted"
        image.drawText(caption, x: left + (gridSide - BitmapFont.width(of: caption)) / 2, y: 30, colour: Self.ink)
        image.drawText("true", x: 12, y: 44, colour: Self.ink)
        for c in 0..<k {
            let label = String(c)
            if BitmapFont.width(of: label) <= cell - 2 {
                image.drawText(label, x: left + c * cell + (cell - BitmapFont.width(of: label)) / 2, y: 46, colour: Self.ink)
            }
        }
        for t in 0..<k {
            let y = top + t * cell
            if cell >= BitmapFont.glyphHeight, t < classNames.count {
                image.drawText(classNames[t], x: 12, y: y + (cell - BitmapFont.glyphHeight) / 2, colour: Self.ink)
            }
            let total = max(1, counts[t].reduce(0, +))
            for p in 0..<k {
                let n = p < counts[t].count ? counts[t][p] : 0
                let f = Double(n) / Double(total)
                let colour = (0..<3).map { UInt8((255 - f * Double(255 - Int(Self.full[$0]))).rounded()) }
                let x = left + p * cell
                image.fillRect(x: x, y: y, width: cell, height: cell, colour: colour)
                let text = String(n)
                if n > 0 && BitmapFont.width(of: text) <= cell - 4 && cell >= BitmapFont.glyphHeight + 4 {
                    image.drawText(text, x: x + (cell - BitmapFont.width(of: text)) / 2,
                                   y: y + (cell - BitmapFont.glyphHeight) / 2,
                                   colour: f > 0.5 ? [255, 255, 255] : Self.ink)
                }
            }
        }
        // Grid lines.
        let line: [UInt8] = [200, 200, 200]
        for i in 0...k {
            image.drawLine(x0: left + i * cell, y0: top, x1: left + i * cell, y1: top + gridSide, colour: line)
            image.drawLine(x0: left, y0: top + i * cell, x1: left + gridSide, y1: top + i * cell, colour: line)
        }
        return image
    }
}
