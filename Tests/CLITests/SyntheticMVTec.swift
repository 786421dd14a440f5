import AECV
import AECVData
import Foundation

/// A small category in exactly the MVTec AD layout, written as PNGs: a flat grey texture
/// (0.3 ± a little noise) and two defect types that are bright by construction, so that any
/// reconstruction-based score sees them: "square" (a 6×6 square of 255) and "line" (a 2-pixel
/// horizontal line of 240, 12 pixels long). Masks are 255 exactly on the defect.
struct SyntheticMVTec {
    var root: String
    var side: Int
    var trainCount: Int
    var goodCount: Int
    var defectCount: Int
    static let types = ["line", "square"]

    /// The defect of test image `i` of `type`: (x0, y0, width, height, value).
    static func defect(_ type: String, _ i: Int, side: Int) -> (x: Int, y: Int, w: Int, h: Int, value: UInt8) {
        let (w, h, value): (Int, Int, UInt8) = type == "square" ? (6, 6, 255) : (12, 2, 240)
        return ((i * 7 + 3) % (side - w), (i * 11 + 5) % (side - h), w, h, value)
    }

    /// Writes the category below `root` (created).
    @discardableResult
    static func write(root: String, side: Int = 32, trainCount: Int = 40, goodCount: Int = 6, defectCount: Int = 6,
                      channels: Int = 1, seed: UInt64 = 1) throws -> SyntheticMVTec {
        var random = RandomSource(seed: seed)
        func texture() -> RasterImage {
            let pixels = (0..<(side * side)).map { _ in UInt8(70 + random.next() % 13) }  // 0.27…0.32
            let grey = RasterImage(width: side, height: side, channels: 1, pixels: pixels)
            return channels == 1 ? grey : grey.converted(channels: 3)
        }
        func save(_ image: RasterImage, _ relative: String) throws {
            let path = root + "/" + relative
            try FileManager.default.createDirectory(atPath: Directory.parentOf(path), withIntermediateDirectories: true)
            try PNG.write(image, to: path)
        }
        for i in 0..<trainCount { try save(texture(), "train/good/\(String(format: "%03d", i)).png") }
        for i in 0..<goodCount { try save(texture(), "test/good/\(String(format: "%03d", i)).png") }
        for type in types {
            for i in 0..<defectCount {
                var image = texture()
                var mask = RasterImage(width: side, height: side, fill: [0])
                let d = defect(type, i, side: side)
                for y in d.y..<(d.y + d.h) {
                    for x in d.x..<(d.x + d.w) {
                        for c in 0..<channels { image.pixels[(y * side + x) * channels + c] = d.value }
                        mask.pixels[y * side + x] = 255
                    }
                }
                let name = String(format: "%03d", i)
                try save(image, "test/\(type)/\(name).png")
                try save(mask, "ground_truth/\(type)/\(name)_mask.png")
            }
        }
        return SyntheticMVTec(root: root, side: side, trainCount: trainCount, goodCount: goodCount, defectCount: defectCount)
    }
}
