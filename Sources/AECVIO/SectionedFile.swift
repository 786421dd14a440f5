import AECVKernels
import AECVNN

/// The container shared by libaecv's binary files (model files, classifier files): a magic, a
/// format version, tagged sections and a CRC-32. All integers little-endian.
///
///     offset  size  field
///     0       8     magic (e.g. "AECVMODL")
///     8       2     format major   — a reader refuses a larger major
///     10      2     format minor   — a reader accepts any minor of its major
///     12      4     section count S (≤ 64)
///     16      …     S sections: tag (4 ASCII bytes), flags u32 (bit 0: required), length u64, payload
///     end−4   4     CRC-32 (IEEE, as zlib) of every byte before it
///
/// Readers skip sections they do not know unless they are marked required, which is an error.
struct SectionedFile {
    struct Section {
        var tag: String
        var required: Bool
        var payload: [UInt8]
    }

    var sections: [Section] = []

    func section(_ tag: String) -> Section? { sections.first { $0.tag == tag } }

    func encode(magic: [UInt8], major: UInt16, minor: UInt16) -> [UInt8] {
        var w = ByteWriter(capacity: 32 + sections.reduce(0) { $0 + 16 + $1.payload.count })
        w.writeBytes(magic)
        w.writeUInt16(major)
        w.writeUInt16(minor)
        w.writeUInt32(UInt32(sections.count))
        for s in sections {
            w.writeString(s.tag)
            w.writeUInt32(s.required ? 1 : 0)
            w.writeUInt64(UInt64(s.payload.count))
            w.writeBytes(s.payload)
        }
        let crc = w.bytes.withUnsafeBytes { CRC32.checksum($0) }
        w.writeUInt32(crc)
        return w.bytes
    }

    /// Parses and checks the container; `known` are the tags this reader understands (others are
    /// skipped when optional). `what` names the file kind in messages ("libaecv model file").
    static func decode(_ bytes: [UInt8], magic: [UInt8], major: UInt16, known: Set<String>,
                       name: String, what: String) throws -> SectionedFile {
        if bytes.count < 20 {
            throw AECVError.format("\(name): \(bytes.count) bytes is too short to be a \(what)")
        }
        if Array(bytes[0..<8]) != magic {
            throw AECVError.format("\(name): not a \(what) (bad magic)")
        }
        var r = ByteReader(bytes, name: name)
        try r.skip(8)
        let fileMajor = try r.readUInt16()
        let fileMinor = try r.readUInt16()
        if fileMajor > major {
            throw AECVError.format("\(name): format version \(fileMajor).\(fileMinor) needs a newer libaecv (this one reads format \(major).x)")
        }
        if fileMajor < 1 {
            throw AECVError.format("\(name): format version \(fileMajor).\(fileMinor) is not valid")
        }
        let end = bytes.count - 4
        let stored = UInt32(bytes[end]) | UInt32(bytes[end + 1]) << 8
            | UInt32(bytes[end + 2]) << 16 | UInt32(bytes[end + 3]) << 24
        let computed = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
        if stored != computed {
            throw AECVError.format("\(name): checksum mismatch (file is corrupted or truncated)")
        }
        let sectionCount = try r.readUInt32()
        if sectionCount > 64 { throw AECVError.format("\(name): \(sectionCount) sections is more than the 64 allowed") }
        var file = SectionedFile()
        for _ in 0..<sectionCount {
            let tag = String(decoding: try r.readBytes(count: 4), as: UTF8.self)
            let flags = try r.readUInt32()
            let length = try r.readUInt64()
            // The section header itself may already reach into the CRC (r.offset > end):
            // check that first, since UInt64(end - r.offset) of a negative value would trap.
            guard r.offset <= end, length <= UInt64(end - r.offset) else {
                throw AECVError.format("\(name): section \(tag) length \(length) runs past the end of the file")
            }
            let payload = try r.readBytes(count: Int(length))
            if known.contains(tag) {
                if file.section(tag) != nil { throw AECVError.format("\(name): section \(tag) appears twice") }
                file.sections.append(Section(tag: tag, required: flags & 1 != 0, payload: payload))
            } else if flags & 1 != 0 {
                throw AECVError.format("\(name): required section \"\(tag)\" is unknown to this libaecv")
            }
        }
        if r.offset != end {
            throw AECVError.format("\(name): \(end - r.offset) unexpected bytes after the last section")
        }
        return file
    }
}

/// Named float32 tensors inside a section: u32 count; per tensor u16 name length, UTF-8 name,
/// u8 rank, rank × u64 dims, then the values.
enum TensorListCoding {
    static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], to w: inout ByteWriter) {
        w.writeUInt32(UInt32(tensors.count))
        for t in tensors {
            writeName(t.name, to: &w)
            w.writeUInt8(UInt8(t.shape.count))
            for d in t.shape { w.writeUInt64(UInt64(d)) }
            w.writeFloats(t.values)
        }
    }

    static func read(_ s: inout ByteReader, name: String) throws -> [(name: String, shape: [Int], values: [Float])] {
        let count = try s.readUInt32()
        if count > 100_000 { throw AECVError.format("\(name): \(count) tensors is implausible") }
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for _ in 0..<count {
            let tensorName = try readName(&s)
            let rank = Int(try s.readUInt8())
            if rank > 8 { throw AECVError.format("\(name): tensor \(tensorName) has rank \(rank)") }
            var shape: [Int] = []
            var total = 1
            for _ in 0..<rank {
                let d = try s.readUInt64()
                guard d <= UInt64(Int32.max) else {
                    throw AECVError.format("\(name): tensor \(tensorName) has dimension \(d)")
                }
                shape.append(Int(d))
                let (t, o) = total.multipliedReportingOverflow(by: Int(d))
                if o || t > s.remaining / 4 {
                    throw AECVError.format("\(name): tensor \(tensorName) of shape \(shape)… is larger than the file")
                }
                total = t
            }
            tensors.append((tensorName, shape, try s.readFloats(count: total)))
        }
        return tensors
    }

    static func writeName(_ name: String, to w: inout ByteWriter) {
        let bytes = Array(name.utf8.prefix(Int(UInt16.max)))
        w.writeUInt16(UInt16(bytes.count))
        w.writeBytes(bytes)
    }

    static func readName(_ r: inout ByteReader) throws -> String {
        let n = try r.readUInt16()
        return try r.readString(byteCount: Int(n))
    }
}
