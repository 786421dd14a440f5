import AECV
import AECVData
import Foundation
import XCTest

/// Reading an MVTec AD category folder as distributed (`MVTecCategory`): counts, labels, masks
/// (resized by nearest neighbour, as Pillow), and errors that name the missing path.
final class MVTecCategoryTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "aecv-mvtec-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testCountsLabelsTypesAndMasks() throws {
        let s = try SyntheticMVTec.write(root: directory + "/cat", trainCount: 5, goodCount: 3, defectCount: 4)
        let category = try MVTecCategory(path: s.root)
        XCTAssertEqual(category.trainFiles.count, 5)
        XCTAssertEqual(category.types, ["good", "line", "square"])
        XCTAssertEqual(category.testTypes, ["good", "good", "good"] + Array(repeating: "line", count: 4) + Array(repeating: "square", count: 4))
        XCTAssertEqual(category.maskFiles[0], nil)
        XCTAssertEqual(category.maskFiles[3], s.root + "/ground_truth/line/000_mask.png")
        let data = try category.load(size: 32, channels: 1)
        XCTAssertEqual(data.train.shape, [1, 32, 32])
        XCTAssertEqual(data.train.count, 5)
        XCTAssertEqual(data.test.count, 11)
        let testImages = data.test.floats()
        XCTAssertEqual(data.labels, [0, 0, 0] + Array(repeating: 1, count: 8))
        XCTAssertEqual(data.masks.count, 11 * 32 * 32)
        // Good images: no defect pixel; defect images: exactly the rectangle written.
        XCTAssertEqual(data.masks[0..<(3 * 1024)].filter { $0 != 0 }.count, 0)
        for (k, type) in SyntheticMVTec.types.enumerated() {
            for i in 0..<4 {
                let index = 3 + k * 4 + i
                let d = SyntheticMVTec.defect(type, i, side: 32)
                for y in 0..<32 {
                    for x in 0..<32 {
                        let inside = x >= d.x && x < d.x + d.w && y >= d.y && y < d.y + d.h
                        XCTAssertEqual(data.masks[index * 1024 + y * 32 + x], inside ? 1 : 0, "\(type) \(i) at (\(x), \(y))")
                        if inside { XCTAssertEqual(testImages[index * 1024 + y * 32 + x], Float(d.value) * (1 / 255)) }
                    }
                }
            }
        }
        // --rgb: three equal planes of the grey image.
        let rgb = try category.load(size: 32, channels: 3, trainLimit: 2)
        XCTAssertEqual(rgb.train.shape, [3, 32, 32])
        XCTAssertEqual(rgb.train.count, 2)
        XCTAssertEqual(Array(rgb.test.floats()[0..<1024]), Array(rgb.test.floats()[2048..<3072]))
        XCTAssertEqual(Array(rgb.test.floats()[0..<1024]), Array(data.test.floats()[0..<1024]))
    }

    /// Pillow's `resize(size, NEAREST)` of ramps (pixel = column index), from Pillow 10.
    func testNearestResizeMatchesPillow() {
        func ramp(_ w: Int, _ h: Int) -> RasterImage {
            RasterImage(width: w, height: h, channels: 1, pixels: (0..<(w * h)).map { UInt8($0 % w) })
        }
        let pillow40to16: [UInt8] = [1, 3, 6, 8, 11, 13, 16, 18, 21, 23, 26, 28, 31, 33, 36, 38]
        XCTAssertEqual(Array(ramp(40, 40).nearestResized(width: 16, height: 16).pixels[0..<16]), pillow40to16)
        let pillow50to16: [UInt8] = [1, 4, 7, 10, 14, 17, 20, 23, 26, 29, 32, 35, 39, 42, 45, 48]
        XCTAssertEqual(Array(ramp(50, 30).nearestResized(width: 16, height: 16).pixels[0..<16]), pillow50to16)
        let pillow50to70: [UInt8] = [0, 1, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 8, 9, 10, 11, 11, 12, 13, 13, 14, 15, 16, 16,
                                     17, 18, 18, 19, 20, 21, 21, 22, 23, 23, 24, 25, 26, 26, 27, 28, 28, 29, 30, 31, 31,
                                     32, 33, 33, 34, 35, 36, 36, 37, 38, 38, 39, 40, 41, 41, 42, 43, 43, 44, 45, 46, 46,
                                     47, 48, 48, 49]
        XCTAssertEqual(Array(ramp(50, 30).nearestResized(width: 70, height: 16).pixels[0..<70]), pillow50to70)
        // Rows use the same rule: a ramp down the rows, 40 → 16.
        let rows = RasterImage(width: 4, height: 40, channels: 1, pixels: (0..<160).map { UInt8($0 / 4) })
        XCTAssertEqual(rows.nearestResized(width: 4, height: 16).pixels.enumerated().filter { $0.offset % 4 == 0 }.map(\.element),
                       pillow40to16)
    }

    /// Masks of 40×40 loaded at 16×16 and 20×20: each pixel is the source pixel under its
    /// centre, binarized at 127 (a 128 counts as a defect, a 127 not).
    func testMasksAreResizedByNearestNeighbourAndBinarized() throws {
        let root = directory + "/big"
        for folder in ["train/good", "test/good", "test/spot", "ground_truth/spot"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        let image = RasterImage(width: 40, height: 40, fill: [80])
        try PNG.write(image, to: root + "/train/good/a.png")
        try PNG.write(image, to: root + "/test/good/a.png")
        try PNG.write(image, to: root + "/test/spot/a.png")
        var mask = RasterImage(width: 40, height: 40, fill: [0])
        for y in 10..<30 { for x in 10..<30 { mask.pixels[y * 40 + x] = 255 } }
        for x in 0..<40 { mask.pixels[x] = 128; mask.pixels[39 * 40 + x] = 127 }  // top row in, bottom row out
        try PNG.write(mask, to: root + "/ground_truth/spot/a_mask.png")
        let category = try MVTecCategory(path: root)
        let half = try category.load(size: 20, channels: 1)
        let m = Array(half.masks[400..<800])  // the spot image
        for y in 0..<20 {
            for x in 0..<20 {
                // Source pixel (2x + 1, 2y + 1): inside the square for 5 ≤ x, y < 15; row 0 reads row 1.
                XCTAssertEqual(m[y * 20 + x], (5..<15).contains(x) && (5..<15).contains(y) ? 1 : 0, "(\(x), \(y))")
            }
        }
        let small = try category.load(size: 16, channels: 1)
        let source: [Int] = [1, 3, 6, 8, 11, 13, 16, 18, 21, 23, 26, 28, 31, 33, 36, 38]  // Pillow, above
        let s = Array(small.masks[256..<512])
        for y in 0..<16 {
            for x in 0..<16 {
                let (sx, sy) = (source[x], source[y])
                let expected: UInt8 = (10..<30).contains(sx) && (10..<30).contains(sy) ? 1 : 0
                XCTAssertEqual(s[y * 16 + x], expected, "(\(x), \(y))")
            }
        }
        // Binarization: a mask row of 128 is a defect, of 127 not (rows 0 and 39 at size 40).
        let full = try category.load(size: 40, channels: 1)
        XCTAssertEqual(Array(full.masks[1600..<1640]), [UInt8](repeating: 1, count: 40))
        XCTAssertEqual(Array(full.masks[(1600 + 39 * 40)..<3200]), [UInt8](repeating: 0, count: 40))
        XCTAssertEqual(full.masks[1600..<3200].filter { $0 != 0 }.count, 400 + 40)
    }

    func testErrorsNameTheMissingPath() throws {
        let s = try SyntheticMVTec.write(root: directory + "/cat", trainCount: 2, goodCount: 1, defectCount: 2)
        let mask = s.root + "/ground_truth/square/001_mask.png"
        try FileManager.default.removeItem(atPath: mask)
        XCTAssertThrowsError(try MVTecCategory(path: s.root)) { error in
            let message = (error as? AECVError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains(mask), message)
            XCTAssertTrue(message.contains(s.root + "/test/square/001.png"), message)
        }
        try FileManager.default.removeItem(atPath: s.root + "/train")
        XCTAssertThrowsError(try MVTecCategory(path: s.root)) { error in
            let message = (error as? AECVError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains(s.root + "/train/good"), message)
            XCTAssertTrue(message.contains("ground_truth/<defect type>/<name>_mask.png"), message)
        }
        XCTAssertThrowsError(try MVTecCategory(path: directory + "/nothing")) { error in
            XCTAssertTrue(((error as? AECVError)?.message ?? "").contains(directory + "/nothing"))
        }
        // A mask of another size than its image.
        let t = try SyntheticMVTec.write(root: directory + "/sized", trainCount: 2, goodCount: 1, defectCount: 1)
        try PNG.write(RasterImage(width: 16, height: 16, fill: [0]), to: t.root + "/ground_truth/line/000_mask.png")
        XCTAssertThrowsError(try MVTecCategory(path: t.root).load(size: 32, channels: 1)) { error in
            let message = (error as? AECVError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains("000_mask.png: the mask is 16×16 but its image"), message)
        }
    }
}
