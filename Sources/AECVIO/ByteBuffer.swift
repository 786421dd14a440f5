import AECVKernels
import AECVNN

/// Little-endian binary encoding for file formats: `ByteWriter` appends to a `[UInt8]`,
/// `ByteReader` reads one back with every read bounds-checked (a short buffer throws
/// `AECVError.format("<name>: truncated at offset X ...")`, never traps). Float arrays are copied
/// in bulk (memcpy on little-endian hosts).
public struct ByteWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(max(0, capacity))
    }

    /// Number of bytes written so far (the offset of the next write).
    public var count: Int { bytes.count }

    public mutating func reserveCapacity(_ n: Int) { bytes.reserveCapacity(n) }

    public mutating func writeUInt8(_ v: UInt8) { bytes.append(v) }
    public mutating func writeUInt16(_ v: UInt16) { appendRaw(v.littleEndian) }
    public mutating func writeUInt32(_ v: UInt32) { appendRaw(v.littleEndian) }
    public mutating func writeUInt64(_ v: UInt64) { appendRaw(v.littleEndian) }
    public mutating func writeInt32(_ v: Int32) { appendRaw(v.littleEndian) }
    public mutating func writeInt64(_ v: Int64) { appendRaw(v.littleEndian) }
    public mutating func writeFloat(_ v: Float) { appendRaw(v.bitPattern.littleEndian) }
    public mutating func writeDouble(_ v: Double) { appendRaw(v.bitPattern.littleEndian) }

    public mutating func writeBytes(_ v: [UInt8]) { bytes.append(contentsOf: v) }
    public mutating func writeBytes(_ v: UnsafeRawBufferPointer) { bytes.append(contentsOf: v) }

    /// The string's UTF-8 bytes, without a length or terminator.
    public mutating func writeString(_ s: String) { bytes.append(contentsOf: s.utf8) }

    /// A UInt32 byte count followed by the string's UTF-8 bytes.
    public mutating func writeLengthPrefixedString(_ s: String) {
        writeUInt32(UInt32(truncatingIfNeeded: s.utf8.count))
        writeString(s)
    }

    /// Float32 values, little-endian, in one bulk copy.
    public mutating func writeFloats(_ values: UnsafeBufferPointer<Float>) {
        let start = bytes.count
        let byteCount = values.count &* 4
        guard byteCount > 0, let src = values.baseAddress else { return }
        bytes.append(contentsOf: repeatElement(0, count: byteCount))
        bytes.withUnsafeMutableBytes { dst in
            guard let d = dst.baseAddress else { return }
            #if _endian(little)
            (d + start).copyMemory(from: src, byteCount: byteCount)
            #else
            for k in 0..<values.count {
                (d + start + 4 * k).storeBytes(of: src[k].bitPattern.littleEndian, as: UInt32.self)
            }
            #endif
        }
    }

    public mutating func writeFloats(_ values: [Float]) {
        values.withUnsafeBufferPointer { writeFloats($0) }
    }

    /// Overwrites 4 bytes at `offset` (e.g. a length or checksum known only later).
    /// `offset + 4` must be within `count` (otherwise nothing is written and false is returned).
    @discardableResult
    public mutating func patchUInt32(_ v: UInt32, at offset: Int) -> Bool { patchRaw(v.littleEndian, at: offset) }

    /// Overwrites 8 bytes at `offset`; false (and nothing written) when out of range.
    @discardableResult
    public mutating func patchUInt64(_ v: UInt64, at offset: Int) -> Bool { patchRaw(v.littleEndian, at: offset) }

    private mutating func appendRaw<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) }
    }

    private mutating func patchRaw<T: FixedWidthInteger>(_ v: T, at offset: Int) -> Bool {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= bytes.count - size else { return false }
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: v, toByteOffset: offset, as: T.self) }
        return true
    }
}

/// Bounds-checked little-endian reads over a byte array.
public struct ByteReader {
    public let bytes: [UInt8]
    /// Offset of the next read.
    public private(set) var offset: Int = 0
    /// Names the data in error messages ("model file", "safetensors").
    public var name: String

