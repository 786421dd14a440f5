import AECV

/// NumPy's .npy format, for the element types the tools exchange: uint8 and float32.
///
/// Layout: magic "\x93NUMPY", major and minor version bytes, header length (u16 little-endian in
/// version 1, u32 in versions 2 and 3), then an ASCII Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (256, 64), }` padded with spaces and a
/// newline so the data starts at a multiple of 64 bytes; then the C-order data.
public struct NPYArray: Equatable {
    public enum Elements: Equatable {
        case uint8([UInt8])
        case float32([Float])
    }

    public var shape: [Int]
    public var elements: Elements

    public init(shape: [Int], elements: Elements) {
        self.shape = shape; self.elements = elements
    }

    public init(shape: [Int], float32 values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "NPYArray: shape does not match the values")
        self.init(shape: shape, elements: .float32(values))
    }

    public var count: Int { shape.reduce(1, *) }

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// Largest .npy file read.
    public static let maxFileBytes = 4 << 30

    // MARK: - Writing

    /// The .npy file (version 1.0) of this array.
    public func encode() -> [UInt8] {
        let descr: String
        switch elements {
        case .uint8: descr = "|u1"
        case .float32: descr = "<f4"
        }
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        // magic (6) + version (2) + length (2) + header, padded to a multiple of 64, ending in \n.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = NPYArray.magic + [1, 0]
        let length = header.utf8.count
        out += [UInt8(length & 0xFF), UInt8(length >> 8)]
        out += Array(header.utf8)
        switch elements {
        case .uint8(let values):
            out += values
        case .float32(let values):
            out.reserveCapacity(out.count + 4 * values.count)
            for v in values {
                let b = v.bitPattern.littleEndian
                out += [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)]
            }
        }
        return out
    }

    /// Writes the array to `path` atomically.
    public func write(to path: String) throws {
        try FileIO.writeAtomically(path: path, bytes: encode())
    }

    // MARK: - Reading

    public static func read(path: String) throws -> NPYArray {
        try decode(FileIO.readAll(path: path, maxBytes: maxFileBytes), name: path)
    }

    /// Parses a .npy file of uint8 ('|u1', '<u1') or little-endian float32 ('<f4') in C order.
    public static func decode(_ bytes: [UInt8], name: String = ".npy") throws -> NPYArray {
        func fail(_ why: String) -> AECVError { .format("\(name): \(why)") }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw fail("not a .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail(".npy format version \(major).\(bytes[7]) is not supported")
        }
        guard headerLength <= bytes.count - headerStart, headerLength <= 1 << 20 else {
            throw fail("truncated header")
        }
        let headerText = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        var parser = PythonLiteralParser(text: headerText)
        guard case .dict(let dict)? = try? parser.parseValue() else {
            throw fail("the header is not a Python dict literal: \(headerText.prefix(80))")
        }
        guard case .string(let descr)? = dict["descr"] else { throw fail("the header has no 'descr'") }
        guard case .shape(let shape)? = dict["shape"] else { throw fail("the header has no 'shape' tuple") }
        if case .bool(true)? = dict["fortran_order"] {
            throw fail("Fortran-order arrays are not supported; save with np.ascontiguousarray(x)")
        }
        var count = 1
        for d in shape {
            let (c, o) = count.multipliedReportingOverflow(by: d)
            guard !o, d >= 0 else { throw fail("shape \(shape) is too large") }
            count = c
        }
        let data = headerStart + headerLength
        let available = bytes.count - data
        switch descr {
        case "|u1", "<u1", "u1", "=u1":
            guard available >= count else {
                throw fail("truncated: shape \(shape) needs \(count) bytes of uint8, the file has \(available)")
            }
            return NPYArray(shape: shape, elements: .uint8(Array(bytes[data..<(data + count)])))
        case "<f4", "f4":
            guard count <= available / 4 else {
                throw fail("truncated: shape \(shape) needs \(count * 4) bytes of float32, the file has \(available)")
            }
            var values = [Float](repeating: 0, count: count)
            bytes.withUnsafeBufferPointer { b in
                for i in 0..<count {
                    let o = data + 4 * i
                    let bits = UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
                    values[i] = Float(bitPattern: bits)
                }
            }
            return NPYArray(shape: shape, elements: .float32(values))
        default:
            throw fail("element type '\(descr)' is not supported (uint8 or little-endian float32; convert with x.astype('float32'))")
        }
    }
}

/// The subset of Python literals that .npy headers use: a dict of string keys to strings,
/// True/False, and tuples of integers.
struct PythonLiteralParser {
    enum Value {
        case string(String)
        case bool(Bool)
        case shape([Int])
        case dict([String: Value])
    }

    struct Invalid: Error {}

    let bytes: [UInt8]
    var i = 0

    init(text: String) { bytes = Array(text.utf8) }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x09 { i += 1 }
    }

    mutating func expect(_ c: Character) throws {
        skipSpace()
        guard i < bytes.count, bytes[i] == c.asciiValue! else { throw Invalid() }
        i += 1
    }

    mutating func peek(_ c: Character) -> Bool {
        skipSpace()
        return i < bytes.count && bytes[i] == c.asciiValue!
    }

    mutating func parseValue() throws -> Value {
        skipSpace()
        guard i < bytes.count else { throw Invalid() }
        switch bytes[i] {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "{"):
            i += 1
            var dict: [String: Value] = [:]
            while !peek("}") {
                skipSpace()
                let key = try parseString()
                try expect(":")
                dict[key] = try parseValue()
                if !peek(",") { break }
                i += 1
            }
            try expect("}")
            return .dict(dict)
        case UInt8(ascii: "("):
            i += 1
            var dims: [Int] = []
            while !peek(")") {
                skipSpace()
                var value = 0
                let start = i
                while i < bytes.count, (48...57).contains(bytes[i]) {
                    let (v, o1) = value.multipliedReportingOverflow(by: 10)
                    let (w, o2) = v.addingReportingOverflow(Int(bytes[i] - 48))
                    if o1 || o2 { throw Invalid() }
                    value = w
                    i += 1
                }
                // numpy writes `3L` on Python 2.
                if i < bytes.count, bytes[i] == UInt8(ascii: "L") { i += 1 }
                if i == start { throw Invalid() }
                dims.append(value)
                if !peek(",") { break }
                i += 1
            }
            try expect(")")
            return .shape(dims)
        default:
            if matchWord("True") { return .bool(true) }
            if matchWord("False") { return .bool(false) }
            throw Invalid()
        }
    }

    mutating func matchWord(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard bytes.count - i >= w.count, Array(bytes[i..<(i + w.count)]) == w else { return false }
        i += w.count
        return true
    }

    mutating func parseString() throws -> String {
        guard i < bytes.count, bytes[i] == UInt8(ascii: "'") || bytes[i] == UInt8(ascii: "\"") else {
            throw Invalid()
        }
        let quote = bytes[i]
        i += 1
        let start = i
        while i < bytes.count, bytes[i] != quote { i += 1 }
        guard i < bytes.count else { throw Invalid() }
        let s = String(decoding: bytes[start..<i], as: UTF8.self)
        i += 1
        return s
    }
}
