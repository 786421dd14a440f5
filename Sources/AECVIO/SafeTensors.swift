import AECVKernels
import AECVNN
import AECVModels

/// The safetensors format (huggingface/safetensors), for exchanging weights with PyTorch:
///
///     u64 little-endian N | N bytes of JSON header | data buffer
///
/// The header maps each tensor name to `{"dtype": "F32", "shape": [..], "data_offsets": [b, e]}`
/// (byte offsets into the data buffer) and may hold `"__metadata__": {string: string}`.
/// Reading accepts F32, F64, F16, BF16 and I64 (converted to Float; F16/BF16 exactly) and rejects
/// anything malformed with `AECVError.format`, like the reference implementation: the tensors'
/// byte ranges must tile the data buffer exactly. Writing produces F32 in the given order, the
/// header padded with spaces to 8-byte alignment, with `"__metadata__": {"format": "pt"}` so that
/// `safetensors.torch.load_file` accepts it.
public struct SafeTensors: Equatable {
    public struct Tensor: Equatable {
        public var name: String
        public var shape: [Int]
        /// Row-major, `shape.reduce(1, *)` values.
        public var values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name; self.shape = shape; self.values = values
        }
    }

    public var tensors: [Tensor]
    /// The header's `__metadata__`; `encode()` adds `"format": "pt"` when absent.
    public var metadata: [String: String]

    /// Largest header accepted, as in the reference implementation.
    public static let maxHeaderBytes = 100_000_000

    public init(tensors: [Tensor], metadata: [String: String] = ["format": "pt"]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public func tensor(named name: String) -> Tensor? {
        tensors.first { $0.name == name }
    }

    // MARK: reading

    /// Reads and decodes a file (at most `maxBytes`).
    /// - Throws: `AECVError.io` when the file cannot be read, `AECVError.format` when it is not a
    ///   valid safetensors file.
    public static func read(path: String, maxBytes: Int = 1 << 34) throws -> SafeTensors {
        try decode(bytes: FileIO.readAll(path: path, maxBytes: maxBytes))
    }

    /// - Throws: `AECVError.format` naming the problem.
    public static func decode(bytes: [UInt8]) throws -> SafeTensors {
        var reader = ByteReader(bytes, name: "safetensors")
        guard bytes.count >= 8 else {
            throw format("file is \(bytes.count) bytes, too short for the 8-byte header length")
        }
        let headerLength = try reader.readUInt64()
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw format("header length \(headerLength) exceeds the limit of \(maxHeaderBytes) bytes")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw format("header length \(headerLength) exceeds the file size of \(bytes.count) bytes")
        }
        let n = Int(headerLength)
        let dataStart = 8 + n
        let dataLength = bytes.count - dataStart

        let header: JSONValue
        do {
            header = try bytes.withUnsafeBufferPointer {
                try JSONValue.parse(bytes: UnsafeBufferPointer(rebasing: $0[8..<dataStart]), maxDepth: 8)
            }
        } catch let error as JSONError {
            throw format("invalid JSON header: \(error.message) at header byte \(error.offset)")
        }
        guard case .object(let members) = header else {
            throw format("header is not a JSON object")
        }

        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for member in members {
            if member.key == "__metadata__" {
                guard case .object(let items) = member.value else {
                    throw format("__metadata__ must be an object of strings")
                }
                for item in items {
                    guard case .string(let s) = item.value else {
                        throw format("__metadata__ value of \"\(item.key)\" is not a string")
                    }
                    metadata[item.key] = s
                }
                continue
            }
            entries.append(try entry(member, dataLength: dataLength))
        }

        // The byte ranges must tile the data buffer: no overlap, no gap, nothing left over.
        let order = entries.indices.sorted {
            (entries[$0].begin, entries[$0].end) < (entries[$1].begin, entries[$1].end)
        }
        var position = 0
        var previous: Int? = nil
        for k in order {
            let e = entries[k]
            if e.begin != position {
                if let p = previous, e.begin < position {
                    throw format("tensor \"\(e.name)\" data_offsets [\(e.begin), \(e.end)] overlap tensor \"\(entries[p].name)\" [\(entries[p].begin), \(entries[p].end)]")
                }
                throw format("tensor \"\(e.name)\" data_offsets [\(e.begin), \(e.end)] leave a gap of \(e.begin - position) bytes after offset \(position)")
            }
            position = e.end
            previous = k
        }
        if position != dataLength {
            throw format("the data buffer has \(dataLength - position) bytes not covered by any tensor")
        }

        var tensors: [Tensor] = []
        tensors.reserveCapacity(entries.count)
        for e in entries {
            let values = try decodeValues(bytes, from: dataStart + e.begin, count: e.count, dtype: e.dtype)
            tensors.append(Tensor(name: e.name, shape: e.shape, values: values))
        }
        return SafeTensors(tensors: tensors, metadata: metadata)
    }

    enum DType: String {
        /// I64 is accepted for PyTorch's int64 `num_batches_tracked` (a step count).
        case f32 = "F32", f64 = "F64", f16 = "F16", bf16 = "BF16", i64 = "I64"
        var size: Int {
            switch self {
            case .f32: return 4
            case .f64, .i64: return 8
            case .f16, .bf16: return 2
            }
        }
    }

    static let otherDTypes: Set<String> = ["BOOL", "U8", "I8", "I16", "U16", "I32", "U32",
                                           "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3",
                                           "F6_E3M2", "C64"]

    /// One header entry, checked against the data buffer's length.
    private struct Entry {
        var name: String, dtype: DType, shape: [Int], count: Int, begin: Int, end: Int
    }

    private static func entry(_ member: JSONMember, dataLength: Int) throws -> Entry {
        let name = member.key
        guard case .object(let fields) = member.value else {
            throw format("tensor \"\(name)\": expected an object with dtype, shape and data_offsets")
        }
        for f in fields where !["dtype", "shape", "data_offsets"].contains(f.key) {
            throw format("tensor \"\(name)\": unknown key \"\(f.key)\"")
        }
        guard case .string(let dtypeName)? = member.value["dtype"] else {
            throw format("tensor \"\(name)\": missing or non-string dtype")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            if otherDTypes.contains(dtypeName) {
                throw format("tensor \"\(name)\": unsupported dtype \(dtypeName) (F32, F64, F16, BF16 and I64 are supported)")
            }
            throw format("tensor \"\(name)\": unknown dtype \"\(dtypeName)\"")
        }
        guard case .array(let dims)? = member.value["shape"] else {
            throw format("tensor \"\(name)\": missing or non-array shape")
        }
        var shape: [Int] = []
        var count = 1
        var overflow = false
        for d in dims {
            guard case .int(let v) = d, v >= 0, let dim = Int(exactly: v) else {
                throw format("tensor \"\(name)\": shape \(member.value["shape"]?.describedForMessage() ?? "") must hold non-negative integers")
            }
            shape.append(dim)
            let (p, o) = count.multipliedReportingOverflow(by: dim)
            count = p
            overflow = overflow || o
        }
        let (byteCount, o2) = count.multipliedReportingOverflow(by: dtype.size)
        if overflow || o2 {
            throw format("tensor \"\(name)\": shape \(shape) has too many elements")
        }
        guard case .array(let offsets)? = member.value["data_offsets"], offsets.count == 2,
              case .int(let b64) = offsets[0], case .int(let e64) = offsets[1],
              b64 >= 0, e64 >= b64, let begin = Int(exactly: b64), let end = Int(exactly: e64)
        else {
            throw format("tensor \"\(name)\": data_offsets must be [begin, end] with 0 <= begin <= end, got \(member.value["data_offsets"]?.describedForMessage() ?? "nothing")")
        }
        guard end <= dataLength else {
            throw format("tensor \"\(name)\": data_offsets [\(begin), \(end)] are beyond the data buffer of \(dataLength) bytes")
        }
        guard end - begin == byteCount else {
            throw format("tensor \"\(name)\": data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but shape \(shape) of \(dtypeName) needs \(byteCount)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, count: count, begin: begin, end: end)
    }

    /// `count` values of `dtype` at `offset` (already bounds-checked), converted to Float.
    private static func decodeValues(_ bytes: [UInt8], from offset: Int, count: Int, dtype: DType) throws -> [Float] {
        if dtype == .f32 {
            var reader = ByteReader(bytes, name: "safetensors")
            try reader.seek(to: offset)
            return try reader.readFloats(count: count)
        }
        guard offset >= 0, count >= 0, count <= (bytes.count - offset) / dtype.size else {
            throw format("tensor data at offset \(offset) is truncated")
        }
        return bytes.withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: count) { out, initialized in
                for k in 0..<count {
                    let at = offset + k * dtype.size
                    switch dtype {
                    case .f64:
                        let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                        out[k] = Float(Double(bitPattern: bits))
                    case .f16:
                        let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self))
                        out[k] = floatFromHalf(bits)
                    case .bf16:
                        let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self))
                        out[k] = Float(bitPattern: UInt32(bits) << 16)
                    case .i64:
                        // Exact up to 2^24 (a step count); rounded beyond, as a float buffer holds it.
                        out[k] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self)))
                    case .f32:
                        break
                    }
                }
                initialized = count
            }
        }
    }

    /// IEEE binary16 to binary32, exact (subnormals, infinities and NaN payloads included).
    static func floatFromHalf(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F {  // inf / nan
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // zero or subnormal: mantissa * 2^-24, exact in Float
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
    }

    // MARK: writing

    /// The file's bytes (F32).
    /// - Throws: `AECVError.format` when names are empty, duplicated or `__metadata__`, or a
    ///   tensor's value count does not match its shape.
    public func encode() throws -> [UInt8] {
        var seen = Set<String>()
        var header: [JSONMember] = []
        var meta = metadata
        if meta["format"] == nil { meta["format"] = "pt" }
        header.append(JSONMember("__metadata__", .object(meta.keys.sorted().map {
            JSONMember($0, .string(meta[$0] ?? ""))
        })))
        var offset = 0
        for t in tensors {
            guard t.name != "__metadata__" else { throw Self.format("the tensor name \"__metadata__\" is reserved") }
            guard seen.insert(t.name).inserted else { throw Self.format("duplicate tensor name \"\(t.name)\"") }
            var count = 1
            for d in t.shape {
                guard d >= 0 else { throw Self.format("tensor \"\(t.name)\": negative dimension in shape \(t.shape)") }
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw Self.format("tensor \"\(t.name)\": shape \(t.shape) has too many elements") }
                count = p
            }
            guard count == t.values.count else {
                throw Self.format("tensor \"\(t.name)\": shape \(t.shape) needs \(count) values, got \(t.values.count)")
            }
            let end = offset + 4 * count
            header.append(JSONMember(t.name, .object([
                JSONMember("dtype", "F32"),
                JSONMember("shape", .array(t.shape.map { .int(Int64($0)) })),
                JSONMember("data_offsets", .array([.int(Int64(offset)), .int(Int64(end))])),
            ])))
            offset = end
        }
        var headerBytes = Array(JSONValue.object(header).serialized().utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }

        var writer = ByteWriter(capacity: 8 + headerBytes.count + offset)
        writer.writeUInt64(UInt64(headerBytes.count))
        writer.writeBytes(headerBytes)
        for t in tensors { writer.writeFloats(t.values) }
        return writer.bytes
    }

    /// Encodes and writes the file atomically (an existing file is left intact on failure).
    public func write(to path: String) throws {
        try FileIO.writeAtomically(path: path, bytes: encode())
    }

    private static func format(_ message: String) -> AECVError {
        .format("safetensors: \(message)")
    }
}
