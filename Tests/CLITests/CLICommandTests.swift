import AECV
import AECVData
import Foundation
import XCTest

/// Each subcommand of `aecv`, run as a process on small real data (Fashion-MNIST), with its
/// outputs checked against the Swift API on the same images.
final class CLICommandTests: XCTestCase {
    // MARK: train

    func testTrainSavesModelHistoryAndLossPlot() throws {
        let f = try CLIFixture.get()
        let out = f.trainOutput.stdout
        XCTAssertTrue(out.contains("training a conv autoencoder"), out)
        XCTAssertTrue(out.contains("on 256 images of train.npy"), out)
        XCTAssertTrue(out.contains("test: 64 images of test.npy"), out)
        XCTAssertTrue(out.contains("epoch 1/1: train loss "), out)
        XCTAssertTrue(out.contains("test loss "), out)
        XCTAssertTrue(out.contains("saved conv.aecv"), out)
        XCTAssertTrue(out.contains("loss plot: conv.loss.png"), out)

        let model = try Autoencoder(contentsOf: f.convModel)
        XCTAssertEqual(model.spec.preset, .conv)
        XCTAssertEqual(model.inputShape, CLIFixture.shape)
        XCTAssertEqual(model.history.count, 1)
        XCTAssertEqual(model.step, 8, "256 images in batches of 32")
        // The printed test loss is the model's loss on the test images.
        let printed = try XCTUnwrap(number(after: "test loss ", in: out))
        let loss = try model.evaluate(inputs: f.test.floats())
        XCTAssertEqual(printed, Double(loss), accuracy: abs(Double(loss)) * CLITolerance.printedRelative)
        // The printed train loss is the recorded history.
        let trainLoss = try XCTUnwrap(number(after: "train loss ", in: out))
        XCTAssertEqual(trainLoss, Double(model.history[0]), accuracy: trainLoss * CLITolerance.printedRelative)

        let plot = try PNG.read(path: f.path("conv.loss.png"))
        XCTAssertEqual([plot.width, plot.height, plot.channels], [720, 440, 3])
        // Not blank: beyond the legend's swatches (18×3 pixels), the markers (7×7) are drawn.
        XCTAssertGreaterThan(count(of: [31, 100, 190], in: plot), 54 + 40, "the epoch-mean marker is missing")
        XCTAssertGreaterThan(count(of: [230, 110, 20], in: plot), 54 + 40, "the test-loss marker is missing")
    }

