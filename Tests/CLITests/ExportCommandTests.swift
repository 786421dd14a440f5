import AECV
import AECVData
import Foundation
import XCTest

/// `aecv export --onnx`: the file it writes is the library's export of that part (same bytes as
/// the API's), a bad part is a one-line error, and the exported graph imports back.
/// `aecv import`: an ONNX graph becomes a model file that reconstructs as the original did and
/// that `train --resume` trains further; unsupported and malformed graphs are one-line errors.
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

    func testImportMakesATrainableModelFile() throws {
        let f = try CLIFixture.get()
        let export = try CLI.run(["export", "conv.aecv", "--onnx", "round.onnx"], in: f.directory)
        XCTAssertEqual(export.status, 0, export.stderr)
        let r = try CLI.run(["import", "round.onnx", "--spec", "{\"loss\": \"bce\"}"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("round.aecv"), r.stdout)
        let original = try Autoencoder(contentsOf: f.convModel)
        let imported = try Autoencoder(contentsOf: f.path("round.aecv"))
        XCTAssertEqual(imported.spec.preset, .custom)
        XCTAssertEqual(imported.spec.loss?.rawValue, "bce")
        XCTAssertEqual(imported.latentSize, original.latentSize)
        XCTAssertEqual(imported.parameterCount, original.parameterCount)
        let x = Array(f.test.floats().prefix(4 * 784))
        let (a, b) = (try original.reconstruct(x), try imported.reconstruct(x))
        XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max()!, 1e-5)
        // Trains further: one epoch changes the parameters and the file says it was resumed.
        let t = try CLI.run(["train", "--resume", "round.aecv", "--data", "train.npy", "--epochs", "1",
                             "--batch-size", "64", "--out", "round-trained.aecv"], in: f.directory)
        XCTAssertEqual(t.status, 0, t.stderr)
        let trained = try Autoencoder(contentsOf: f.path("round-trained.aecv"))
        XCTAssertNotEqual(try trained.reconstruct(x), b)
        // --code names a node output; a missing one is refused by name, nothing written.
        let bad = try CLI.run(["import", "round.onnx", "--code", "no_such_value", "--out", "bad.aecv"], in: f.directory)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("no_such_value"), bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.path("bad.aecv")))
        // Not ONNX at all: a format error naming the file.
        let junk = try CLI.run(["import", "train.npy", "--out", "junk.aecv"], in: f.directory)
        XCTAssertNotEqual(junk.status, 0)
        XCTAssertTrue(junk.stderr.contains("train.npy"), junk.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.path("junk.aecv")))
    }
}
