import AECV
import AECVData
import Foundation
import XCTest

/// Every tolerance of the CLI tests, with its reason.
enum CLITolerance {
    /// Codes in the .npy against `Autoencoder.encode` on the same images: the same code path in
    /// another process, possibly another batch split (GEMM blocking may round differently).
    static let codes: Float = 1e-5
    /// Pixels of a grid against round(255·x) of the API's output: ±1 for values on a rounding
    /// boundary computed in a different batch split.
    static let pixel = 1
    /// Printed metrics are rounded to 5 significant digits.
    static let printedRelative = 1e-3
}

/// Runs the `aecv` binary built next to this test bundle (`swift build` / `swift test` put
/// `aecv-cli` there), or the one named by $AECV_CLI.
enum CLI {
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["AECV_CLI"] { return path }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0])
        return bundle.deletingLastPathComponent().appendingPathComponent("aecv-cli").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The process ended by a signal rather than exit().
        var signalled: Bool
        var stderrLines: [Substring] { stderr.split(separator: "\n") }
    }

    /// Runs `aecv <arguments>` in `directory` and waits for it (output goes through files, so no
    /// pipe can fill up and block it).
    @discardableResult
    static func run(_ arguments: [String], in directory: String) throws -> Result {
        let process = try start(arguments, in: directory)
        process.process.waitUntilExit()
        return process.finish()
    }

    final class Running {
        let process: Process
        let outPath: String, errPath: String
        init(process: Process, outPath: String, errPath: String) {
            self.process = process; self.outPath = outPath; self.errPath = errPath
        }

        var stdoutSoFar: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }

        func finish() -> Result {
            let out = stdoutSoFar
            let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
            return Result(status: process.terminationStatus, stdout: out, stderr: err,
                          signalled: process.terminationReason == .uncaughtSignal)
        }
    }

    static func start(_ arguments: [String], in directory: String) throws -> Running {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw XCTSkip("no aecv binary at \(binary); run `swift build` first (or set AECV_CLI)")
        }
        let id = UUID().uuidString
        let outPath = directory + "/.stdout-\(id)", errPath = directory + "/.stderr-\(id)"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return Running(process: process, outPath: outPath, errPath: errPath)
    }
}

/// Small real data, written once per test run into a temporary directory: the first 320 images of
/// Fashion-MNIST's test split as .npy (uint8 and float32), a raw IDX file and a PNG directory;
/// and two models trained on them by the binary (conv and vae, one epoch).
final class CLIFixture {
    let directory: String
    /// 256 training images (uint8 .npy) and 64 test images (float32 .npy), [1, 28, 28].
    let train: ImageDataset
    let test: ImageDataset
    /// Output of `aecv train` for conv.aecv.
    let trainOutput: CLI.Result

    static let shape = [1, 28, 28]
    static let shared = Result { try CLIFixture() }

    /// The fixture, or a skip/failure that explains why it is missing.
    static func get() throws -> CLIFixture { try shared.get() }

    var convModel: String { directory + "/conv.aecv" }
    var vaeModel: String { directory + "/vae.aecv" }

    private init() throws {
        directory = NSTemporaryDirectory() + "aecv-cli-tests-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard FileManager.default.fileExists(atPath: ImageDataset.fashionMNISTDirectory) else {
            throw XCTSkip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
        }
        let all = try ImageDataset.fashionMNIST(train: false, limit: 320)
        train = ImageDataset(images: all.slice(0, count: 256), labels: [], shape: Self.shape)
        test = ImageDataset(images: all.slice(256, count: 64), labels: [], shape: Self.shape)

        // train.npy: uint8 (256, 28, 28), exactly the bytes of the IDX file.
        let bytes = train.floats().map { UInt8(($0 * 255).rounded()) }
        try NPYArray(shape: [256, 28, 28], elements: .uint8(bytes)).write(to: directory + "/train.npy")
        // test.npy: float32 (64, 1, 28, 28).
        try NPYArray(shape: [64, 1, 28, 28], float32: test.floats()).write(to: directory + "/test.npy")
        // test.idx: an uncompressed IDX file of the same 64 test images.
        var idx: [UInt8] = [0, 0, 8, 3]
        for d in [64, 28, 28] { idx += [0, 0, UInt8(d >> 8), UInt8(d & 0xFF)] }
        idx += test.floats().map { UInt8(($0 * 255).rounded()) }
        try Data(idx).write(to: URL(fileURLWithPath: directory + "/test.idx"))
        // png/: 8 test images as grey PNGs.
        try FileManager.default.createDirectory(atPath: directory + "/png", withIntermediateDirectories: true)
        for i in 0..<8 {
            try PNG.write(RasterImage(planar: test.slice(i, count: 1), shape: Self.shape),
                          to: directory + "/png/image\(i).png")
        }

        trainOutput = try CLI.run(["train", "--preset", "conv", "--data", "train.npy", "--test-data", "test.npy",
                                   "--epochs", "1", "--batch-size", "32", "--out", "conv.aecv"], in: directory)
        guard trainOutput.status == 0 else {
            throw FixtureError("aecv train (conv) failed: \(trainOutput.stderr)")
        }
        let vae = try CLI.run(["train", "--preset", "vae", "--data", "train.npy", "--epochs", "1",
                               "--out", "vae.aecv"], in: directory)
        guard vae.status == 0 else { throw FixtureError("aecv train (vae) failed: \(vae.stderr)") }
    }

    func path(_ name: String) -> String { directory + "/" + name }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

extension XCTestCase {
    /// Asserts the process failed with exactly one line on stderr, `aecv: error: …` containing
    /// `fragment`, and no trace of a crash.
    func assertOneLineError(_ r: CLI.Result, contains fragment: String, status: Int32 = 1,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(r.signalled, "crashed: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.status, status, "exit status; stderr: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderrLines.count, 1, "stderr must be one line: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("aecv: error: "), r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(fragment), "expected '\(fragment)' in: \(r.stderr)", file: file, line: line)
        for crash in ["Fatal error", "Stack dump", "Backtrace", "Illegal instruction", "💣"] {
            XCTAssertFalse(r.stderr.contains(crash), r.stderr, file: file, line: line)
        }
    }
}

/// The tile at grid position (row, column) of a picture made by `ImageGrid` with the default
/// gaps, cut out and scaled back down (pixel repetition): comparable with `RasterImage(planar:)`.
func gridTile(_ grid: RasterImage, row: Int, column: Int, tileWidth: Int, tileHeight: Int, scale: Int,
              groupSize: Int = 1, gap: Int = 2, groupGap: Int = 8) -> [UInt8] {
    let x0 = gap + column * (tileWidth * scale + gap)
    let y0 = gap + row * (tileHeight * scale + gap) + (groupSize > 1 ? (row / groupSize) * groupGap : 0)
    var out: [UInt8] = []
    for y in 0..<tileHeight {
        for x in 0..<tileWidth {
            out.append(grid.pixels[((y0 + y * scale) * grid.width + x0 + x * scale) * grid.channels])
        }
    }
    return out
}

/// max |a − b| over bytes.
func maxByteDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    precondition(a.count == b.count)
    return zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
}
