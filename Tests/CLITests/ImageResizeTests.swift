import AECV
import AECVData
import XCTest

/// Resizing and centre-cropping against Pillow's own output (Image.resize BILINEAR, and
/// torchvision's Resize + CenterCrop done with Pillow), written by tools/make_image_fixtures.py.
final class ImageResizeTests: XCTestCase {
    func fixture(_ name: String) -> String { ImageDecodeTests.fixtures + "/" + name }

    /// PSNR in dB of two byte arrays (peak 255).
    func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
        var sum = 0.0
        for (x, y) in zip(a, b) {
            let d = Double(Int(x) - Int(y))
            sum += d * d
        }
        let mse = sum / Double(a.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    func assertMatchesPillow(_ ours: RasterImage, _ pillow: RasterImage, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual([ours.width, ours.height, ours.channels], [pillow.width, pillow.height, pillow.channels], what,
                       file: file, line: line)
        guard ours.pixels.count == pillow.pixels.count else { return }
        // The same fixed-point arithmetic as Pillow: at most 1 off (rounding), PSNR ≥ 40 dB.
        XCTAssertLessThanOrEqual(maxByteDifference(ours.pixels, pillow.pixels), 1, what, file: file, line: line)
        XCTAssertGreaterThanOrEqual(psnr(ours.pixels, pillow.pixels), 40, what, file: file, line: line)
    }

    func testBilinearResizeMatchesPillowDownAndUp() throws {
        for source in ["rgb", "grey"] {
            let image = try ImageFile.read(path: fixture("resize_src_\(source).png"))
            for (w, h) in [(32, 32), (64, 40), (13, 50), (150, 100), (97, 30)] {
                let pillow = try ImageFile.read(path: fixture("resize_\(source)_\(w)x\(h).png"))
                assertMatchesPillow(image.resized(width: w, height: h), pillow, "\(source) to \(w)×\(h)")
            }
            for s in [32, 24] {
                let pillow = try ImageFile.read(path: fixture("crop_\(source)_\(s).png"))
                assertMatchesPillow(image.shorterSideResizedAndCentreCropped(s), pillow, "\(source) crop \(s)")
            }
        }
    }

    /// Real photographs from skimage (read from python3-skimage; Pillow's results committed).
    func testResizeOfSkimagePhotosMatchesPillow() throws {
        guard Directory.kind(of: ImageDecodeTests.skimageData) == .directory else {
            throw XCTSkip("SKIPPED LOUDLY: \(ImageDecodeTests.skimageData) is missing (install Debian's python3-skimage)")
        }
        for name in ["chelsea.png", "camera.png", "rocket.jpg"] {
            let image = try ImageFile.read(path: ImageDecodeTests.skimageData + "/" + name)
            let base = String(name.split(separator: ".")[0])
            assertMatchesPillow(image.resized(width: 64, height: 64),
                                try ImageFile.read(path: fixture("skimage_\(base)_64x64.png")), "\(name) 64×64")
            assertMatchesPillow(image.shorterSideResizedAndCentreCropped(128),
                                try ImageFile.read(path: fixture("skimage_\(base)_crop128.png")), "\(name) crop 128")
        }
    }

    /// A constant image stays constant under any resize (the weights sum to one), and the
    /// identity size is a copy.
    func testResizeInvariants() {
        let flat = RasterImage(width: 37, height: 23, fill: [200, 10, 99])
        let small = flat.resized(width: 5, height: 8)
        XCTAssertTrue(stride(from: 0, to: small.pixels.count, by: 3).allSatisfy {
            small.pixels[$0] == 200 && small.pixels[$0 + 1] == 10 && small.pixels[$0 + 2] == 99
        })
        var random = RandomSource(seed: 1)
        let noisy = RasterImage(width: 9, height: 4, channels: 1, pixels: (0..<36).map { _ in UInt8(random.next() & 0xFF) })
        XCTAssertEqual(noisy.resized(width: 9, height: 4), noisy)
    }

    /// RGB to grey as Pillow's convert("L").
    func testGreyConversionIsPillowsLuma() {
        let rgb = RasterImage(width: 3, height: 1, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 10, 200, 30])
        // Pillow: L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
        XCTAssertEqual(rgb.converted(channels: 1).pixels, [76, 150, 124])
        XCTAssertEqual(RasterImage(width: 1, height: 1, channels: 2, pixels: [9, 0]).converted(channels: 3).pixels, [9, 9, 9])
    }
}
