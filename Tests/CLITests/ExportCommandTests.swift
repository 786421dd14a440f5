import AECV
import AECVData
import Foundation
import XCTest

/// `aecv export --onnx`: the file it writes is the library's export of that part (same bytes as
/// the API's), a bad part is a one-line error, and the exported graph imports back.
final class ExportCommandTests: XCTestCase {
    func testExportWritesEachPartAndRefusesAnUnknownOne() throws {
        let f = try CLIFixture.get()
        let model = try Autoencoder(contentsOf: f.convModel)
        for part in ONNXPart.allCases {
            let out = "conv-\(part.name).onnx"
            let r = try CLI.run(["export", "conv.aecv", "--onnx", out, "--part", part.name], in: f.directory)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains(part.name), r.stdout)
            let api = f.path("api-\(part.name).onnx")
            try model.exportONNX(path: api, part: part)
            XCTAssertEqual(try FileIO.readAll(path: f.path(out), maxBytes: 1 << 24),
                           try FileIO.readAll(path: api, maxBytes: 1 << 24), part.name)
        }
        let back = try Autoencoder.importONNX(path: f.path("conv-autoencoder.onnx"), overridesJSON: nil)
        XCTAssertEqual(back.latentSize, model.latentSize)
        let bad = try CLI.run(["export", "conv.aecv", "--onnx", "x.onnx", "--part", "middle"], in: f.directory)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--part") && bad.stderr.contains("middle"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.path("x.onnx")))
    }
}
