/// A strict RFC 8259 JSON parser.
///
/// Rejects everything the RFC does not allow (trailing commas, leading zeros, NaN/Infinity,
/// control characters and invalid UTF-8 in strings, lone surrogates in `\u` escapes, trailing
/// garbage) and, beyond the RFC, duplicate object keys and nesting deeper than `maxDepth`.
/// The parser is iterative (an explicit stack of open containers), so no input can overflow the
/// call stack, and it never traps: every index is checked and integer accumulation is checked.
extension JSONValue {
    /// Parses a complete JSON document.
    /// - Throws: `JSONError` with a message and the byte offset of the problem.
    public static func parse(_ text: String, maxDepth: Int = SpecLimits.maxJSONDepth) throws -> JSONValue {
        var text = text
        return try text.withUTF8 { try parse(bytes: $0, maxDepth: maxDepth) }
    }

    /// Parses a complete JSON document given as UTF-8 bytes (invalid UTF-8 is an error).
    /// - Throws: `JSONError` with a message and the byte offset of the problem.
    public static func parse(bytes: UnsafeBufferPointer<UInt8>,
                             maxDepth: Int = SpecLimits.maxJSONDepth) throws -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: max(0, maxDepth))
        return try parser.parseDocument()
    }
}

extension JSONValue {
    /// Releases values without recursion: each container's children are moved to the work list
    /// before the container itself is released.
    package static func dismantle(_ values: inout [JSONValue]) {
        while let last = values.popLast() {
            switch last {
            case .array(let elements): values.append(contentsOf: elements)
            case .object(let members): values.append(contentsOf: members.lazy.map(\.value))
            default: break
            }
        }
    }
}

/// One open array or object while parsing.
private struct JSONFrame {
    package var isObject: Bool
    package var elements: [JSONValue] = []
    package var members: [JSONMember] = []
    /// Keys seen so far; only built once an object has more than a few members (a linear scan is
    /// faster for the small objects that dominate specs and headers).
    package var keySet: Set<String> = []
    package var pendingKey: String = ""
}

private enum ASCII {
    package static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C, slash: UInt8 = 0x2F
    package static let comma: UInt8 = 0x2C, colon: UInt8 = 0x3A, minus: UInt8 = 0x2D, plus: UInt8 = 0x2B
    package static let dot: UInt8 = 0x2E, zero: UInt8 = 0x30, nine: UInt8 = 0x39
    package static let openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D
    package static let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D
    package static let space: UInt8 = 0x20, tab: UInt8 = 0x09, newline: UInt8 = 0x0A, cr: UInt8 = 0x0D
    package static let lowerE: UInt8 = 0x65, upperE: UInt8 = 0x45
}

private struct JSONParser {
    package let b: UnsafeBufferPointer<UInt8>
    package let n: Int
    package let maxDepth: Int
    package var i = 0

