import AECVKernels

/// The protobuf wire format (developers.google.com/protocol-buffers/docs/encoding), the small
/// part of it ONNX files use: varints (wire type 0), 64-bit (1), length-delimited (2) and
/// 32-bit (5) fields. No schema, no reflection: the ONNX messages are written and read by hand
/// in ONNXProto.swift.
///
///     key = (field_number << 3) | wire_type        (a varint)
///     varint: 7 bits per byte, least significant group first, high bit = "more bytes follow"
///     length-delimited: varint byte count, then the bytes (strings, bytes, nested messages,
///                       packed repeated scalars)
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    enum WireType: UInt8 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ wire: WireType) { varint(UInt64(field) << 3 | UInt64(wire.rawValue)) }

    /// An int32/int64/enum field: negative values are 10-byte two's complement varints.
    mutating func int(_ field: Int, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        appendFixed32(value.bitPattern)
    }

    mutating func bytesField(_ field: Int, _ value: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ field: Int, _ value: String) { bytesField(field, Array(value.utf8)) }

    /// A nested message, written by `body` into its own writer (its length must precede it).
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        body(&nested)
        bytesField(field, nested.bytes)
    }

    /// Packed repeated int64 (the proto3 default for repeated scalars).
    mutating func packedInts(_ field: Int, _ values: [Int64]) {
        var nested = ProtobufWriter()
        for v in values { nested.varint(UInt64(bitPattern: v)) }
        bytesField(field, nested.bytes)
    }

    /// Float32 values as little-endian bytes (TensorProto.raw_data).
    mutating func rawFloats(_ field: Int, _ values: [Float]) {
        key(field, .lengthDelimited)
        varint(UInt64(values.count * 4))
        bytes.reserveCapacity(bytes.count + values.count * 4)
        for v in values { appendFixed32(v.bitPattern) }
    }

    private mutating func appendFixed32(_ v: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 24))
    }
}

/// Reads protobuf fields from a byte range, every read bounds-checked: truncated or malformed
/// input throws `AECVError.format` naming the offset, never traps, never reads outside the range.
/// Nested messages are readers over sub-ranges of the same buffer (no copies); the nesting depth
/// is bounded by the hand-written message readers, not by the data.
struct ProtobufReader {
    /// One field: its number and its payload.
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        /// A range of the buffer (string, bytes, nested message or packed scalars).
        case bytes(Range<Int>)
    }

    let buffer: [UInt8]
    private(set) var position: Int
    let end: Int
    let context: String

    init(_ buffer: [UInt8], context: String) {
        self.buffer = buffer
        position = 0
        end = buffer.count
        self.context = context
    }

    init(_ buffer: [UInt8], range: Range<Int>, context: String) {
        self.buffer = buffer
        position = range.lowerBound
        end = range.upperBound
        self.context = context
    }

    var isAtEnd: Bool { position >= end }

    private func fail(_ what: String) -> AECVError {
        .format("\(context): malformed protobuf at offset \(position): \(what)")
    }

    mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw fail("truncated varint") }
            let byte = buffer[position]
            position += 1
            if shift == 63 && byte > 1 { throw fail("varint longer than 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    private mutating func readFixed(_ count: Int) throws -> UInt64 {
        guard end - position >= count else { throw fail("truncated \(count * 8)-bit field") }
        var v: UInt64 = 0
        for k in 0..<count { v |= UInt64(buffer[position + k]) << (8 * UInt64(k)) }
        position += count
        return v
    }

    /// The next field, or nil at the end of the range.
    mutating func next() throws -> (field: Int, value: Value)? {
        guard position < end else { return nil }
        let key = try readVarint()
        let field = key >> 3
        guard field >= 1, field <= 536_870_911 else { throw fail("invalid field number \(field)") }
        switch key & 7 {
        case 0: return (Int(field), .varint(try readVarint()))
        case 1: return (Int(field), .fixed64(try readFixed(8)))
        case 5: return (Int(field), .fixed32(UInt32(try readFixed(4))))
        case 2:
            let length = try readVarint()
            guard length <= UInt64(end - position) else {
                throw fail("length \(length) runs past the end (\(end - position) bytes left)")
            }
            let start = position
            position += Int(length)
            return (Int(field), .bytes(start..<position))
        case let wire:
            throw fail("unsupported wire type \(wire) for field \(field)")
        }
    }

    /// A reader over a nested message's range.
    func nested(_ range: Range<Int>, _ what: String) -> ProtobufReader {
        ProtobufReader(buffer, range: range, context: "\(context) \(what)")
    }

    func string(_ range: Range<Int>) -> String { String(decoding: buffer[range], as: UTF8.self) }

    /// A varint field as Int64 (int32/int64 are sign-extended two's complement).
    func int(_ value: Value, _ what: String) throws -> Int64 {
        guard case .varint(let v) = value else { throw fail("\(what): expected a varint") }
        return Int64(bitPattern: v)
    }

    func range(_ value: Value, _ what: String) throws -> Range<Int> {
        guard case .bytes(let r) = value else { throw fail("\(what): expected a length-delimited field") }
        return r
    }

    /// Repeated int64, packed (one length-delimited field) or not (one varint per field).
    func appendInts(_ value: Value, to out: inout [Int64], limit: Int, _ what: String) throws {
        switch value {
        case .varint(let v):
            out.append(Int64(bitPattern: v))
        case .bytes(let r):
            var inner = ProtobufReader(buffer, range: r, context: context)
            while !inner.isAtEnd { out.append(Int64(bitPattern: try inner.readVarint())) }
        default:
            throw fail("\(what): expected int64 values")
        }
        if out.count > limit { throw fail("\(what): more than \(limit) values") }
    }

    /// Repeated float, packed (little-endian 4-byte values) or not (one fixed32 per field).
    func appendFloats(_ value: Value, to out: inout [Float], limit: Int, _ what: String) throws {
        switch value {
        case .fixed32(let v):
            out.append(Float(bitPattern: v))
        case .bytes(let r):
            guard r.count % 4 == 0 else { throw fail("\(what): \(r.count) bytes is not a whole number of floats") }
            if out.count + r.count / 4 > limit { throw fail("\(what): more than \(limit) values") }
            out.append(contentsOf: littleEndianFloats(r))
        default:
            throw fail("\(what): expected float values")
        }
        if out.count > limit { throw fail("\(what): more than \(limit) values") }
    }

    /// The floats of a little-endian byte range whose length is a multiple of 4.
    func littleEndianFloats(_ r: Range<Int>) -> [Float] {
        var result = [Float](repeating: 0, count: r.count / 4)
        var k = r.lowerBound
        for i in 0..<result.count {
            let bits = UInt32(buffer[k]) | UInt32(buffer[k + 1]) << 8 | UInt32(buffer[k + 2]) << 16 | UInt32(buffer[k + 3]) << 24
            result[i] = Float(bitPattern: bits)
            k += 4
        }
        return result
    }

    /// The doubles of a little-endian byte range whose length is a multiple of 8, as Float.
    func littleEndianDoubles(_ r: Range<Int>) -> [Float] {
        var result = [Float](repeating: 0, count: r.count / 8)
        var k = r.lowerBound
        for i in 0..<result.count {
            var bits: UInt64 = 0
            for b in 0..<8 { bits |= UInt64(buffer[k + b]) << (8 * UInt64(b)) }
            result[i] = Float(Double(bitPattern: bits))
            k += 8
        }
        return result
    }
}
