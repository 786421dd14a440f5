#if canImport(Glibc)
import Glibc
#endif
import AECV
import AECVData
import XCTest

/// JPEG (libjpeg-turbo) and PNG (libpng) decoding against fixtures written by
/// tools/make_image_fixtures.py (Pillow), skimage's sample photos, and every kind of bad file.
final class ImageDecodeTests: XCTestCase {
    static let fixtures = Directory.parentOf(Directory.parentOf(#filePath)) + "/ImageFixtures"
    static let skimageData = "/usr/lib/python3/dist-packages/skimage/data"

    func fixture(_ name: String) -> String { Self.fixtures + "/" + name }

    func fixtureNames(prefix: String, suffix: String) throws -> [String] {
        try Directory.entries(of: Self.fixtures)
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) && !$0.contains(".expected") }.sorted()
    }

    func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
        let directory = "/tmp/aecv-image-tests-\(getpid())"
        try Directory.create(directory)
        let path = directory + "/" + name
        try FileIO.writeAtomically(path: path, bytes: bytes)
        return path
    }

    /// Asserts a one-line format error that names `name` and contains `fragment`.
    func assertRefused(_ bytes: [UInt8], name: String = "bad.img", _ fragment: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ImageFile.decode(bytes, name: name), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(name + ": "), "no file name in: \(text)", file: file, line: line)
            XCTAssertTrue(text.lowercased().contains(fragment.lowercased()), "expected '\(fragment)' in: \(text)", file: file, line: line)
            XCTAssertFalse(text.contains("\n"), "more than one line: \(text)", file: file, line: line)
        }
    }

    // MARK: PNG

    /// Grey 1/2/4/8/16-bit, grey+alpha, RGB, RGBA (8 and 16), palette 1/2/4/8-bit, tRNS on
    /// grey, RGB and palette, each plain and Adam7-interlaced: the pixels libpng gives equal the
    /// expected 8-bit pixels (checked against Pillow by the generator where Pillow reads 8-bit).
    func testPNGEveryColourTypeBitDepthPaletteTRNSAndInterlace() throws {
        let names = try fixtureNames(prefix: "png_", suffix: ".png")
        XCTAssertGreaterThanOrEqual(names.count, 30, "fixtures missing: run tools/make_image_fixtures.py")
        for name in names {
            let image = try ImageFile.read(path: fixture(name))
            let expected = try PNG.read(path: fixture(name.replacingOccurrences(of: ".png", with: ".expected.png")))
            XCTAssertEqual(image, expected, name)
        }
        // Spot checks on what the conversions mean.
        XCTAssertEqual(try ImageFile.read(path: fixture("png_palette4_trns.png")).channels, 4)
        XCTAssertEqual(try ImageFile.read(path: fixture("png_grey8_trns.png")).channels, 2)
        XCTAssertEqual(try ImageFile.read(path: fixture("png_rgb16.png")).channels, 3)
        XCTAssertTrue(try ImageFile.read(path: fixture("png_grey1.png")).pixels.allSatisfy { $0 == 0 || $0 == 255 })
    }

    // MARK: JPEG

    /// Baseline, progressive, 4:2:0 and grey JPEGs decode to Pillow's pixels (same libjpeg-turbo,
    /// islow DCT, fancy upsampling), and the 8 EXIF orientations to Pillow's exif_transpose.
    func testJPEGMatchesPillowIncludingProgressiveGreyAndEXIFOrientation() throws {
        let names = try fixtureNames(prefix: "jpeg_", suffix: ".jpg").filter { $0 != "jpeg_cmyk.jpg" }
        XCTAssertGreaterThanOrEqual(names.count, 13, "fixtures missing: run tools/make_image_fixtures.py")
        for name in names {
            let image = try ImageFile.read(path: fixture(name))
            let expected = try PNG.read(path: fixture(name.replacingOccurrences(of: ".jpg", with: ".expected.png")))
            XCTAssertEqual(image.width, expected.width, name)
            XCTAssertEqual(image.height, expected.height, name)
            XCTAssertEqual(image.channels, expected.channels, name)
            XCTAssertLessThanOrEqual(maxByteDifference(image.pixels, expected.pixels), 1, name)
        }
        let stored = try ImageFile.read(path: fixture("jpeg_orientation1.jpg"))
        XCTAssertEqual([stored.width, stored.height], [40, 24])
        for o in 5...8 {
            let turned = try ImageFile.read(path: fixture("jpeg_orientation\(o).jpg"))
            XCTAssertEqual([turned.width, turned.height], [24, 40], "orientation \(o) swaps the sides")
            XCTAssertEqual(ExifOrientation.of(jpeg: try FileIO.readAll(path: fixture("jpeg_orientation\(o).jpg"), maxBytes: 1 << 20)), o)
        }
        XCTAssertEqual(try ImageFile.read(path: fixture("jpeg_grey.jpg")).channels, 1)
    }

    func testOrientationsAreTheEightSymmetriesOfTheSquare() {
        // 3×2 image with distinct pixels 0...5; each orientation applied then its inverse is the
        // identity, and they are pairwise different.
        let image = RasterImage(width: 3, height: 2, channels: 1, pixels: [0, 1, 2, 3, 4, 5])
        let inverse = [1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6]
        var seen: Set<[UInt8]> = []
        for o in 1...8 {
            let t = image.oriented(o)
            XCTAssertEqual(t.oriented(inverse[o]!), image, "orientation \(o)")
            seen.insert(t.pixels + [UInt8(t.width)])
        }
        XCTAssertEqual(seen.count, 8)
        // 6 = rotate 90° clockwise: the bottom-left pixel (3) comes to the top-left.
        XCTAssertEqual(image.oriented(6).pixels, [3, 0, 4, 1, 5, 2])
    }

    func testCMYKJPEGIsRefusedClearly() throws {
        let bytes = try FileIO.readAll(path: fixture("jpeg_cmyk.jpg"), maxBytes: 1 << 20)
        assertRefused(bytes, name: "cmyk.jpg", "CMYK")
    }

    // MARK: real photographs

    /// Every PNG and JPEG that skimage ships decodes (palette, 16-bit, RGBA ones among them),
    /// except its truncated.jpg, which is refused with a one-line error.
    func testSkimageSampleImagesDecode() throws {
        guard Directory.kind(of: Self.skimageData) == .directory else {
            throw XCTSkip("SKIPPED LOUDLY: \(Self.skimageData) is missing (install Debian's python3-skimage)")
        }
        let names = try Directory.entries(of: Self.skimageData).filter { ImageFile.hasImageExtension($0) }.sorted()
        XCTAssertGreaterThan(names.count, 20)
        for name in names {
            let path = Self.skimageData + "/" + name
            if name == "truncated.jpg" {
                XCTAssertThrowsError(try ImageFile.read(path: path)) { e in
                    XCTAssertTrue("\(e)".contains(path) && !"\(e)".contains("\n"), "\(e)")
                }
                continue
            }
            let image = try ImageFile.read(path: path)
            let bytes = try FileIO.readAll(path: path, maxBytes: 1 << 26)
            if name.hasSuffix(".png") {  // the size the IHDR chunk declares
                func u32(_ o: Int) -> Int { bytes[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
                XCTAssertEqual([image.width, image.height], [u32(16), u32(20)], name)
            } else {
                XCTAssertGreaterThan(image.width * image.height, 1000, name)
            }
        }
        let astronaut = try ImageFile.read(path: Self.skimageData + "/astronaut.png")
        XCTAssertEqual([astronaut.width, astronaut.height, astronaut.channels], [512, 512, 3])
        let palette = try ImageFile.read(path: Self.skimageData + "/palette_color.png")
        XCTAssertGreaterThanOrEqual(palette.channels, 3)
    }

    // MARK: bad input

    func testEmptyTextAndUnreadableFilesAreOneLineErrors() throws {
        assertRefused([], name: "empty.jpg", "empty")
        assertRefused(Array("hello, I am not a picture\n".utf8), name: "notes.jpg", "not a JPEG or PNG")
        XCTAssertThrowsError(try ImageFile.read(path: "/nonexistent/x.png")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/x.png"), "\(e)")
        }
        XCTAssertThrowsError(try ImageFile.read(path: Self.fixtures)) { e in
            XCTAssertTrue("\(e)".contains(Self.fixtures), "\(e)")
        }
        // JPEG and PNG signatures followed by garbage.
        assertRefused([0xFF, 0xD8, 0xFF, 0x00, 0x01, 0x02], name: "junk.jpg", "JPEG")
        assertRefused(PNG.signature + [0, 0, 0, 0], name: "junk.png", "PNG")
    }

    /// Every prefix of a JPEG (progressive too) and of a PNG is an error naming the file, never
    /// a crash or made-up pixels.
    func testTruncatedFilesAreErrors() throws {
        for name in ["jpeg_baseline.jpg", "jpeg_progressive.jpg", "png_rgb8_adam7.png", "png_palette4_trns.png"] {
            let bytes = try FileIO.readAll(path: fixture(name), maxBytes: 1 << 20)
            var length = 0
            while length < bytes.count - 1 {
                XCTAssertThrowsError(try ImageFile.decode(Array(bytes[0..<length]), name: name),
                                     "\(name) cut to \(length) bytes decoded")
                length += max(1, bytes.count / 97)
            }
        }
        assertRefused(Array(try FileIO.readAll(path: fixture("jpeg_baseline.jpg"), maxBytes: 1 << 20).prefix(600)),
                      name: "cut.jpg", "premature end")
    }

    /// Flipped bytes either decode to an image of a sane size or fail cleanly.
    func testCorruptedFilesNeverCrash() throws {
        var random = RandomSource(seed: 7)
        for name in ["jpeg_progressive.jpg", "jpeg_orientation6.jpg", "png_rgba16_adam7.png", "png_palette8.png"] {
            let bytes = try FileIO.readAll(path: fixture(name), maxBytes: 1 << 20)
            for _ in 0..<150 {
                var bad = bytes
                for _ in 0..<(1 + Int(random.next() % 4)) {
                    bad[Int(random.next() % UInt64(bad.count))] = UInt8(random.next() & 0xFF)
                }
                if let image = try? ImageFile.decode(bad, name: name) {
                    XCTAssertLessThanOrEqual(image.width * image.height, ImageFile.maxPixels)
                }
            }
        }
        // A PNG with a damaged IHDR CRC: libpng's message, after the file name.
        var png = try FileIO.readAll(path: fixture("png_rgb8.png"), maxBytes: 1 << 20)
        png[20] ^= 0xFF
        assertRefused(png, name: "crc.png", "CRC")
    }

    /// 20,000 × 20,000 headers are refused from the header, before any pixel memory exists.
    func testHugeHeadersAreRefusedBeforeAllocating() throws {
        var png = try FileIO.readAll(path: fixture("png_rgb8.png"), maxBytes: 1 << 20)
        for (offset, value) in [(16, 20_000), (20, 20_000)] {
            for k in 0..<4 { png[offset + k] = UInt8(value >> (24 - 8 * k) & 0xFF) }
        }
        // Recompute IHDR's CRC so that only the size is wrong.
        let crc = Array(png[12..<29]).withUnsafeBytes { CRC32.checksum($0) }
        for k in 0..<4 { png[29 + k] = UInt8(crc >> UInt32(24 - 8 * k) & 0xFF) }
        assertRefused(png, name: "huge.png", "limit")

        var jpeg = try FileIO.readAll(path: fixture("jpeg_baseline.jpg"), maxBytes: 1 << 20)
        guard let sof = (0..<(jpeg.count - 9)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) else {
            return XCTFail("no SOF0 marker in the baseline fixture")
        }
        // SOF0: FF C0, length (2), precision (1), height (2), width (2).
        jpeg[sof + 5] = UInt8(20_000 >> 8); jpeg[sof + 6] = UInt8(20_000 & 0xFF)
        jpeg[sof + 7] = UInt8(20_000 >> 8); jpeg[sof + 8] = UInt8(20_000 & 0xFF)
        assertRefused(jpeg, name: "huge.jpg", "limit")
    }

    /// The EXIF parser on every prefix and on corrupted segments: 1...8, never a crash.
    func testEXIFParserIsBoundsChecked() throws {
        let bytes = try FileIO.readAll(path: fixture("jpeg_orientation8.jpg"), maxBytes: 1 << 20)
        var random = RandomSource(seed: 3)
        for length in 0..<min(bytes.count, 400) {
            XCTAssertTrue((1...8).contains(ExifOrientation.of(jpeg: Array(bytes[0..<length]))))
        }
        for _ in 0..<500 {
            var bad = bytes
            bad[Int(random.next() % 200)] = UInt8(random.next() & 0xFF)
            XCTAssertTrue((1...8).contains(ExifOrientation.of(jpeg: bad)))
        }
    }
}
