/// The EXIF orientation of a JPEG file (tag 0x0112 of IFD0 in the APP1 "Exif" segment), read
/// from the bytes directly, and its application to a decoded image.
///
/// Values (TIFF 6.0 / EXIF 2.3): 1 as stored, 2 mirrored left-right, 3 rotated 180°, 4 mirrored
/// top-bottom, 5 transposed, 6 rotated 90° clockwise, 7 transversed, 8 rotated 90°
/// counter-clockwise to display, as Pillow's `ImageOps.exif_transpose` applies them.
public enum ExifOrientation {
    /// 1...8; 1 when the file has no (valid) orientation. Every offset is bounds-checked: a
    /// malformed segment means orientation 1, never a crash.
    public static func of(jpeg bytes: [UInt8]) -> Int {
        let n = bytes.count
        guard n >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return 1 }
        var p = 2
        while p + 4 <= n {
            guard bytes[p] == 0xFF else { return 1 }
            let marker = bytes[p + 1]
            if marker == 0xFF { p += 1; continue }  // fill byte
            if marker == 0xDA || marker == 0xD9 { return 1 }  // start of scan / end: no APP1 found
            if (0xD0...0xD7).contains(marker) || marker == 0x01 { p += 2; continue }
            let length = Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
            guard length >= 2, p + 2 + length <= n else { return 1 }
            if marker == 0xE1, length >= 8,
               Array(bytes[(p + 4)..<(p + 10)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {  // "Exif\0\0"
                return tiffOrientation(bytes, start: p + 10, end: p + 2 + length) ?? 1
            }
            p += 2 + length
        }
        return 1
    }

    /// Orientation from a TIFF structure in bytes[start..<end].
    static func tiffOrientation(_ b: [UInt8], start: Int, end: Int) -> Int? {
        guard end - start >= 8 else { return nil }
        let little: Bool
        switch (b[start], b[start + 1]) {
        case (0x49, 0x49): little = true  // "II"
        case (0x4D, 0x4D): little = false  // "MM"
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= start, o + 2 <= end else { return nil }
            return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let lo = u16(little ? o : o + 2), let hi = u16(little ? o + 2 : o) else { return nil }
            return hi << 16 | lo
        }
        guard u16(start + 2) == 42, let ifd = u32(start + 4), ifd <= end - start,
              let count = u16(start + ifd) else { return nil }
        for i in 0..<count {
            let entry = start + ifd + 2 + 12 * i
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112 {
                guard u16(entry + 2) == 3, let value = u16(entry + 8), (1...8).contains(value) else { return nil }
                return value
            }
        }
        return nil
    }
}

extension RasterImage {
    /// The image as displayed under EXIF orientation `orientation` (1...8; others: unchanged).
    public func oriented(_ orientation: Int) -> RasterImage {
        guard (2...8).contains(orientation) else { return self }
        let (w, h, c) = (width, height, channels)
        let swaps = orientation >= 5
        let (ow, oh) = swaps ? (h, w) : (w, h)
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    for x in 0..<ow {
                        // (sx, sy): the stored pixel shown at (x, y).
                        let sx: Int, sy: Int
                        switch orientation {
                        case 2: (sx, sy) = (w - 1 - x, y)
                        case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                        case 4: (sx, sy) = (x, h - 1 - y)
                        case 5: (sx, sy) = (y, x)
                        case 6: (sx, sy) = (y, h - 1 - x)
                        case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                        default: (sx, sy) = (w - 1 - y, x)
                        }
                        let s = (sy * w + sx) * c, d = (y * ow + x) * c
                        for k in 0..<c { dst[d + k] = src[s + k] }
                    }
                }
            }
        }
        return RasterImage(width: ow, height: oh, channels: c, pixels: out)
    }
}
