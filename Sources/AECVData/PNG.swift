import AECV
import CZlib

/// PNG files: a small writer on zlib; reading goes through libpng (`ImageFile`).
///
/// Writing: 8-bit grey, RGB or RGBA, filter type 0 on every row, one IDAT chunk (zlib's
/// `compress2`), CRC-32 from zlib's `crc32`.
///
/// Layout: 8-byte signature, then chunks of u32 length (big-endian), 4-byte type, data, and a
/// CRC-32 of type + data; IHDR first (width, height u32; bit depth, colour type, compression,
/// filter, interlace u8), IEND last.
public enum PNG {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

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

    /// Reads the PNG file at `path` with libpng (see `ImageFile`).
    public static func read(path: String) throws -> RasterImage {
        try decode(FileIO.readAll(path: path, maxBytes: ImageFile.maxFileBytes), name: path)
    }

    /// Decodes a PNG file with libpng (any colour type, bit depth, palette, interlacing; see
    /// `ImageFile.decodePNG`); `name` prefixes error messages.
    public static func decode(_ bytes: [UInt8], name: String = "PNG") throws -> RasterImage {
        try ImageFile.decodePNG(bytes, name: name)
    }
}
