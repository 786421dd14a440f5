import AECV
import AECVData
import CZlib
import Foundation
import XCTest

/// The PNG and .npy codecs, the image metrics and the plot of AECVData.
final class ImageCodecTests: XCTestCase {
    var random = RandomSource(seed: 42)

    func randomImage(width: Int, height: Int, channels: Int) -> RasterImage {
        // Smooth gradients plus noise: like photos, so every filter type has work to do.
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    let v = (x * 7 + y * 3 + c * 50) % 256
                    pixels.append(UInt8((v + Int(random.next() % 16)) % 256))
                }
            }
        }
        return RasterImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    // MARK: PNG

    func testPNGRoundTripsGreyGreyAlphaRGBAndRGBA() throws {
        for channels in 1...4 {
            for (w, h) in [(1, 1), (28, 28), (13, 7), (1, 40), (64, 3)] {
                let image = randomImage(width: w, height: h, channels: channels)
                let decoded = try PNG.decode(PNG.encode(image))
                XCTAssertEqual(decoded, image, "\(w)×\(h)×\(channels)")
            }
        }
    }

    /// A PNG written with each of the five row filters (and a mix), as other encoders write them,
    /// decodes to the original pixels.
    func testPNGDecodesAllFilterTypes() throws {
        for channels in [1, 3, 4] {
            let image = randomImage(width: 17, height: 9, channels: channels)
            for filter in 0...5 {
                let file = encodeFiltered(image, filter: { y in filter == 5 ? UInt8(y % 5) : UInt8(filter) },
                                          splitIDAT: filter == 3)
                XCTAssertEqual(try PNG.decode(file), image, "filter \(filter), \(channels) channels")
            }
        }
    }

    /// Every prefix of a PNG file is refused with a format error, never a crash.
    func testPNGTruncatedAtEveryOffsetIsAnError() throws {
        let file = try PNG.encode(randomImage(width: 9, height: 6, channels: 3))
        for length in 0..<file.count {
            XCTAssertThrowsError(try PNG.decode(Array(file[0..<length]))) { error in
                guard case AECVError.format = error else { return XCTFail("\(length): \(error)") }
            }
        }
    }

    /// Any one byte changed (with every CRC repaired, so the damage reaches the parser and zlib)
    /// gives an error or an image of a valid size, never a crash.
    func testPNGCorruptedBytesNeverCrash() throws {
        let image = randomImage(width: 8, height: 5, channels: 1)
        let file = try PNG.encode(image)
        for offset in 8..<file.count {
            for value: UInt8 in [0, 0xFF, file[offset] ^ 0x01] {
                var bad = file
                bad[offset] = value
                fixCRCs(&bad)
                if let decoded = try? PNG.decode(bad) {
                    XCTAssertEqual(decoded.pixels.count, decoded.width * decoded.height * decoded.channels)
                }
            }
        }
    }

    /// What libpng refuses, with its message after the file name (palette, 16-bit and Adam7
    /// files are read: see ImageDecodeTests).
    func testPNGRefusesInvalidFiles() throws {
        let base = try PNG.encode(randomImage(width: 4, height: 4, channels: 3))
        func withHeader(_ depth: UInt8, _ colour: UInt8, _ interlace: UInt8) -> [UInt8] {
            var b = base
            b[24] = depth; b[25] = colour; b[28] = interlace  // IHDR data starts at 16
            fixCRCs(&b)
            return b
        }
        let cases: [([UInt8], String)] = [
            (withHeader(8, 3, 0), "PLTE"),          // a palette image without its palette
            (withHeader(8, 5, 0), "IHDR"),    // no colour type 5
            (withHeader(3, 2, 0), "IHDR"),     // RGB has no 3-bit depth
            (Array("GIF89a not a png".utf8), "not a PNG file"),
        ]
        for (bytes, fragment) in cases {
            XCTAssertThrowsError(try PNG.decode(bytes, name: "x.png")) { error in
                XCTAssertTrue("\(error)".lowercased().contains(fragment.lowercased()), "\(error)")
                XCTAssertTrue("\(error)".hasPrefix("x.png: "), "\(error)")
            }
        }
        // A CRC mismatch is caught.
        var bad = base
        bad[20] ^= 0xFF
        XCTAssertThrowsError(try PNG.decode(bad)) { XCTAssertTrue("\($0)".contains("CRC"), "\($0)") }
    }

    // MARK: .npy

    func testNPYRoundTripAndHeader() throws {
        let values = (0..<24).map { Float($0) * 0.5 - 3 }
        let array = NPYArray(shape: [2, 3, 4], float32: values)
        let bytes = array.encode()
        XCTAssertEqual(Array(bytes[0..<8]), [0x93] + Array("NUMPY".utf8) + [1, 0])
        let header = String(decoding: bytes[10..<(10 + Int(bytes[8]))], as: UTF8.self)
        XCTAssertEqual(header.trimmingCharacters(in: .whitespacesAndNewlines),
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }")
        XCTAssertTrue(header.hasSuffix("\n"))
        XCTAssertEqual(try NPYArray.decode(bytes), array)
        let u8 = NPYArray(shape: [5], elements: .uint8([1, 2, 3, 4, 255]))
        XCTAssertEqual(try NPYArray.decode(u8.encode()), u8)
        XCTAssertTrue(String(decoding: u8.encode(), as: UTF8.self).contains("'shape': (5,)"))
        // Every prefix is an error, not a crash.
        for length in 0..<(bytes.count - 1) {
            XCTAssertThrowsError(try NPYArray.decode(Array(bytes[0..<length])), "prefix \(length)")
        }
    }

    func testNPYRefusesFortranOrderAndOtherTypes() throws {
        func file(_ header: String) -> [UInt8] {
            [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8) + [UInt8](repeating: 0, count: 64)
        }
        XCTAssertThrowsError(try NPYArray.decode(file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }"))) {
            XCTAssertTrue("\($0)".contains("Fortran"), "\($0)")
        }
        XCTAssertThrowsError(try NPYArray.decode(file("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"))) {
            XCTAssertTrue("\($0)".contains("'>f4' is not supported"), "\($0)")
        }
        XCTAssertThrowsError(try NPYArray.decode(file("{'descr': '<f4', 'shape': (2, 2"))) {
            XCTAssertTrue("\($0)".contains("not a Python dict"), "\($0)")
        }
        // Version 2 headers (4-byte length) are read too.
        let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }"
        let v2: [UInt8] = [0x93] + Array("NUMPY".utf8) + [2, 0, UInt8(header.utf8.count), 0, 0, 0] + Array(header.utf8) + [7, 8, 9]
        XCTAssertEqual(try NPYArray.decode(v2), NPYArray(shape: [3], elements: .uint8([7, 8, 9])))
    }

    // MARK: metrics

    /// SSIM against a direct (non-separable) evaluation of the definition: 11×11 Gaussian window,
    /// σ = 1.5, over the positions where the window fits.
    func testSSIMMatchesTheDefinition() throws {
        let (h, w) = (20, 16)
        let a = (0..<(h * w)).map { _ in random.uniform() }
        let b = a.map { min(1, max(0, $0 + 0.2 * random.normal())) }
        let got = try XCTUnwrap(a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in ImageMetrics.ssim(pa, pb, shape: [1, h, w]) }
        })
        var g = [[Double]](repeating: [Double](repeating: 0, count: 11), count: 11)
        var total = 0.0
        for i in 0..<11 { for j in 0..<11 {
            g[i][j] = exp(-Double((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5)); total += g[i][j]
        } }
        var sum = 0.0
        for y in 5..<(h - 5) {
            for x in 5..<(w - 5) {
                var mx = 0.0, my = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
                for i in 0..<11 { for j in 0..<11 {
                    let p = Double(a[(y + i - 5) * w + x + j - 5]), q = Double(b[(y + i - 5) * w + x + j - 5])
                    let wt = g[i][j] / total
                    mx += wt * p; my += wt * q; sxx += wt * p * p; syy += wt * q * q; sxy += wt * p * q
                } }
                let vx = sxx - mx * mx, vy = syy - my * my, cxy = sxy - mx * my
                let c1 = 1e-4, c2 = 9e-4
                sum += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
            }
        }
        XCTAssertEqual(got, sum / Double((h - 10) * (w - 10)), accuracy: 1e-9)
        let same = a.withUnsafeBufferPointer { ImageMetrics.ssim($0, $0, shape: [1, h, w]) }
        XCTAssertEqual(try XCTUnwrap(same), 1, accuracy: 1e-9)
    }

    func testPSNR() {
        XCTAssertEqual(ImageMetrics.psnr(meanSquaredError: 0.01), 20, accuracy: 1e-12)
        XCTAssertEqual(ImageMetrics.psnr(meanSquaredError: 0), ImageMetrics.maxPSNR)
    }

    // MARK: grids and plots

    func testGridAndPlotRender() throws {
        let tile = RasterImage(width: 3, height: 2, channels: 1, pixels: [0, 50, 100, 150, 200, 250])
        var grid = ImageGrid(rows: [[tile, tile], [tile]], scale: 2)
        grid.groupSize = 2
        let image = grid.render()
        XCTAssertEqual([image.width, image.height], [2 + 2 * 8, 2 + 2 * 6])
        XCTAssertEqual(image.pixels[(2 + 1) * image.width + 2 + 5], 100, "tile pixel (2, 0) scaled ×2")
        XCTAssertEqual(image.pixels[0], grid.background)

        var plot = LinePlot(title: "loss", xLabel: "epoch", yLabel: "loss")
        plot.series = [.init(name: "a", colour: [255, 0, 0], points: [(0, 1), (1, 0.5), (2, 0.01)], markers: true)]
        let rendered = plot.render()
        XCTAssertEqual([rendered.width, rendered.height, rendered.channels], [720, 440, 3])
        XCTAssertNoThrow(try PNG.decode(PNG.encode(rendered)))
        // No data at all still renders.
        XCTAssertEqual(LinePlot(title: "", xLabel: "", yLabel: "").render().width, 720)
    }

    // MARK: helpers

    /// A PNG of `image` whose row y uses filter `filter(y)`, IDAT optionally split in two chunks.
    func encodeFiltered(_ image: RasterImage, filter: (Int) -> UInt8, splitIDAT: Bool) -> [UInt8] {
        let bpp = image.channels, rowBytes = image.width * image.channels
        var raw: [UInt8] = []
        func px(_ x: Int, _ y: Int) -> Int { x < 0 || y < 0 ? 0 : Int(image.pixels[y * rowBytes + x]) }
        for y in 0..<image.height {
            let f = filter(y)
            raw.append(f)
            for i in 0..<rowBytes {
                let a = px(i - bpp, y), b = px(i, y - 1), c = px(i - bpp, y - 1), x = px(i, y)
                let predicted: Int
                switch f {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                default:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                }
                raw.append(UInt8((x - predicted) & 0xFF))
            }
        }
        var size = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(size))
        _ = compress2(&compressed, &size, raw, uLong(raw.count), 9)
        compressed.removeSubrange(Int(size)...)
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ data: [UInt8]) {
            let n = data.count
            out += [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
            let body = Array(type.utf8) + data
            out += body
            let crc = UInt32(crc32(0, body, uInt(body.count)))
            out += [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        }
        let w = image.width, h = image.height
        let colour: UInt8 = [1: 0, 2: 4, 3: 2, 4: 6][image.channels]!
        chunk("IHDR", [0, 0, UInt8(w >> 8), UInt8(w & 0xFF), 0, 0, UInt8(h >> 8), UInt8(h & 0xFF), 8, colour, 0, 0, 0])
        chunk("tEXt", Array("Comment\0ancillary chunks are skipped".utf8))
        if splitIDAT {
            let half = compressed.count / 2
            chunk("IDAT", Array(compressed[0..<half]))
            chunk("IDAT", Array(compressed[half...]))
        } else {
            chunk("IDAT", compressed)
        }
        chunk("IEND", [])
        return out
    }

    /// Recomputes the CRC of every chunk whose length field still fits the file.
    func fixCRCs(_ b: inout [UInt8]) {
        var o = 8
        while o + 12 <= b.count {
            let n = Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3])
            guard n <= b.count - o - 12 else { return }
            let crc = UInt32(b.withUnsafeBufferPointer { crc32(0, $0.baseAddress! + o + 4, uInt(n + 4)) })
            let c = o + 8 + n
            b[c] = UInt8(crc >> 24); b[c + 1] = UInt8(crc >> 16 & 0xFF); b[c + 2] = UInt8(crc >> 8 & 0xFF)
            b[c + 3] = UInt8(crc & 0xFF)
            o = c + 4
        }
    }
}
