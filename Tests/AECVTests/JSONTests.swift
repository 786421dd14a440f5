import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

final class JSONTests: XCTestCase {
    private func parse(_ text: String, maxDepth: Int = SpecLimits.maxJSONDepth) throws -> JSONValue {
        try JSONValue.parse(text, maxDepth: maxDepth)
    }

    private func parseBytes(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { try JSONValue.parse(bytes: $0) }
    }

    /// Asserts that parsing fails with a message containing `fragment` (and, if given, at `offset`).
    private func assertRejects(_ text: String, _ fragment: String, offset: Int? = nil,
                               file: StaticString = #filePath, line: UInt = #line) {
        assertRejects(bytes: Array(text.utf8), fragment, offset: offset, file: file, line: line)
    }

    private func assertRejects(bytes: [UInt8], _ fragment: String, offset: Int? = nil,
                               file: StaticString = #filePath, line: UInt = #line) {
        do {
            let v = try parseBytes(bytes)
            XCTFail("accepted \(bytes.count) bytes as \(v)", file: file, line: line)
        } catch let e as JSONError {
            XCTAssertTrue(e.message.contains(fragment), "\"\(e.message)\" lacks \"\(fragment)\"",
                          file: file, line: line)
            if let offset { XCTAssertEqual(e.offset, offset, "offset of \(e)", file: file, line: line) }
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testScalars() throws {
        XCTAssertEqual(try parse("null"), .null)
        XCTAssertEqual(try parse(" true "), .bool(true))
        XCTAssertEqual(try parse("\tfalse\r\n"), .bool(false))
        XCTAssertEqual(try parse("0"), .int(0))
        XCTAssertEqual(try parse("-0"), .int(0))
        XCTAssertEqual(try parse("42"), .int(42))
        XCTAssertEqual(try parse("-17"), .int(-17))
        XCTAssertEqual(try parse("9223372036854775807"), .int(Int64.max))
        XCTAssertEqual(try parse("-9223372036854775808"), .int(Int64.min))
        XCTAssertEqual(try parse("9223372036854775808"), .double(9223372036854775808.0))
        XCTAssertEqual(try parse("-9223372036854775809"), .double(-9223372036854775809.0))
        XCTAssertEqual(try parse("1.5"), .double(1.5))
        XCTAssertEqual(try parse("1.0"), .double(1.0))
        XCTAssertEqual(try parse("1e3"), .double(1000))
        XCTAssertEqual(try parse("1E+3"), .double(1000))
        XCTAssertEqual(try parse("-2.5e-3"), .double(-0.0025))
        XCTAssertEqual(try parse("0.001"), .double(0.001))
        XCTAssertEqual(try parse("1e-400"), .double(0))
        XCTAssertEqual(try parse("\"hi\""), .string("hi"))
    }

    func testContainersKeepOrder() throws {
        let v = try parse(#"{"b": [1, 2.5, {"x": null}], "a": {}, "c": [], "d": "e"}"#)
        XCTAssertEqual(v, .object([
            JSONMember("b", .array([.int(1), .double(2.5), .object([JSONMember("x", .null)])])),
            JSONMember("a", .object([])), JSONMember("c", .array([])), JSONMember("d", .string("e")),
        ]))
        XCTAssertEqual(v["b"]?[1]?.asDouble, 2.5)
        XCTAssertEqual(v["d"]?.asString, "e")
        XCTAssertNil(v["zz"])
        XCTAssertNil(v["b"]?[3])
    }

    func testStringEscapesAndUnicode() throws {
        XCTAssertEqual(try parse(#""a\"b\\c\/d\b\f\n\r\t""#), .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        XCTAssertEqual(try parse(#""\u00e9\u4e2D\uD83D\uDE00\u0000""#), .string("é中😀\u{0}"))
        XCTAssertEqual(try parse("\"é中😀\""), .string("é中😀"))
        // Escapes after raw UTF-8 and the reverse.
        XCTAssertEqual(try parse(#""é\n中""#), .string("é\n中"))
    }

    func testRejectsSyntaxErrors() {
        assertRejects("", "end of input", offset: 0)
        assertRejects("   ", "end of input")
        assertRejects("[1, 2", "end of input")
        assertRejects("[1 2]", "expected ',' or ']'")
        assertRejects("{\"a\" 1}", "expected ':'")
        assertRejects("{1: 2}", "expected a string key")
        assertRejects("[1,]", "trailing comma", offset: 2)
        assertRejects("{\"a\": 1, }", "trailing comma")
        assertRejects("[,1]", "expected a value")
        assertRejects("{\"a\":}", "expected a value")
        assertRejects("1 2", "after the JSON value", offset: 2)
        assertRejects("{} x", "after the JSON value")
        assertRejects("nul", "expected a value")
        assertRejects("True", "expected a value")
        assertRejects("'a'", "expected a value")
        assertRejects("\"abc", "unterminated string", offset: 0)
        assertRejects("\"a\\\"", "unterminated string")
        assertRejects("\"\\x\"", "invalid escape")
        assertRejects("\"\\u12\"", "4 hex digits")
        assertRejects("\"\\u12G4\"", "4 hex digits")
    }

    func testRejectsBadNumbers() {
        assertRejects("01", "leading zeros", offset: 0)
        assertRejects("-012", "leading zeros", offset: 1)
        assertRejects("00", "leading zeros")
        assertRejects("1.", "digit after the decimal point")
        assertRejects(".5", "expected a value")
        assertRejects("1e", "digit in the exponent")
        assertRejects("1e+", "digit in the exponent")
        assertRejects("-", "digit after '-'")
        assertRejects("+1", "expected a value")
        assertRejects("0x10", "after the JSON value")
        assertRejects("NaN", "NaN and Infinity")
        assertRejects("[Infinity]", "NaN and Infinity")
        assertRejects("-Infinity", "NaN and Infinity")
        assertRejects("1e400", "out of range")
        assertRejects("-1e309", "out of range")
        assertRejects(String(repeating: "9", count: 400), "out of range")
        XCTAssertEqual(try parse(String(repeating: "9", count: 300)), .double(1e300))
    }

    func testRejectsControlCharactersAndBadUTF8() {
        assertRejects("\"a\nb\"", "control character U+000A", offset: 2)
        assertRejects("\"\u{1}\"", "control character U+0001")
        assertRejects("\"\u{1F}\"", "control character U+001F")
        assertRejects(bytes: [0x22, 0xFF, 0x22], "invalid UTF-8", offset: 1)
        assertRejects(bytes: [0x22, 0x80, 0x22], "invalid UTF-8")            // lone continuation
        assertRejects(bytes: [0x22, 0xC0, 0xAF, 0x22], "invalid UTF-8")      // overlong '/'
        assertRejects(bytes: [0x22, 0xE0, 0x80, 0xAF, 0x22], "invalid UTF-8")  // overlong
        assertRejects(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8")  // UTF-8 surrogate
        assertRejects(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8")  // > U+10FFFF
        assertRejects(bytes: [0x22, 0xE4, 0xB8, 0x22], "invalid UTF-8")      // truncated
        assertRejects(bytes: [0x22, 0xF0, 0x9F, 0x98], "invalid UTF-8")      // truncated at end
        assertRejects(bytes: [0xEF, 0xBB, 0xBF, 0x31], "expected a value")   // BOM
        assertRejects(bytes: [0x5B, 0x00, 0x5D], "expected a value")
    }

    func testRejectsLoneSurrogates() {
        assertRejects(#""\uD800""#, "lone surrogate \\uD800", offset: 1)
        assertRejects(#""\uD800x""#, "lone surrogate")
        assertRejects(#""\uD800\n""#, "lone surrogate")
        assertRejects(#""\uD800\u0041""#, "lone surrogate")
        assertRejects(#""\uDC00""#, "lone surrogate \\uDC00")
        assertRejects(#""\uDBFF\uDBFF""#, "lone surrogate")
    }

    func testRejectsDuplicateKeys() {
        assertRejects(#"{"a": 1, "a": 2}"#, "duplicate key \"a\"", offset: 9)
        assertRejects(#"{"x": {"k": 1, "j": 2, "k": 3}}"#, "duplicate key \"k\"")
        // Beyond the linear-scan threshold the set path must catch it too.
        let many = (0..<20).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
        assertRejects("{\(many), \"k3\": 0}", "duplicate key \"k3\"")
        assertRejects("{\(many), \"k19\": 0}", "duplicate key \"k19\"")
        XCTAssertNoThrow(try parse("{\(many), \"k20\": 0}"))
        // Escaped and raw forms of the same key are the same key.
        assertRejects(#"{"a": 1, "\u0061": 2}"#, "duplicate key \"a\"")
    }

    func testDepthLimit() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        XCTAssertNoThrow(try parse(ok))
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        assertRejects(tooDeep, "nesting deeper than the limit of 64", offset: 64)
        XCTAssertThrowsError(try parse("[[1]]", maxDepth: 1))
        XCTAssertNoThrow(try parse("[1]", maxDepth: 1))
        XCTAssertThrowsError(try parse("[]", maxDepth: 0))
        XCTAssertNoThrow(try parse("3", maxDepth: 0))
        XCTAssertThrowsError(try parse(#"{"a": {"b": {}}}"#, maxDepth: 2))

        // 100k unclosed brackets: rejected at the limit, and no stack overflow even when the
        // limit is effectively off (the parser has its own stack).
        let deep = String(repeating: "[", count: 100_000)
        assertRejects(deep, "nesting deeper")
        // A value 100k deep (built on the parser's own stack), measured and torn down
        // iteratively: the enum's recursive destructor would overflow the call stack.
        var parts: [JSONValue] = [
            try parse(deep + String(repeating: "]", count: 100_000), maxDepth: Int.max)]
        var depth = 0
        do {
            var cursor = parts[0]
            while case .array(let inner) = cursor, let first = inner.first { depth += 1; cursor = first }
        }
        XCTAssertEqual(depth, 99_999)
        while let last = parts.popLast() {
            if case .array(let inner) = last { parts.append(contentsOf: inner) }
        }
        // A deep document that fails at the very end: the parser must free its partial value
        // without recursing.
        XCTAssertThrowsError(
            try parse(deep + "1" + String(repeating: "]", count: 99_999), maxDepth: Int.max))
    }

    func testSerializeCompactAndPretty() throws {
        let v: JSONValue = ["preset": "conv", "input": [1, 28, 28], "lr": 0.001, "ok": true,
                            "none": nil, "nested": ["a": [["b": 1]], "e": [:] as JSONValue, "f": []]]
        XCTAssertEqual(v.serialized(),
                       #"{"preset":"conv","input":[1,28,28],"lr":0.001,"ok":true,"none":null,"nested":{"a":[{"b":1}],"e":{},"f":[]}}"#)
        XCTAssertEqual(v.serialized(pretty: true), """
            {
              "preset": "conv",
              "input": [1, 28, 28],
              "lr": 0.001,
              "ok": true,
              "none": null,
              "nested": {
                "a": [
                  {
                    "b": 1
                  }
                ],
                "e": {},
                "f": []
              }
            }
            """)
        XCTAssertEqual(try parse(v.serialized()), v)
        XCTAssertEqual(try parse(v.serialized(pretty: true)), v)
    }

    func testDoublesRoundTrip() throws {
        XCTAssertEqual(JSONValue.double(0.001).serialized(), "0.001")
        XCTAssertEqual(JSONValue.double(1).serialized(), "1.0")
        XCTAssertEqual(JSONValue.double(-0.0).serialized(), "-0.0")
        XCTAssertEqual(JSONValue.double(1e-5).serialized(), "1e-05")
        XCTAssertEqual(JSONValue.double(.nan).serialized(), "null")
        XCTAssertEqual(JSONValue.array([.double(.infinity), .double(-.infinity)]).serialized(), "[null,null]")
        XCTAssertEqual(JSONValue.int(-5).serialized(), "-5")
        var generator = SystemRandomNumberGenerator()
        var samples: [Double] = [0.1, 1e300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.leastNormalMagnitude,
                                 123456789012345680, 0.30000000000000004, 1e16, 1e15, 2.5e-8]
        for _ in 0..<2000 {
            let bits = generator.next() as UInt64
            let d = Double(bitPattern: bits)
            if d.isFinite { samples.append(d) }
        }
        for d in samples {
            let text = JSONValue.double(d).serialized()
            let back = try parse(text)
            guard case .double(let e) = back else { XCTFail("\(text) parsed as \(back)"); continue }
            XCTAssertEqual(e.bitPattern, d.bitPattern, text)
        }
    }

    func testStringEscapingRoundTrip() throws {
        let s = "quote\" back\\ nl\n tab\t ctl\u{1}\u{1F} del\u{7F} é 中 😀 nul\u{0}"
        let text = JSONValue.string(s).serialized()
        XCTAssertEqual(text, #""quote\" back\\ nl\n tab\t ctl\u0001\u001f del\u007f é 中 😀 nul\u0000""#)
        XCTAssertEqual(try parse(text), .string(s))
        XCTAssertEqual(try parse(JSONValue.object([JSONMember(s, .int(1))]).serialized()),
                       .object([JSONMember(s, .int(1))]))
    }

    func testNeverTrapsOnMutatedInput() {
        // Deterministic mutations of a valid document: parsing may fail, but must not crash,
        // and whatever parses must re-serialize to something that parses to the same value.
        let seed = Array(#"{"a": [1, -2.5e3, true, null, "x\u00e9\n"], "b": {"c": "é"}, "d": 0}"#.utf8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        let alphabet = Array("{}[],:\"\\u0123456789eE+-.tfnlrsaDC8 \n\t".utf8) + [0x00, 0x80, 0xC3, 0xFF]
        for _ in 0..<20_000 {
            var bytes = seed
            for _ in 0..<(1 + Int(next() % 4)) {
                let position = Int(next() % UInt64(bytes.count + 1))
                let b = alphabet[Int(next() % UInt64(alphabet.count))]
                switch next() % 3 {
                case 0: if position < bytes.count { bytes[position] = b }
                case 1: bytes.insert(b, at: position)
                default: if position < bytes.count { bytes.remove(at: position) }
                }
            }
            if let v = try? parseBytes(bytes) {
                XCTAssertEqual(try? parse(v.serialized()), v)
            }
        }
        // Every prefix of a valid document but the whole is an error.
        for k in 0..<seed.count {
            XCTAssertThrowsError(try parseBytes(Array(seed[0..<k])), "prefix \(k)")
        }
    }

    func testLargeInputIsFast() throws {
        // ~1 MB of numbers, strings and objects.
        var parts: [String] = []
        for k in 0..<20_000 {
            parts.append(#"{"id": \#(k), "w": [0.125, -3.5e-2, 7], "name": "item-\#(k)-é"}"#)
        }
        let text = "[" + parts.joined(separator: ",") + "]"
        XCTAssertGreaterThan(text.utf8.count, 1_000_000)
        let v = try parse(text)
        XCTAssertEqual(v.asArray?.count, 20_000)
        XCTAssertEqual(v[19_999]?["name"], "item-19999-é")
        XCTAssertEqual(try parse(v.serialized()), v)
    }
}
