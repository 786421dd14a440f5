/// Serialization of `JSONValue` to JSON text.
///
/// Numbers: `.int` prints as an integer; `.double` prints Swift's shortest round-trip form, which
/// always contains a '.' or an exponent (`1.0`, `0.001`, `1e-05`, `1e+20`), so a double parses
/// back as `.double` with the identical value. Non-finite doubles (which JSON cannot express)
/// print as `null`. Strings escape `"`, `\` and control characters; other characters are written
/// as UTF-8.
extension JSONValue {
    /// JSON text: compact (`{"a":[1,2]}`), or `pretty` with two-space indentation, one member per
    /// line and arrays of scalars kept on one line (`"input": [1, 28, 28]`).
    public func serialized(pretty: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONWriter(style: pretty ? .pretty : .compact).write(self, into: &out, indent: 0)
        return String(decoding: out, as: UTF8.self)
    }

    /// A one-line form with spaces after ',' and ':' (`[1, 28]`), at most `limit` characters,
    /// for error messages.
    package func describedForMessage(limit: Int = 80) -> String {
        var out: [UInt8] = []
        JSONWriter(style: .spaced).write(self, into: &out, indent: 0)
        let text = String(decoding: out, as: UTF8.self)
        guard text.count > limit else { return text }
        return String(text.prefix(limit)) + "..."
    }
}

package struct JSONWriter {
    package enum Style { case compact, spaced, pretty }
    package let style: Style

    package func write(_ value: JSONValue, into out: inout [UInt8], indent: Int) {
        switch value {
        case .null: append("null", to: &out)
        case .bool(let v): append(v ? "true" : "false", to: &out)
        case .int(let v): append(String(v), to: &out)
        case .double(let v): append(Self.format(v), to: &out)
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let elements):
            if elements.isEmpty { append("[]", to: &out); return }
            let multiline = style == .pretty && elements.contains { $0.isContainer }
            out.append(0x5B)
            for (k, element) in elements.enumerated() {
                if k > 0 { out.append(0x2C); if style != .compact && !multiline { out.append(0x20) } }
                if multiline { newline(indent + 1, &out) }
                write(element, into: &out, indent: indent + 1)
            }
            if multiline { newline(indent, &out) }
            out.append(0x5D)
        case .object(let members):
            if members.isEmpty { append("{}", to: &out); return }
            let multiline = style == .pretty
            out.append(0x7B)
            for (k, member) in members.enumerated() {
                if k > 0 { out.append(0x2C); if style == .spaced { out.append(0x20) } }
                if multiline { newline(indent + 1, &out) }
                Self.writeString(member.key, into: &out)
                out.append(0x3A)
                if style != .compact { out.append(0x20) }
                write(member.value, into: &out, indent: indent + 1)
            }
            if multiline { newline(indent, &out) }
            out.append(0x7D)
        }
    }

    private func newline(_ indent: Int, _ out: inout [UInt8]) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: 2 * indent))
    }

    private func append(_ s: String, to out: inout [UInt8]) {
        out.append(contentsOf: s.utf8)
    }

    /// Shortest round-trip text of a finite double; `null` otherwise.
    package static func format(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        // Swift prints e.g. "1e-05", "1e+20", "0.001", "1.0", "-0.0": all valid JSON numbers.
        return v.description
    }

    package static func writeString(_ s: String, into out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(0x22)
        for c in s.utf8 {
            switch c {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0x08: out.append(0x5C); out.append(0x62)
            case 0x0C: out.append(0x5C); out.append(0x66)
            case 0..<0x20, 0x7F:
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30])  // \u00
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0xF)])
            default: out.append(c)
            }
        }
        out.append(0x22)
    }
}

extension JSONValue {
    package var isContainer: Bool {
        switch self {
        case .array, .object: return true
        default: return false
        }
    }
}
