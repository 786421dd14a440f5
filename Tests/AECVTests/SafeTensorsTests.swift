import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

final class SafeTensorsTests: XCTestCase {
    /// A file laid out by hand per the safetensors spec: u64 LE header length, JSON header,
    /// data buffer. `header` is padded with spaces to a multiple of 8, like the reference writer.
    private func file(header: String, data: [UInt8], pad: Bool = true) -> [UInt8] {
        var h = Array(header.utf8)
        while pad && h.count % 8 != 0 { h.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        return out + h + data
    }

    private func le(_ floats: [Float]) -> [UInt8] {
        floats.flatMap { f in withUnsafeBytes(of: f.bitPattern.littleEndian) { Array($0) } }
    }

    private func assertFormatError(_ bytes: [UInt8], _ fragment: String,
                                   file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensors.decode(bytes: bytes), file: file, line: line) {
            guard case .format(let m)? = $0 as? AECVError else {
                return XCTFail("expected a format error, got \($0)", file: file, line: line)
            }
            XCTAssertTrue(m.contains(fragment), "\"\(m)\" lacks \"\(fragment)\"", file: file, line: line)
        }
    }

    func testEncodeMatchesReferenceLayout() throws {
        let st = SafeTensors(tensors: [SafeTensors.Tensor(name: "a", shape: [2], values: [1, -2.5])])
        let header = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        // 85 bytes of JSON + 3 spaces = 88: the data starts 8-byte aligned, at 96.
        let expected = file(header: header, data: [0, 0, 0x80, 0x3F, 0, 0, 0x20, 0xC0])
        XCTAssertEqual(expected.count, 8 + 88 + 8)
        XCTAssertEqual(Array(expected[0..<8]), [88, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try st.encode(), expected)
        XCTAssertEqual(try SafeTensors.decode(bytes: expected), st)
    }

    func testDecodeHandBuiltFileWithAllDTypes() throws {
        // Tensors out of header order relative to data, a scalar, an empty tensor, metadata.
        var data: [UInt8] = []
        data += le([1, 2, 3, 4, 5, 6])                                          // w F32 [2,3]   0..<24
        data += [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C, 0xFF, 0x7B, 0x00, 0x80]  // h F16 [6] 24..<36
        data += [0x80, 0x3F, 0x49, 0x40]                                        // b BF16 [2]    36..<40
        withUnsafeBytes(of: (0.1 as Double).bitPattern.littleEndian) { data += $0 }  // d F64 []  40..<48
        let header = """
            {"d": {"dtype": "F64", "shape": [], "data_offsets": [40, 48]},
             "__metadata__": {"format": "pt", "note": "hand made"},
             "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
             "e": {"dtype": "F32", "shape": [0, 5], "data_offsets": [24, 24]},
             "h": {"dtype": "F16", "shape": [6], "data_offsets": [24, 36]},
             "b": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [36, 40]}}
            """
        let st = try SafeTensors.decode(bytes: file(header: header, data: data))
        XCTAssertEqual(st.tensors.map(\.name), ["d", "w", "e", "h", "b"])
        XCTAssertEqual(st.metadata, ["format": "pt", "note": "hand made"])
        XCTAssertEqual(st.tensor(named: "w")?.shape, [2, 3])
        XCTAssertEqual(st.tensor(named: "w")?.values, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(st.tensor(named: "e")?.shape, [0, 5])
        XCTAssertEqual(st.tensor(named: "e")?.values, [])
        XCTAssertEqual(st.tensor(named: "h")?.values.map(\.bitPattern),
                       [Float(1), -2, 0x1p-24, .infinity, 65504, -0.0].map(\.bitPattern))
        XCTAssertEqual(st.tensor(named: "b")?.values, [1, 3.140625])
        XCTAssertEqual(st.tensor(named: "d")?.shape, [])
        XCTAssertEqual(st.tensor(named: "d")?.values, [Float(0.1)])
        XCTAssertNil(st.tensor(named: "x"))
        // Unpadded headers are valid too.
        XCTAssertNoThrow(try SafeTensors.decode(bytes: file(header: header, data: data, pad: false)))
    }

    func testHalfConversionIsExactForAllValues() {
        for bits in 0...UInt16.max {
            let f = SafeTensors.floatFromHalf(bits)
            let expected = Float(Float16(bitPattern: bits))
            if expected.isNaN {
                XCTAssertTrue(f.isNaN)
            } else if f.bitPattern != expected.bitPattern {
                XCTFail("half 0x\(String(bits, radix: 16)): \(f) != \(expected)")
                return
            }
        }
    }

    func testRoundTripThroughFile() throws {
        let dir = try IOTestDirectory()
        defer { dir.remove() }
        var state: UInt32 = 7
        let big = (0..<10_000).map { _ -> Float in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(bitPattern: state)
        }
        let st = SafeTensors(tensors: [
            .init(name: "encoder.0.weight", shape: [16, 1, 3, 3], values: (0..<144).map { Float($0) * 0.01 }),
            .init(name: "encoder.0.bias", shape: [16], values: Array(repeating: -0.5, count: 16)),
            .init(name: "noise", shape: [100, 100], values: big),
            .init(name: "scalar", shape: [], values: [42]),
            .init(name: "empty", shape: [3, 0], values: []),
            .init(name: "名前 \"quoted\"", shape: [1], values: [1]),
        ], metadata: ["format": "pt", "epoch": "5"])
        let path = dir.file("weights.safetensors")
        try st.write(to: path)
        let back = try SafeTensors.read(path: path)
        XCTAssertEqual(back.tensors.map(\.name), st.tensors.map(\.name))
        XCTAssertEqual(back.metadata, st.metadata)
        for (a, b) in zip(back.tensors, st.tensors) {
            XCTAssertEqual(a.shape, b.shape)
            XCTAssertEqual(a.values.map(\.bitPattern), b.values.map(\.bitPattern), a.name)  // NaNs too
        }
        // Header length is a multiple of 8 and "format": "pt" is always written.
        let bytes = try FileIO.readAll(path: path, maxBytes: 1 << 20)
        XCTAssertEqual(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } % 8, 0)
        let noMetadata = SafeTensors(tensors: [.init(name: "x", shape: [1], values: [0])], metadata: [:])
        XCTAssertEqual(try SafeTensors.decode(bytes: noMetadata.encode()).metadata, ["format": "pt"])
        XCTAssertThrowsError(try SafeTensors.read(path: dir.file("missing"))) {
            guard case .io? = $0 as? AECVError else { return XCTFail("\($0)") }
        }
    }

    func testEncodeRejectsInvalidTensors() {
        let cases: [([SafeTensors.Tensor], String)] = [
            ([.init(name: "a", shape: [2], values: [1])], "needs 2 values, got 1"),
            ([.init(name: "a", shape: [-1], values: [])], "negative dimension"),
            ([.init(name: "a", shape: [Int.max, 2], values: [])], "too many elements"),
            ([.init(name: "a", shape: [1], values: [1]), .init(name: "a", shape: [1], values: [2])], "duplicate tensor name \"a\""),
            ([.init(name: "__metadata__", shape: [1], values: [1])], "reserved"),
        ]
        for (tensors, fragment) in cases {
            XCTAssertThrowsError(try SafeTensors(tensors: tensors).encode()) {
                XCTAssertTrue(($0 as? AECVError)?.message.contains(fragment) ?? false, "\($0)")
            }
        }
    }

    func testRejectsMalformedFiles() {
        let eight = le([1, 2])
        func one(_ entry: String, data: [UInt8] = eight) -> [UInt8] {
            file(header: "{\"a\": \(entry)}", data: data)
        }
        assertFormatError([1, 2, 3], "too short")
        var huge: [UInt8] = []
        withUnsafeBytes(of: UInt64(200_000_000).littleEndian) { huge.append(contentsOf: $0) }
        assertFormatError(huge + [0x7B, 0x7D], "exceeds the limit of 100000000")
        var tooLong: [UInt8] = []
        withUnsafeBytes(of: UInt64(50).littleEndian) { tooLong.append(contentsOf: $0) }
        assertFormatError(tooLong + Array("{}".utf8), "exceeds the file size")
        var maxLength: [UInt8] = []
        withUnsafeBytes(of: UInt64.max.littleEndian) { maxLength.append(contentsOf: $0) }
        assertFormatError(maxLength + Array("{}".utf8), "header length")
        assertFormatError(file(header: "[1, 2]", data: []), "header is not a JSON object")
        assertFormatError(file(header: "{\"a\": ", data: []), "invalid JSON header")
        assertFormatError(file(header: "{\"a\": 1, \"a\": 2}", data: []), "duplicate key \"a\"")
        assertFormatError(one("[]"), "expected an object")
        assertFormatError(one(#"{"dtype": "F32", "shape": [2]}"#), "data_offsets must be")
        assertFormatError(one(#"{"shape": [2], "data_offsets": [0, 8]}"#), "missing or non-string dtype")
        assertFormatError(one(#"{"dtype": "F32", "data_offsets": [0, 8]}"#), "missing or non-array shape")
        assertFormatError(one(#"{"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "extra": 1}"#), "unknown key \"extra\"")
        assertFormatError(one(#"{"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}"#), "unknown dtype \"Q4\"")
        assertFormatError(one(#"{"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}"#), "unsupported dtype I32")
        assertFormatError(one(#"{"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}"#), "non-negative integers")
        assertFormatError(one(#"{"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}"#), "non-negative integers")
        assertFormatError(one(#"{"dtype": "F32", "shape": [9223372036854775807, 2], "data_offsets": [0, 8]}"#), "too many elements")
        assertFormatError(one(#"{"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 8]}"#), "too many elements")
        assertFormatError(one(#"{"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}"#), "hold 8 bytes, but shape [3] of F32 needs 12")
        assertFormatError(one(#"{"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}"#), "0 <= begin <= end")
        assertFormatError(one(#"{"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}"#), "0 <= begin <= end")
        assertFormatError(one(#"{"dtype": "F32", "shape": [2], "data_offsets": [0]}"#), "data_offsets must be")
        assertFormatError(one(#"{"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}"#), "beyond the data buffer of 8 bytes")
        assertFormatError(one(#"{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}"#, data: eight + [0, 0, 0, 0]),
                          "4 bytes not covered by any tensor")
        assertFormatError(one(#"{"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}"#), "leave a gap of 4 bytes")
        assertFormatError(file(header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, data: eight),
                          "overlap")
        assertFormatError(file(header: #"{"__metadata__": {"format": 1}}"#, data: []), "__metadata__ value of \"format\" is not a string")
        assertFormatError(file(header: #"{"__metadata__": []}"#, data: []), "__metadata__ must be an object")
        // A header of nothing but tensors of zero size and no data is fine.
        XCTAssertNoThrow(try SafeTensors.decode(bytes: file(header: "{}", data: [])))
    }

    func testTruncationAtEveryOffsetIsRefused() throws {
        let st = SafeTensors(tensors: [
            .init(name: "w", shape: [3, 4], values: (0..<12).map(Float.init)),
            .init(name: "b", shape: [3], values: [1, 2, 3]),
        ])
        let bytes = try st.encode()
        XCTAssertEqual(try SafeTensors.decode(bytes: bytes), st)
        for k in 0..<bytes.count {
            XCTAssertThrowsError(try SafeTensors.decode(bytes: Array(bytes[0..<k])), "prefix of \(k) bytes") {
                guard case .format? = $0 as? AECVError else { return XCTFail("\($0)") }
            }
        }
        // Byte flips anywhere: an error or a valid decode, never a crash.
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        for _ in 0..<5000 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            var mutated = bytes
            let position = Int(state % UInt64(bytes.count))
            mutated[position] ^= UInt8(truncatingIfNeeded: state >> 32) | 1
            _ = try? SafeTensors.decode(bytes: mutated)
        }
    }
}
