/// An image with labelled detection boxes drawn over it (for `aecv detect`): the image scaled up
/// by an integer factor as RGB, each box a 2-pixel rectangle in its class's colour with
/// "name score" above it.
public struct DetectionOverlay {
    public struct Box {
        public var classIndex: Int
        public var score: Float
        public var xMin: Float, yMin: Float, xMax: Float, yMax: Float
        public init(classIndex: Int, score: Float, xMin: Float, yMin: Float, xMax: Float, yMax: Float) {
            self.classIndex = classIndex; self.score = score
            self.xMin = xMin; self.yMin = yMin; self.xMax = xMax; self.yMax = yMax
        }
    }

    /// Ten distinct colours (Tableau 10), cycled for more classes.
    static let palette: [[UInt8]] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40],
                                     [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127],
                                     [188, 189, 34], [23, 190, 207]]

    public var image: RasterImage
    public var boxes: [Box]
    public var classNames: [String]
    public var scale: Int

    public init(image: RasterImage, boxes: [Box], classNames: [String] = [], scale: Int = 4) {
        self.image = image; self.boxes = boxes; self.classNames = classNames; self.scale = max(1, scale)
    }

    public func render() -> RasterImage {
        let s = scale
        var out = RasterImage(width: image.width * s, height: image.height * s, fill: [0, 0, 0])
        for y in 0..<out.height {
            for x in 0..<out.width {
                let i = ((y / s) * image.width + x / s) * image.channels
                let rgb: [UInt8] = image.channels >= 3 ? Array(image.pixels[i..<(i + 3)])
                    : [UInt8](repeating: image.pixels[i], count: 3)
                for k in 0..<3 { out.pixels[(y * out.width + x) * 3 + k] = rgb[k] }
            }
        }
        for b in boxes.reversed() {   // the best box drawn last, on top
            let colour = DetectionOverlay.palette[((b.classIndex % 10) + 10) % 10]
            let x0 = Int((b.xMin * Float(s)).rounded()), y0 = Int((b.yMin * Float(s)).rounded())
            let x1 = Int((b.xMax * Float(s)).rounded()) - 1, y1 = Int((b.yMax * Float(s)).rounded()) - 1
            for (ax, ay, bx, by) in [(x0, y0, x1, y0), (x0, y1, x1, y1), (x0, y0, x0, y1), (x1, y0, x1, y1)] {
                out.drawLine(x0: ax, y0: ay, x1: bx, y1: by, colour: colour, thickness: 2)
            }
            let name = b.classIndex < classNames.count ? classNames[b.classIndex] : "\(b.classIndex)"
            let score = Int((b.score * 100).rounded())
            let label = "\(name) .\(score < 10 ? "0" : "")\(min(score, 99))"
            let ty = y0 - BitmapFont.glyphHeight - 3 >= 0 ? y0 - BitmapFont.glyphHeight - 3 : y0 + 3
            out.fillRect(x: x0, y: ty - 1, width: BitmapFont.width(of: label) + 2, height: BitmapFont.glyphHeight + 2, colour: colour)
            out.drawText(label, x: x0 + 1, y: ty, colour: [255, 255, 255])
        }
        return out
    }
}