    public init(_ bytes: [UInt8], name: String = "data") {
        self.bytes = bytes
        self.name = name
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset >= bytes.count }

    /// Throws unless `n` more bytes are available.
    public func require(_ n: Int) throws {
        guard n >= 0, n <= bytes.count - offset else {
            throw AECVError.format(
                "\(name): truncated at offset \(offset) (need \(n) bytes, \(remaining) left)")
        }
    }

    public mutating func seek(to newOffset: Int) throws {
        guard newOffset >= 0, newOffset <= bytes.count else {
            throw AECVError.format("\(name): offset \(newOffset) is beyond the end (\(bytes.count) bytes)")
        }
        offset = newOffset
    }

    public mutating func skip(_ n: Int) throws {
        try require(n)
        offset += n
    }

    public mutating func readUInt8() throws -> UInt8 {
        try require(1)
        defer { offset += 1 }
        return bytes[offset]
    }
    public mutating func readUInt16() throws -> UInt16 { UInt16(littleEndian: try readRaw()) }
    public mutating func readUInt32() throws -> UInt32 { UInt32(littleEndian: try readRaw()) }
    public mutating func readUInt64() throws -> UInt64 { UInt64(littleEndian: try readRaw()) }
    public mutating func readInt32() throws -> Int32 { Int32(littleEndian: try readRaw()) }
    public mutating func readInt64() throws -> Int64 { Int64(littleEndian: try readRaw()) }
    public mutating func readFloat() throws -> Float {
        Float(bitPattern: UInt32(littleEndian: try readRaw()))
    }
    public mutating func readDouble() throws -> Double {
        Double(bitPattern: UInt64(littleEndian: try readRaw()))
    }

    public mutating func readBytes(count n: Int) throws -> [UInt8] {
        try require(n)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// `byteCount` bytes that must be valid UTF-8.
    public mutating func readString(byteCount n: Int) throws -> String {
        let start = offset
        let raw = try readBytes(count: n)
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw AECVError.format("\(name): invalid UTF-8 in the string at offset \(start)")
        }
        return s
    }

    /// A UInt32 byte count (at most `maxBytes`) followed by that many bytes of UTF-8.
    public mutating func readLengthPrefixedString(maxBytes: Int = 1 << 20) throws -> String {
        let at = offset
        let n = try readUInt32()
        guard Int(n) <= maxBytes else {
            throw AECVError.format("\(name): string length \(n) at offset \(at) exceeds the limit of \(maxBytes)")
        }
        return try readString(byteCount: Int(n))
    }

    /// `count` Float32 values in one bulk copy.
    public mutating func readFloats(count n: Int) throws -> [Float] {
        guard n >= 0, n <= remaining / 4 else {
            throw AECVError.format(
                "\(name): truncated at offset \(offset) (need \(n) floats, \(remaining) bytes left)")
        }
        return try [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            try readFloats(into: buffer)
            initialized = n
        }
    }

    /// Fills `destination` with `destination.count` Float32 values in one bulk copy.
    public mutating func readFloats(into destination: UnsafeMutableBufferPointer<Float>) throws {
        let n = destination.count
        guard n <= remaining / 4 else {
            throw AECVError.format(
                "\(name): truncated at offset \(offset) (need \(n) floats, \(remaining) bytes left)")
        }
        guard n > 0, let dst = destination.baseAddress else { return }
        bytes.withUnsafeBytes { src in
            guard let s = src.baseAddress else { return }
            #if _endian(little)
            UnsafeMutableRawPointer(dst).copyMemory(from: s + offset, byteCount: n * 4)
            #else
            for k in 0..<n {
                let bits = UInt32(littleEndian: (s + offset + 4 * k).loadUnaligned(as: UInt32.self))
                dst[k] = Float(bitPattern: bits)
            }
            #endif
        }
        offset += n * 4
    }

    private mutating func readRaw<T: FixedWidthInteger>() throws -> T {
        let size = MemoryLayout<T>.size
        try require(size)
        let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        offset += size
        return v
    }
}