    func testTrainFromPNGDirectoryAndIDXWithHeldOutTestSet() throws {
        let f = try CLIFixture.get()
        let r = try CLI.run(["train", "--preset", "dense", "--data", "png", "--epochs", "1", "--out", "png.aecv",
                             "--plot", "plots/png-loss.png"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        // 8 images: too few to hold any out.
        XCTAssertTrue(r.stdout.contains("on 8 images of png"), r.stdout)
        XCTAssertTrue(r.stdout.contains("no test set"), r.stdout)
        XCTAssertNoThrow(try PNG.read(path: f.path("plots/png-loss.png")))

        let idx = try CLI.run(["train", "--preset", "dense", "--data", "test.idx", "--epochs", "1",
                               "--out", "idx.aecv"], in: f.directory)
        XCTAssertEqual(idx.status, 0, idx.stderr)
        XCTAssertTrue(idx.stdout.contains("on 58 images of test.idx"), idx.stdout)
        XCTAssertTrue(idx.stdout.contains("test: 6 images of the last 6 images of test.idx (held out)"), idx.stdout)
    }

    /// A directory of RGB PNGs makes a 3-channel model; its pictures are RGB, and grey PNGs fed
    /// to it are converted.
    func testRGBPNGDirectory() throws {
        let f = try CLIFixture.get()
        let dir = f.path("rgb")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var random = RandomSource(seed: 9)
        for i in 0..<24 {
            let pixels = (0..<(8 * 6 * 3)).map { _ in UInt8(random.next() % 256) }
            try PNG.write(RasterImage(width: 8, height: 6, channels: 3, pixels: pixels), to: dir + "/c\(i).png")
        }
        let r = try CLI.run(["train", "--preset", "dense", "--data", "rgb", "--epochs", "1", "--out", "rgb.aecv"],
                            in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let model = try Autoencoder(contentsOf: f.path("rgb.aecv"))
        XCTAssertEqual(model.inputShape, [3, 6, 8])
        let grid = try CLI.run(["reconstruct", "rgb.aecv", "--data", "rgb", "--limit", "4", "--scale", "1",
                                "--out", "rgb-grid.png"], in: f.directory)
        XCTAssertEqual(grid.status, 0, grid.stderr)
        let image = try PNG.read(path: f.path("rgb-grid.png"))
        XCTAssertEqual([image.width, image.height, image.channels], [2 + 4 * 10, 2 + 2 * 8, 3])
        // The first original, RGB, in the top-left tile.
        let first = try PNG.read(path: dir + "/c0.png")
        XCTAssertEqual(Array(image.pixels[((2 * image.width) + 2) * 3..<((2 * image.width) + 2) * 3 + 3]),
                       Array(first.pixels[0..<3]))
        // A grey image of the right size goes through the RGB model (replicated channels).
        try PNG.write(RasterImage(width: 8, height: 6, fill: [128]), to: f.path("grey8x6.png"))
        let d = try CLI.run(["denoise", "rgb.aecv", "--in", "grey8x6.png", "--out", "rgb-out.png"], in: f.directory)
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertEqual(try PNG.read(path: f.path("rgb-out.png")).channels, 3)
        // A grey model refuses RGB data of another size with the shapes in the message.
        let bad = try CLI.run(["eval", "conv.aecv", "--data", "rgb"], in: f.directory)
        assertOneLineError(bad, contains: "conv.aecv was trained on 1×28×28 images, but rgb has 1×6×8 images")
    }

    func testFashionMNISTLimitAndSplit() throws {
        let f = try CLIFixture.get()
        let r = try CLI.run(["eval", "conv.aecv", "--data", "fashion-mnist", "--limit", "64"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("on 64 images of fashion-mnist test"), r.stdout)
        let train = try CLI.run(["eval", "conv.aecv", "--data", "fashion-mnist", "--split", "train", "--limit", "3"],
                                in: f.directory)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("on 3 images of fashion-mnist train"), train.stdout)
    }

    /// One epoch, then --resume to two, gives exactly the parameters of two epochs in one run:
    /// the model file carries the optimizer state and generator, and the data order depends only
    /// on (seed, epoch).
    func testResumeContinuesExactlyWhereTrainingStopped() throws {
        let f = try CLIFixture.get()
        try FileManager.default.copyItem(atPath: f.convModel, toPath: f.path("resumed.aecv"))
        let resumed = try CLI.run(["train", "--resume", "resumed.aecv", "--data", "train.npy", "--test-data", "test.npy",
                                   "--epochs", "2", "--batch-size", "32"], in: f.directory)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming a conv autoencoder"), resumed.stdout)
        XCTAssertFalse(resumed.stdout.contains("epoch 1/2"), "epoch 1 was done already: \(resumed.stdout)")
        XCTAssertTrue(resumed.stdout.contains("epoch 2/2: train loss"), resumed.stdout)
        let straight = try CLI.run(["train", "--preset", "conv", "--data", "train.npy", "--test-data", "test.npy",
                                    "--epochs", "2", "--batch-size", "32", "--out", "straight.aecv"], in: f.directory)
        XCTAssertEqual(straight.status, 0, straight.stderr)

        let a = try Autoencoder(contentsOf: f.path("resumed.aecv"))
        let b = try Autoencoder(contentsOf: f.path("straight.aecv"))
        XCTAssertEqual(a.history, b.history)
        XCTAssertEqual(a.step, 16)
        XCTAssertEqual(b.step, 16)
        for (p, q) in zip(a.parameters(), b.parameters()) {
            XCTAssertEqual(p.name, q.name)
            XCTAssertEqual(p.tensor.values, q.tensor.values, "parameter \(p.name) differs after resume")
        }
        // Already complete: nothing to do, the file is left as it is.
        let again = try CLI.run(["train", "--resume", "resumed.aecv", "--data", "train.npy", "--epochs", "2"],
                                in: f.directory)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("already trained for 2 epochs"), again.stdout)
    }

    /// Ctrl-C: the running training saves a loadable checkpoint and exits with status 130.
    func testInterruptSavesACheckpointAndExitsCleanly() throws {
        let f = try CLIFixture.get()
        let model = f.path("interrupted.aecv")
        let running = try CLI.start(["train", "--preset", "conv", "--data", "train.npy", "--test-data", "test.npy",
                                     "--epochs", "100000", "--batch-size", "8", "--out", "interrupted.aecv"],
                                    in: f.directory)
        // Wait for the first checkpoint, so the signal arrives in the middle of training.
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: model) && running.process.isRunning && Date() < deadline {
            usleep(20_000)
        }
        XCTAssertTrue(running.process.isRunning, "training ended early: \(running.stdoutSoFar)")
        usleep(100_000)
        running.process.interrupt()  // SIGINT
        let stop = Date().addingTimeInterval(30)
        while running.process.isRunning && Date() < stop { usleep(20_000) }
        if running.process.isRunning {
            running.process.terminate()
            XCTFail("aecv train did not stop after SIGINT")
            return
        }
        let r = running.finish()
        XCTAssertFalse(r.signalled, "killed by the signal instead of handling it: \(r.stderr)")
        XCTAssertEqual(r.status, 130, r.stderr)
        XCTAssertTrue(r.stdout.contains("interrupted "), r.stdout)
        XCTAssertTrue(r.stdout.contains("saved interrupted.aecv"), r.stdout)
        XCTAssertTrue(r.stdout.contains("aecv train --resume interrupted.aecv"), r.stdout)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        let saved = try Autoencoder(contentsOf: model)
        XCTAssertGreaterThanOrEqual(saved.history.count, 1)
        XCTAssertGreaterThan(saved.step, saved.history.count * 32 - 1, "the steps of the interrupted epoch are kept")
        // No temporary files are left behind by the atomic save.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: f.directory).filter { $0.contains(".tmp.") }
        XCTAssertEqual(leftovers, [])
    }

    // MARK: eval

    func testEvalReportsLossMSEPSNRAndSSIM() throws {
        let f = try CLIFixture.get()
        let r = try CLI.run(["eval", "conv.aecv", "--data", "test.npy"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("on 64 images of test.npy"), r.stdout)
        let model = try Autoencoder(contentsOf: f.convModel)
        let originals = f.test.floats()
        let reconstructions = try model.reconstruct(originals)
        var mse = 0.0, psnr = 0.0
        for i in 0..<64 {
            var s = 0.0
            for j in 0..<784 {
                let d = Double(reconstructions[i * 784 + j]) - Double(originals[i * 784 + j])
                s += d * d
            }
            mse += s / 784 / 64
            psnr += 10 * log10(784 / s) / 64
        }
        let loss = try model.evaluate(inputs: f.test.floats())
        let printedLoss = try XCTUnwrap(number(after: "loss ", in: r.stdout))
        let printedMSE = try XCTUnwrap(number(after: "MSE ", in: r.stdout))
        let printedPSNR = try XCTUnwrap(number(after: "PSNR ", in: r.stdout))
        let printedSSIM = try XCTUnwrap(number(after: "SSIM ", in: r.stdout))
        XCTAssertEqual(printedLoss, Double(loss), accuracy: Double(loss) * CLITolerance.printedRelative)
        XCTAssertEqual(printedMSE, mse, accuracy: mse * CLITolerance.printedRelative)
        XCTAssertEqual(printedPSNR, psnr, accuracy: 0.01)
        XCTAssertGreaterThan(printedSSIM, 0)
        XCTAssertLessThan(printedSSIM, 1)

        let noisy = try CLI.run(["eval", "conv.aecv", "--data", "test.npy", "--noise", "0.3"], in: f.directory)
        XCTAssertEqual(noisy.status, 0, noisy.stderr)
        XCTAssertTrue(noisy.stdout.contains("noisy inputs themselves"), noisy.stdout)
    }

    // MARK: reconstruct

    func testReconstructDrawsOriginalsAboveReconstructions() throws {
        let f = try CLIFixture.get()
        let r = try CLI.run(["reconstruct", "conv.aecv", "--data", "test.npy", "--limit", "12", "--columns", "6",
                             "--out", "grid.png"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let grid = try PNG.read(path: f.path("grid.png"))
        // 6 columns and 4 rows (2 groups of original + reconstruction) of 28×28 tiles at scale 2.
        XCTAssertEqual(grid.channels, 1)
        XCTAssertEqual(grid.width, 2 + 6 * (56 + 2))
        XCTAssertEqual(grid.height, 2 + 4 * (56 + 2) + 8)
        let model = try Autoencoder(contentsOf: f.convModel)
        let originals = Array(f.test.floats()[0..<(12 * 784)])
        let reconstructions = try model.reconstruct(originals)
        for i in 0..<12 {
            let (group, column) = (i / 6, i % 6)
            let top = gridTile(grid, row: 2 * group, column: column, tileWidth: 28, tileHeight: 28, scale: 2, groupSize: 2)
            let bottom = gridTile(grid, row: 2 * group + 1, column: column, tileWidth: 28, tileHeight: 28, scale: 2,
                                  groupSize: 2)
            XCTAssertEqual(top, RasterImage(planar: f.test.slice(i, count: 1), shape: CLIFixture.shape).pixels,
                           "original \(i)")
            let expected = RasterImage(planar: Array(reconstructions[(i * 784)..<((i + 1) * 784)]), shape: CLIFixture.shape)
            XCTAssertLessThanOrEqual(maxByteDifference(bottom, expected.pixels), CLITolerance.pixel, "reconstruction \(i)")
        }
    }

    // MARK: sample

    func testSampleDrawsTheModelsSamples() throws {
        let f = try CLIFixture.get()
        let r = try CLI.run(["sample", "vae.aecv", "-n", "10", "--seed", "3", "--columns", "5", "--scale", "1",
                             "--out", "samples.png"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let grid = try PNG.read(path: f.path("samples.png"))
        XCTAssertEqual([grid.width, grid.height, grid.channels], [2 + 5 * 30, 2 + 2 * 30, 1])
        let model = try Autoencoder(contentsOf: f.vaeModel)
        let samples = try model.sample(count: 10, seed: 3)
        for i in 0..<10 {
            let got = gridTile(grid, row: i / 5, column: i % 5, tileWidth: 28, tileHeight: 28, scale: 1)
            let expected = RasterImage(planar: Array(samples[(i * 784)..<((i + 1) * 784)]), shape: CLIFixture.shape)
            XCTAssertLessThanOrEqual(maxByteDifference(got, expected.pixels), CLITolerance.pixel, "sample \(i)")
        }
        // A model that cannot sample: a one-line error.
        let conv = try CLI.run(["sample", "conv.aecv", "--out", "never.png"], in: f.directory)
        assertOneLineError(conv, contains: "conv.aecv is a conv autoencoder, which cannot sample")
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.path("never.png")))
    }

    // MARK: interpolate

    func testInterpolateDecodesTheSegmentBetweenTwoCodes() throws {
        let f = try CLIFixture.get()
        let r = try CLI.run(["interpolate", "vae.aecv", "--data", "test.npy", "--from", "3", "--to", "7",
                             "--steps", "5", "--scale", "1", "--out", "interp.png"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let grid = try PNG.read(path: f.path("interp.png"))
        // One row: A, 5 decodings, B.
        XCTAssertEqual([grid.width, grid.height], [2 + 7 * 30, 2 + 30])
        let model = try Autoencoder(contentsOf: f.vaeModel)
        let a = f.test.slice(3, count: 1), b = f.test.slice(7, count: 1)
        XCTAssertEqual(gridTile(grid, row: 0, column: 0, tileWidth: 28, tileHeight: 28, scale: 1),
                       RasterImage(planar: a, shape: CLIFixture.shape).pixels)
        XCTAssertEqual(gridTile(grid, row: 0, column: 6, tileWidth: 28, tileHeight: 28, scale: 1),
                       RasterImage(planar: b, shape: CLIFixture.shape).pixels)
        // The decodings are decode((1 − t)·code(A) + t·code(B)) for t = 0, 1/4, … 1.
        let codes = try model.encode(a + b)
        let latent = model.latentSize
        for s in 0..<5 {
            let t = Float(s) / 4
            let z = (0..<latent).map { (1 - t) * codes[$0] + t * codes[latent + $0] }
            let expected = RasterImage(planar: try model.decode(z), shape: CLIFixture.shape)
            let got = gridTile(grid, row: 0, column: 1 + s, tileWidth: 28, tileHeight: 28, scale: 1)
            XCTAssertLessThanOrEqual(maxByteDifference(got, expected.pixels), CLITolerance.pixel, "step \(s)")
        }
        // Default: --pairs rows of consecutive pairs.
        let pairs = try CLI.run(["interpolate", "vae.aecv", "--data", "test.npy", "--pairs", "3", "--steps", "4",
                                 "--scale", "1", "--out", "pairs.png"], in: f.directory)
        XCTAssertEqual(pairs.status, 0, pairs.stderr)
        let g = try PNG.read(path: f.path("pairs.png"))
        XCTAssertEqual([g.width, g.height], [2 + 6 * 30, 2 + 3 * 30])
    }

    // MARK: encode

    func testEncodeWritesTheCodesAsNPY() throws {
        let f = try CLIFixture.get()
        let r = try CLI.run(["encode", "conv.aecv", "--data", "train.npy", "--limit", "100", "--out", "codes.npy"],
                            in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let array = try NPYArray.read(path: f.path("codes.npy"))
        let model = try Autoencoder(contentsOf: f.convModel)
        XCTAssertEqual(array.shape, [100, model.latentSize])
        guard case .float32(let values) = array.elements else { return XCTFail("not float32: \(array.elements)") }
        let expected = try model.encode(f.train.slice(0, count: 100))
        XCTAssertEqual(values.count, expected.count)
        let worst = zip(values, expected).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, CLITolerance.codes)
        // The header is what numpy writes: version 1.0, 64-byte aligned data.
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: f.path("codes.npy"))))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        XCTAssertEqual(bytes.count, 10 + headerLength + 4 * 100 * model.latentSize)
    }

    /// numpy.load reads the codes (shape, dtype and values). Optional: skipped, loudly, when
    /// python3 or numpy is missing.
    func testEncodeOutputLoadsWithNumpy() throws {
        let f = try CLIFixture.get()
        guard pythonHasNumpy() else {
            print("#### SKIPPED testEncodeOutputLoadsWithNumpy: python3 with numpy is not available")
            throw XCTSkip("python3 with numpy is not available")
        }
        // numpy writes the input too: uint8 (N, H, W), as users would.
        let script = """
            import numpy as np
            x = np.load('train.npy')[:20]
            np.save('from_numpy.npy', x)
            """
        XCTAssertEqual(try python(script, in: f.directory).status, 0)
        let r = try CLI.run(["encode", "conv.aecv", "--data", "from_numpy.npy", "--out", "numpy_codes.npy"],
                            in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let model = try Autoencoder(contentsOf: f.convModel)
        let expected = try model.encode(f.train.slice(0, count: 20))
        try (expected.map { String($0) }.joined(separator: "\n")).write(toFile: f.path("expected.txt"), atomically: true,
                                                                        encoding: .utf8)
        let check = try python("""
            import numpy as np
            z = np.load('numpy_codes.npy')
            e = np.loadtxt('expected.txt', dtype=np.float32).reshape(20, -1)
            assert z.dtype == np.float32, z.dtype
            assert z.shape == (20, \(model.latentSize)), z.shape
            err = float(np.abs(z - e).max())
            assert err <= \(CLITolerance.codes), err
            print('numpy ok', z.shape, err)
            """, in: f.directory)
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stdout.contains("numpy ok"), check.stdout + check.stderr)
    }

    // MARK: denoise

    func testDenoiseOneImageAndADirectory() throws {
        let f = try CLIFixture.get()
        let model = try Autoencoder(contentsOf: f.convModel)
        let one = try CLI.run(["denoise", "conv.aecv", "--in", "png/image2.png", "--out", "clean2.png"], in: f.directory)
        XCTAssertEqual(one.status, 0, one.stderr)
        let image = try PNG.read(path: f.path("clean2.png"))
        let input = try PNG.read(path: f.path("png/image2.png")).planarFloats(channels: 1)
        let expected = RasterImage(planar: try model.reconstruct(input), shape: CLIFixture.shape)
        XCTAssertEqual([image.width, image.height, image.channels], [28, 28, 1])
        XCTAssertLessThanOrEqual(maxByteDifference(image.pixels, expected.pixels), CLITolerance.pixel)

        let all = try CLI.run(["denoise", "conv.aecv", "--in", "png", "--out", "cleaned"], in: f.directory)
        XCTAssertEqual(all.status, 0, all.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: f.path("cleaned")).sorted()
        XCTAssertEqual(names, (0..<8).map { "image\($0).png" })
        let again = try PNG.read(path: f.path("cleaned/image2.png"))
        XCTAssertEqual(again.pixels, image.pixels)
    }

    // MARK: info

    func testInfoShowsSpecParametersAndHistory() throws {
        let f = try CLIFixture.get()
        let r = try CLI.run(["info", "conv.aecv"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let model = try Autoencoder(contentsOf: f.convModel)
        XCTAssertTrue(r.stdout.contains("conv.aecv: libaecv model, conv autoencoder"), r.stdout)
        XCTAssertTrue(r.stdout.contains("parameters   \(grouped(model.parameterCount))"), r.stdout)
        XCTAssertTrue(r.stdout.contains("input        1×28×28"), r.stdout)
        XCTAssertTrue(r.stdout.contains("code         \(model.latentSize) floats"), r.stdout)
        XCTAssertTrue(r.stdout.contains("history      1 epoch"), r.stdout)
        XCTAssertTrue(r.stdout.contains("8 steps taken"), r.stdout)
        XCTAssertTrue(r.stdout.contains(model.specJSON), r.stdout)
    }

    // MARK: errors

    func testBadInputGivesOneLineErrors() throws {
        let f = try CLIFixture.get()
        let d = f.directory
        try Data(String(repeating: "not a model ", count: 8).utf8).write(to: URL(fileURLWithPath: d + "/garbage.aecv"))
        try Data(repeating: 0x41, count: 100).write(to: URL(fileURLWithPath: d + "/text.bin"))
        // Images of another size: 14×14.
        try NPYArray(shape: [4, 14, 14], elements: .uint8([UInt8](repeating: 7, count: 4 * 196)))
            .write(to: d + "/small.npy")
        // A PNG directory whose images differ in size.
        try FileManager.default.createDirectory(atPath: d + "/mixed", withIntermediateDirectories: true)
        try PNG.write(RasterImage(width: 28, height: 28, fill: [0]), to: d + "/mixed/a.png")
        try PNG.write(RasterImage(width: 20, height: 28, fill: [0]), to: d + "/mixed/b.png")
        // A truncated PNG.
        let png = try Data(contentsOf: URL(fileURLWithPath: d + "/png/image0.png"))
        try png.prefix(png.count / 2).write(to: URL(fileURLWithPath: d + "/truncated.png"))
        // float64 .npy, which the tool does not take.
        var f64: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2), }"
        header += String(repeating: " ", count: 64 - (10 + header.utf8.count + 1) % 64) + "\n"
        f64 += [UInt8(header.utf8.count), 0] + Array(header.utf8) + [UInt8](repeating: 0, count: 32)
        try Data(f64).write(to: URL(fileURLWithPath: d + "/f64.npy"))

        // IDX files with no images, and with images of no pixels.
        try Data([0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28]).write(to: URL(fileURLWithPath: d + "/empty.idx"))
        try Data([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 28]).write(to: URL(fileURLWithPath: d + "/flat.idx"))

        let cases: [([String], String)] = [
            (["train", "--data", "empty.idx"], "empty.idx: holds no images"),
            (["eval", "conv.aecv", "--data", "flat.idx"], "flat.idx: holds no images"),
            (["info", "missing.aecv"], "missing.aecv"),
            (["info", "garbage.aecv"], "not a libaecv model file (bad magic)"),
            (["eval", "conv.aecv", "--data", "small.npy"], "conv.aecv was trained on 1×28×28 images, but small.npy has 1×14×14 images"),
            (["eval", "conv.aecv", "--data", "mixed"], "b.png is 20×28 but mixed/a.png is 28×28"),
            (["eval", "conv.aecv", "--data", "nowhere"], "nowhere: no such file or directory"),
            (["eval", "conv.aecv", "--data", "text.bin"], "text.bin: not a data file"),
            (["eval", "conv.aecv", "--data", "f64.npy"], "element type '<f8' is not supported"),
            (["denoise", "conv.aecv", "--in", "truncated.png", "--out", "x.png"], "truncated.png: "),
            (["reconstruct", "garbage.aecv", "--data", "test.npy"], "bad magic"),
            (["train", "--resume", "garbage.aecv", "--data", "test.npy"], "bad magic"),
            (["train", "--preset", "conv", "--data", "small.npy", "--resume", "conv.aecv"], "--resume takes the architecture"),
            (["train", "--resume", "conv.aecv", "--data", "small.npy"], "conv.aecv was trained on 1×28×28 images"),
            (["train", "--preset", "nonsense", "--data", "test.npy"], "unknown preset 'nonsense'"),
            (["eval", "conv.aecv"], "Missing expected argument '--data"),
        ]
        for (arguments, fragment) in cases {
            let r = try CLI.run(arguments, in: d)
            let usage = fragment.hasPrefix("--resume takes") || fragment.hasPrefix("unknown preset")
                || fragment.hasPrefix("Missing")
            assertOneLineError(r, contains: fragment, status: usage ? 64 : 1)
            if r.status == 0 { XCTFail("\(arguments) succeeded") }
        }
    }

    func testHelpAndVersion() throws {
        let f = try CLIFixture.get()
        let help = try CLI.run(["--help"], in: f.directory)
        XCTAssertEqual(help.status, 0)
        for sub in ["train", "eval", "reconstruct", "sample", "interpolate", "encode", "denoise", "info"] {
            XCTAssertTrue(help.stdout.contains("  \(sub) "), "\(sub) missing from --help")
        }
        let version = try CLI.run(["--version"], in: f.directory)
        XCTAssertEqual(version.status, 0)
        XCTAssertTrue(version.stdout.hasPrefix("libaecv "), version.stdout)
    }

    // MARK: helpers

    /// The number printed right after `label` (spaces skipped), e.g. "test loss 0.0123".
    func number(after label: String, in text: String) -> Double? {
        guard let range = text.range(of: label) else { return nil }
        let rest = text[range.upperBound...].drop { $0 == " " }
        let token = rest.prefix { "0123456789.-+e".contains($0) }
        return Double(token)
    }

    func grouped(_ n: Int) -> String { TextFormat.grouped(n) }

    func count(of colour: [UInt8], in image: RasterImage) -> Int {
        stride(from: 0, to: image.pixels.count, by: 3).filter { Array(image.pixels[$0..<($0 + 3)]) == colour }.count
    }

    func pythonHasNumpy() -> Bool {
        (try? python("import numpy", in: NSTemporaryDirectory()).status) == 0
    }

    func python(_ script: String, in directory: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