    package init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.b = bytes
        self.n = bytes.count
        self.maxDepth = maxDepth
    }

    package func error(_ message: String, at offset: Int) -> JSONError {
        JSONError(message: message, offset: offset)
    }

    /// A printable description of the byte at `offset` for error messages.
    package func describeByte(at offset: Int) -> String {
        guard offset < n else { return "end of input" }
        let c = b[offset]
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x\(String(c, radix: 16, uppercase: true))"
    }

    @inline(__always)
    package mutating func skipWhitespace() {
        while i < n {
            let c = b[i]
            if c == ASCII.space || c == ASCII.newline || c == ASCII.cr || c == ASCII.tab {
                i &+= 1
            } else {
                return
            }
        }
    }

    /// True when the bytes at the cursor spell `word`.
    package func matches(_ word: StaticString, at offset: Int) -> Bool {
        let count = word.utf8CodeUnitCount
        guard offset <= n &- count else { return false }
        return word.withUTF8Buffer { w in
            for k in 0..<count where b[offset &+ k] != w[k] { return false }
            return true
        }
    }

    package mutating func parseDocument() throws -> JSONValue {
        var stack: [JSONFrame] = []
        defer {
            // Only after an error: the open containers may hold a deeply nested partial value,
            // whose recursive destructor could overflow the call stack. Free it iteratively.
            if !stack.isEmpty {
                var pending: [JSONValue] = []
                for frame in stack {
                    pending.append(contentsOf: frame.elements)
                    pending.append(contentsOf: frame.members.map(\.value))
                }
                stack.removeAll()
                JSONValue.dismantle(&pending)
            }
        }
        skipWhitespace()
        while true {
            // Expecting a value at i.
            var value: JSONValue
            guard i < n else { throw error("unexpected end of input, expected a value", at: i) }
            let c = b[i]
            switch c {
            case ASCII.openBracket, ASCII.openBrace:
                let isObject = c == ASCII.openBrace
                if stack.count >= maxDepth {
                    throw error("nesting deeper than the limit of \(maxDepth)", at: i)
                }
                i &+= 1
                skipWhitespace()
                let close = isObject ? ASCII.closeBrace : ASCII.closeBracket
                if i < n && b[i] == close {
                    i &+= 1
                    value = isObject ? .object([]) : .array([])
                } else {
                    var frame = JSONFrame(isObject: isObject)
                    if isObject {
                        try parseKey(into: &frame)
                    }
                    stack.append(frame)
                    continue
                }
            case ASCII.quote:
                value = .string(try parseString())
            case 0x74:  // t
                guard matches("true", at: i) else { throw invalidLiteral() }
                i &+= 4
                value = .bool(true)
            case 0x66:  // f
                guard matches("false", at: i) else { throw invalidLiteral() }
                i &+= 5
                value = .bool(false)
            case 0x6E:  // n
                guard matches("null", at: i) else { throw invalidLiteral() }
                i &+= 4
                value = .null
            case ASCII.minus, ASCII.zero...ASCII.nine:
                value = try parseNumber()
            default:
                throw invalidLiteral()
            }

            // A value is complete: attach it to the innermost open container, closing containers
            // as long as their closing bracket follows.
            attach: while true {
                guard !stack.isEmpty else {
                    skipWhitespace()
                    if i < n {
                        throw error("unexpected \(describeByte(at: i)) after the JSON value", at: i)
                    }
                    return value
                }
                let top = stack.count &- 1
                if stack[top].isObject {
                    let key = stack[top].pendingKey
                    stack[top].members.append(JSONMember(key, value))
                } else {
                    stack[top].elements.append(value)
                }
                skipWhitespace()
                guard i < n else {
                    throw error("unexpected end of input, expected ',' or '\(stack[top].isObject ? "}" : "]")'", at: i)
                }
                let d = b[i]
                if d == ASCII.comma {
                    i &+= 1
                    skipWhitespace()
                    if stack[top].isObject {
                        if i < n && b[i] == ASCII.closeBrace { throw error("trailing comma", at: i &- 1) }
                        try parseKey(into: &stack[top])
                    } else if i < n && b[i] == ASCII.closeBracket {
                        throw error("trailing comma", at: i &- 1)
                    }
                    break attach  // parse the next value
                }
                if stack[top].isObject && d == ASCII.closeBrace {
                    i &+= 1
                    value = .object(stack.removeLast().members)
                } else if !stack[top].isObject && d == ASCII.closeBracket {
                    i &+= 1
                    value = .array(stack.removeLast().elements)
                } else {
                    let expected = stack[top].isObject ? "',' or '}'" : "',' or ']'"
                    throw error("unexpected \(describeByte(at: i)), expected \(expected)", at: i)
                }
            }
        }
    }

    package func invalidLiteral() -> JSONError {
        if matches("NaN", at: i) || matches("nan", at: i) || matches("Infinity", at: i)
            || matches("inf", at: i) {
            return error("NaN and Infinity are not valid JSON", at: i)
        }
        return error("unexpected \(describeByte(at: i)), expected a value", at: i)
    }

    /// Parses `"key" :` (whitespace allowed around the colon) into the frame's pending key and
    /// checks that the key is new.
    package mutating func parseKey(into frame: inout JSONFrame) throws {
        guard i < n, b[i] == ASCII.quote else {
            throw error("unexpected \(describeByte(at: i)), expected a string key", at: i)
        }
        let keyOffset = i
        let key = try parseString()
        let duplicate: Bool
        if frame.members.count < 8 {
            duplicate = frame.members.contains { $0.key == key }
        } else {
            if frame.keySet.isEmpty { frame.keySet = Set(frame.members.map(\.key)) }
            duplicate = !frame.keySet.insert(key).inserted
        }
        if duplicate { throw error("duplicate key \"\(key)\"", at: keyOffset) }
        skipWhitespace()
        guard i < n, b[i] == ASCII.colon else {
            throw error("unexpected \(describeByte(at: i)), expected ':' after the key", at: i)
        }
        i &+= 1
        skipWhitespace()
        frame.pendingKey = key
    }

    // MARK: strings

    /// Parses a string starting at the opening quote; validates UTF-8 and escapes.
    package mutating func parseString() throws -> String {
        let open = i
        i &+= 1
        var runStart = i
        var decoded: [UInt8]? = nil  // only allocated once an escape is seen
        while true {
            guard i < n else { throw error("unterminated string", at: open) }
            let c = b[i]
            if c == ASCII.quote {
                let run = UnsafeBufferPointer(rebasing: b[runStart..<i])
                i &+= 1
                if var bytes = decoded {
                    bytes.append(contentsOf: run)
                    return String(decoding: bytes, as: UTF8.self)
                }
                return String(decoding: run, as: UTF8.self)
            } else if c == ASCII.backslash {
                if decoded == nil {
                    decoded = []
                    decoded?.reserveCapacity(i &- runStart &+ 16)
                }
                decoded?.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i]))
                try parseEscape(into: &decoded)
                runStart = i
            } else if c < 0x20 {
                throw error("control character U+00\(c < 0x10 ? "0" : "")\(String(c, radix: 16, uppercase: true)) in string (must be escaped)", at: i)
            } else if c < 0x80 {
                i &+= 1
            } else {
                try skipUTF8Sequence()
            }
        }
    }

    /// Validates one multi-byte UTF-8 sequence at `i` (Unicode Table 3-7) and steps over it.
    package mutating func skipUTF8Sequence() throws {
        let c = b[i]
        var length = 0
        var low: UInt8 = 0x80, high: UInt8 = 0xBF  // range of the second byte
        switch c {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw error("invalid UTF-8", at: i)
        }
        guard i <= n &- length else { throw error("invalid UTF-8 (truncated sequence)", at: i) }
        let second = b[i &+ 1]
        guard second >= low && second <= high else { throw error("invalid UTF-8", at: i) }
        var k = 2
        while k < length {
            let t = b[i &+ k]
            guard t >= 0x80 && t <= 0xBF else { throw error("invalid UTF-8", at: i) }
            k &+= 1
        }
        i &+= length
    }

    /// Parses the escape at `i` (a backslash) and appends its UTF-8 encoding.
    package mutating func parseEscape(into out: inout [UInt8]?) throws {
        let start = i
        guard i &+ 1 < n else { throw error("unterminated string", at: start) }
        let e = b[i &+ 1]
        i &+= 2
        switch e {
        case ASCII.quote: out?.append(ASCII.quote)
        case ASCII.backslash: out?.append(ASCII.backslash)
        case ASCII.slash: out?.append(ASCII.slash)
        case 0x62: out?.append(0x08)  // b
        case 0x66: out?.append(0x0C)  // f
        case 0x6E: out?.append(0x0A)  // n
        case 0x72: out?.append(0x0D)  // r
        case 0x74: out?.append(0x09)  // t
        case 0x75:  // u
            var scalar = try parseHex4(escapeAt: start)
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                guard i &+ 1 < n, b[i] == ASCII.backslash, b[i &+ 1] == 0x75 else {
                    throw error("lone surrogate \\u\(hex4(scalar)) (high surrogate without a low one)", at: start)
                }
                let lowStart = i
                i &+= 2
                let low = try parseHex4(escapeAt: lowStart)
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw error("lone surrogate \\u\(hex4(scalar)) (followed by \\u\(hex4(low)), not a low surrogate)", at: start)
                }
                scalar = 0x10000 &+ ((scalar &- 0xD800) << 10) &+ (low &- 0xDC00)
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw error("lone surrogate \\u\(hex4(scalar)) (low surrogate without a high one)", at: start)
            }
            appendUTF8(scalar, to: &out)
        default:
            throw error("invalid escape \\\(describeEscape(e))", at: start)
        }
    }

    package func describeEscape(_ c: UInt8) -> String {
        if c >= 0x21 && c < 0x7F { return String(Character(Unicode.Scalar(c))) }
        return "(byte 0x\(String(c, radix: 16, uppercase: true)))"
    }

    package func hex4(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    /// Reads the 4 hex digits after `\u`; `i` is at the first digit.
    package mutating func parseHex4(escapeAt start: Int) throws -> UInt32 {
        guard i <= n &- 4 else { throw error("invalid \\u escape: expected 4 hex digits", at: start) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c &- 0x30)
            case 0x41...0x46: d = UInt32(c &- 0x41) &+ 10
            case 0x61...0x66: d = UInt32(c &- 0x61) &+ 10
            default: throw error("invalid \\u escape: expected 4 hex digits", at: start)
            }
            v = (v << 4) | d
            i &+= 1
        }
        return v
    }

    package func appendUTF8(_ s: UInt32, to out: inout [UInt8]?) {
        if s < 0x80 {
            out?.append(UInt8(truncatingIfNeeded: s))
        } else if s < 0x800 {
            out?.append(UInt8(truncatingIfNeeded: 0xC0 | (s >> 6)))
            out?.append(UInt8(truncatingIfNeeded: 0x80 | (s & 0x3F)))
        } else if s < 0x10000 {
            out?.append(UInt8(truncatingIfNeeded: 0xE0 | (s >> 12)))
            out?.append(UInt8(truncatingIfNeeded: 0x80 | ((s >> 6) & 0x3F)))
            out?.append(UInt8(truncatingIfNeeded: 0x80 | (s & 0x3F)))
        } else {
            out?.append(UInt8(truncatingIfNeeded: 0xF0 | (s >> 18)))
            out?.append(UInt8(truncatingIfNeeded: 0x80 | ((s >> 12) & 0x3F)))
            out?.append(UInt8(truncatingIfNeeded: 0x80 | ((s >> 6) & 0x3F)))
            out?.append(UInt8(truncatingIfNeeded: 0x80 | (s & 0x3F)))
        }
    }

    // MARK: numbers

    @inline(__always)
    package func isDigit(at k: Int) -> Bool {
        k < n && b[k] >= ASCII.zero && b[k] <= ASCII.nine
    }

    /// number = [ "-" ] int [ frac ] [ exp ]; int = "0" / digit1-9 *digit
    package mutating func parseNumber() throws -> JSONValue {
        let start = i
        let negative = b[i] == ASCII.minus
        if negative {
            i &+= 1
            guard isDigit(at: i) else {
                if matches("Infinity", at: i) || matches("inf", at: i) {
                    throw error("NaN and Infinity are not valid JSON", at: start)
                }
                throw error("invalid number: expected a digit after '-'", at: i)
            }
        }
        let intStart = i
        if b[i] == ASCII.zero {
            i &+= 1
            if isDigit(at: i) { throw error("invalid number: leading zeros are not allowed", at: intStart) }
        } else {
            while isDigit(at: i) { i &+= 1 }
        }
        let intEnd = i
        var isInteger = true
        if i < n && b[i] == ASCII.dot {
            isInteger = false
            i &+= 1
            guard isDigit(at: i) else {
                throw error("invalid number: expected a digit after the decimal point", at: i)
            }
            while isDigit(at: i) { i &+= 1 }
        }
        if i < n && (b[i] == ASCII.lowerE || b[i] == ASCII.upperE) {
            isInteger = false
            i &+= 1
            if i < n && (b[i] == ASCII.plus || b[i] == ASCII.minus) { i &+= 1 }
            guard isDigit(at: i) else {
                throw error("invalid number: expected a digit in the exponent", at: i)
            }
            while isDigit(at: i) { i &+= 1 }
        }
        if isInteger {
            // Accumulate toward the sign so that Int64.min is representable.
            var value: Int64 = 0
            var overflow = false
            var k = intStart
            while k < intEnd {
                let digit = Int64(b[k] &- ASCII.zero)
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = negative ? m.subtractingReportingOverflow(digit)
                                       : m.addingReportingOverflow(digit)
                if o1 || o2 { overflow = true; break }
                value = a
                k &+= 1
            }
            if !overflow { return .int(value) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else {
            let shown = text.count > 40 ? String(text.prefix(40)) + "..." : text
            throw error("number \(shown) is out of range", at: start)
        }
        return .double(d)
    }
}
