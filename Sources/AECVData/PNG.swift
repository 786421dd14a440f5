import AECV
import CZlib

/// A small PNG codec on zlib, for what the tools need and nothing more.
///
/// Writing: 8-bit grey, RGB or RGBA, filter type 0 on every row, one IDAT chunk (zlib's
/// `compress2`), CRC-32 from zlib's `crc32`.
///
/// Reading: 8-bit, non-interlaced grey (type 0), grey+alpha (4), RGB (2) and RGBA (6), with all five
/// row filters; IDAT chunks are concatenated and inflated with `uncompress`. Anything else
/// (palette, 16-bit or sub-byte depths, Adam7 interlacing, unknown critical chunks) is refused
/// with an `AECVError.format` that says what the file is. Every length and index is checked
/// before use, so a malformed or truncated file is an error, never a crash.
///
/// Layout: 8-byte signature, then chunks of u32 length (big-endian), 4-byte type, data, and a
/// CRC-32 of type + data; IHDR first (width, height u32; bit depth, colour type, compression,
/// filter, interlace u8), IEND last.
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Largest width or height accepted when reading.
    public static let maxDimension = 1 << 15
    /// Largest number of pixels accepted when reading (bounds the memory a file can ask for).
    public static let maxPixels = 1 << 26
    /// Largest PNG file read.
    public static let maxFileBytes = 1 << 30

    // MARK: - Writing

    /// The PNG file of `image` (grey, RGB or RGBA; grey+alpha is written as such too).
    public static func encode(_ image: RasterImage) throws -> [UInt8] {
        let colourType: UInt8
        switch image.channels {
        case 1: colourType = 0
        case 2: colourType = 4
        case 3: colourType = 2
        default: colourType = 6
        }
        let rowBytes = image.width * image.channels
        // Filter type 0 (None): each row is a zero byte followed by the row's bytes.
        var raw = [UInt8](repeating: 0, count: image.height * (rowBytes + 1))
        image.pixels.withUnsafeBufferPointer { src in
            raw.withUnsafeMutableBufferPointer { dst in
                for y in 0..<image.height {
                    let d = dst.baseAddress! + y * (rowBytes + 1) + 1
                    d.update(from: src.baseAddress! + y * rowBytes, count: rowBytes)
                }
            }
        }
        var compressedCount = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedCount))
        let status = compressed.withUnsafeMutableBufferPointer { dst in
            raw.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &compressedCount, src.baseAddress, uLong(src.count), 6)
            }
        }
        guard status == Z_OK else {
            throw AECVError.internal("PNG: zlib compress2 failed with status \(status)")
        }
        compressed.removeSubrange(Int(compressedCount)...)

        var out = signature
        var header: [UInt8] = []
        appendUInt32(&header, UInt32(image.width))
        appendUInt32(&header, UInt32(image.height))
        header += [8, colourType, 0, 0, 0]
        appendChunk(&out, "IHDR", header)
        appendChunk(&out, "IDAT", compressed)
        appendChunk(&out, "IEND", [])
        return out
    }

    /// Writes `image` to `path` atomically.
    public static func write(_ image: RasterImage, to path: String) throws {
        try FileIO.writeAtomically(path: path, bytes: encode(image))
    }

    private static func appendUInt32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    private static func appendChunk(_ out: inout [UInt8], _ type: String, _ data: [UInt8]) {
        appendUInt32(&out, UInt32(data.count))
        let start = out.count
        out += Array(type.utf8)
        out += data
        let crc = out.withUnsafeBufferPointer { b in
            crc32(0, b.baseAddress! + start, uInt(out.count - start))
        }
        appendUInt32(&out, UInt32(truncatingIfNeeded: crc))
    }

    // MARK: - Reading

    /// Reads the PNG file at `path`.
    public static func read(path: String) throws -> RasterImage {
        try decode(FileIO.readAll(path: path, maxBytes: maxFileBytes), name: path)
    }

    /// Decodes a PNG file; `name` prefixes error messages.
    public static func decode(_ bytes: [UInt8], name: String = "PNG") throws -> RasterImage {
        func fail(_ why: String) -> AECVError { .format("\(name): \(why)") }
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw fail("not a PNG file (bad signature)")
        }
        func u32(_ o: Int) -> Int {
            Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
        }
        var offset = 8
        var header: (width: Int, height: Int, channels: Int)?
        var idat: [UInt8] = []
        var sawEnd = false
        while !sawEnd {
            guard bytes.count - offset >= 12 else {
                throw fail("truncated (chunk header at byte \(offset) is incomplete; no IEND)")
            }
            let length = u32(offset)
            let typeBytes = Array(bytes[(offset + 4)..<(offset + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw fail("corrupt chunk type at byte \(offset + 4)")
            }
            guard length <= bytes.count - offset - 12 else {
                throw fail("truncated (chunk \(type) at byte \(offset) needs \(length) bytes)")
            }
            let dataStart = offset + 8
            let stored = u32(dataStart + length)
            let computed = bytes.withUnsafeBufferPointer { b in
                Int(crc32(0, b.baseAddress! + offset + 4, uInt(length + 4)))
            }
            guard stored == computed else { throw fail("CRC mismatch in chunk \(type) (corrupt file)") }
            let data = bytes[dataStart..<(dataStart + length)]
            offset = dataStart + length + 4

            if header == nil && type != "IHDR" { throw fail("the first chunk is \(type), not IHDR") }
            switch type {
            case "IHDR":
                guard header == nil else { throw fail("more than one IHDR chunk") }
                guard length == 13 else { throw fail("IHDR has \(length) bytes, not 13") }
                let h = Array(data)
                let width = Int(h[0]) << 24 | Int(h[1]) << 16 | Int(h[2]) << 8 | Int(h[3])
                let height = Int(h[4]) << 24 | Int(h[5]) << 16 | Int(h[6]) << 8 | Int(h[7])
                let (depth, colour, compression, filter, interlace) = (h[8], h[9], h[10], h[11], h[12])
                let channels: Int
                switch colour {
                case 0: channels = 1
                case 2: channels = 3
                case 4: channels = 2
                case 6: channels = 4
                case 3: throw fail("palette (indexed-colour) PNGs are not supported; save it as grey or RGB")
                default: throw fail("invalid colour type \(colour)")
                }
                guard depth == 8 else {
                    throw fail("bit depth \(depth) is not supported (8-bit grey, RGB or RGBA only)")
                }
                guard compression == 0, filter == 0 else {
                    throw fail("unknown compression method \(compression) or filter method \(filter)")
                }
                guard interlace == 0 else {
                    throw fail("interlaced (Adam7) PNGs are not supported; save it non-interlaced")
                }
                guard width >= 1, height >= 1, width <= maxDimension, height <= maxDimension,
                      width * height <= maxPixels else {
                    throw fail("size \(width)×\(height) is empty or larger than the limit (\(maxDimension) per side, \(maxPixels) pixels)")
                }
                header = (width, height, channels)
            case "IDAT":
                idat.append(contentsOf: data)
            case "IEND":
                sawEnd = true
            case "PLTE":
                break  // allowed (a suggested palette) in true-colour images; not needed
            default:
                // Bit 5 of the first type byte clear (upper case) means critical.
                if typeBytes[0] & 0x20 == 0 {
                    throw fail("unknown critical chunk \(type)")
                }
            }
        }
        guard let (width, height, channels) = header else { throw fail("no IHDR chunk") }
        guard !idat.isEmpty else { throw fail("no image data (IDAT)") }
        let rowBytes = width * channels
        let expected = height * (rowBytes + 1)
        // deflate cannot expand data by more than ~1032:1; a larger claim is a corrupt file, and
        // refusing it before allocating keeps a tiny file from asking for gigabytes.
        guard expected <= idat.count * 1032 + 1024 else {
            throw fail("image data is too short for \(width)×\(height) pixels")
        }
        var raw = [UInt8](repeating: 0, count: expected)
        var rawCount = uLongf(expected)
        let status = raw.withUnsafeMutableBufferPointer { dst in
            idat.withUnsafeBufferPointer { src in
                uncompress(dst.baseAddress, &rawCount, src.baseAddress, uLong(src.count))
            }
        }
        guard status == Z_OK, Int(rawCount) == expected else {
            if status == Z_BUF_ERROR || status == Z_OK {
                throw fail("image data does not inflate to \(width)×\(height) pixels (truncated or too long)")
            }
            throw fail("corrupt compressed image data (zlib status \(status))")
        }
        let pixels = try unfilter(raw, width: width, height: height, channels: channels, name: name)
        return RasterImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Undoes the per-row filters (None, Sub, Up, Average, Paeth) of 8-bit data.
    /// raw: height × (1 + width·channels) bytes; returns height × width·channels bytes.
    static func unfilter(_ raw: [UInt8], width: Int, height: Int, channels: Int, name: String) throws -> [UInt8] {
        let rowBytes = width * channels
        let bpp = channels
        var out = [UInt8](repeating: 0, count: height * rowBytes)
        try raw.withUnsafeBufferPointer { src in
            try out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let filter = src[y * (rowBytes + 1)]
                    let line = src.baseAddress! + y * (rowBytes + 1) + 1
                    let row = dst.baseAddress! + y * rowBytes
                    let above: UnsafeMutablePointer<UInt8>? = y > 0 ? row - rowBytes : nil
                    switch filter {
                    case 0:
                        row.update(from: line, count: rowBytes)
                    case 1:
                        for i in 0..<rowBytes {
                            row[i] = line[i] &+ (i >= bpp ? row[i - bpp] : 0)
                        }
                    case 2:
                        for i in 0..<rowBytes { row[i] = line[i] &+ (above?[i] ?? 0) }
                    case 3:
                        for i in 0..<rowBytes {
                            let a = i >= bpp ? Int(row[i - bpp]) : 0
                            let b = Int(above?[i] ?? 0)
                            row[i] = line[i] &+ UInt8((a + b) / 2)
                        }
                    case 4:
                        for i in 0..<rowBytes {
                            let a = i >= bpp ? Int(row[i - bpp]) : 0
                            let b = Int(above?[i] ?? 0)
                            let c = i >= bpp ? Int(above?[i - bpp] ?? 0) : 0
                            row[i] = line[i] &+ UInt8(paeth(a, b, c))
                        }
                    default:
                        throw AECVError.format("\(name): invalid filter type \(filter) on row \(y)")
                    }
                }
            }
        }
        return out
    }

    @inline(__always) static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }
}
