import AECV
import CImageCodecs

/// Reading JPEG and PNG files: libjpeg-turbo and libpng through the C shim CImageCodecs, whose
/// setjmp handlers turn the libraries' fatal errors into messages. Every failure is an
/// `AECVError.format` of one line that starts with the file's name; nothing here exits or traps
/// on bad input.
///
/// JPEG: baseline and progressive, grey (1 channel) or colour (3, RGB); CMYK is refused; the
/// EXIF orientation (APP1 tag 0x0112) is applied, as Pillow's `ImageOps.exif_transpose` does.
/// PNG: every colour type and bit depth, palette, tRNS (becomes an alpha channel), 16-bit (high
/// byte), Adam7 interlacing; 1 to 4 channels out.
public enum ImageFile {
    /// Largest width or height read.
    public static let maxSide = 1 << 15
    /// Largest number of pixels read (a 20,000×20,000 header is refused before allocating).
    public static let maxPixels = 1 << 26
    /// Largest file read.
    public static let maxFileBytes = 1 << 30

    public enum Format: Equatable { case jpeg, png }

    /// The format from the first bytes, or nil.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8 && Array(bytes[0..<8]) == PNG.signature { return .png }
        return nil
    }

    /// True for names ending in .jpg, .jpeg or .png (any case).
    public static func hasImageExtension(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") || lower.hasSuffix(".png")
    }

    /// Reads and decodes the image file at `path`.
    public static func read(path: String) throws -> RasterImage {
        let bytes = try FileIO.readAll(path: path, maxBytes: maxFileBytes)
        return try decode(bytes, name: path)
    }

    /// Decodes a JPEG or PNG file's bytes; `name` starts every error message.
    public static func decode(_ bytes: [UInt8], name: String) throws -> RasterImage {
        switch format(of: bytes) {
        case .jpeg: return try decodeJPEG(bytes, name: name)
        case .png: return try decodePNG(bytes, name: name)
        case nil:
            throw AECVError.format(bytes.isEmpty ? "\(name): the file is empty (0 bytes)"
                                   : "\(name): not a JPEG or PNG file (unknown signature)")
        }
    }

    public static func decodeJPEG(_ bytes: [UInt8], name: String) throws -> RasterImage {
        let image = try run(bytes, name: name, aecv_jpeg_decode)
        return image.oriented(ExifOrientation.of(jpeg: bytes))
    }

    public static func decodePNG(_ bytes: [UInt8], name: String) throws -> RasterImage {
        try run(bytes, name: name, aecv_png_decode)
    }

    private typealias Decoder = (UnsafePointer<UInt8>?, Int, Int, Int,
                                 UnsafeMutablePointer<aecv_decoded_image>?) -> Int32

    private static func run(_ bytes: [UInt8], name: String, _ decoder: Decoder) throws -> RasterImage {
        var out = aecv_decoded_image()
        let status = bytes.withUnsafeBufferPointer { b in
            decoder(b.baseAddress, b.count, maxSide, maxPixels, &out)
        }
        guard status == 0, let pixels = out.pixels else {
            let message = withUnsafeBytes(of: out.error) { raw -> String in
                let b = raw.bindMemory(to: UInt8.self)
                return String(decoding: b[0..<(b.firstIndex(of: 0) ?? b.count)], as: UTF8.self)
            }
            // libjpeg's messages may contain line breaks; the error stays one line.
            let line = message.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
            throw AECVError.format("\(name): \(line.isEmpty ? "cannot decode" : line)")
        }
        defer { aecv_codec_free(pixels) }
        let count = Int(out.width) * Int(out.height) * Int(out.channels)
        return RasterImage(width: Int(out.width), height: Int(out.height), channels: Int(out.channels),
                           pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }
}
