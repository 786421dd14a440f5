import AECV
import AECVData
import Foundation
import XCTest

/// Image folders (torchvision's order and class labels), the streaming loader, and
/// `aecv train --data DIR --size N [--stream]` on a folder of JPEGs and PNGs of mixed sizes.
final class ImageFolderTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "aecv-folder-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func copyFixture(_ name: String, to relative: String) throws {
        let target = directory + "/" + relative
        try FileManager.default.createDirectory(atPath: Directory.parentOf(target), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: ImageDecodeTests.fixtures + "/" + name, toPath: target)
    }

    /// A tree of 2 classes with nested folders, JPEG and PNG of different sizes and channels.
    func makeTree() throws -> [String] {
        let layout = [
            ("jpeg_baseline.jpg", "tree/dogs/b.jpg"), ("jpeg_grey.jpg", "tree/dogs/a.JPEG"),
            ("png_rgb16_adam7.png", "tree/dogs/sub/z.png"), ("png_palette8.png", "tree/dogs/sub2/a.png"),
            ("jpeg_orientation6.jpg", "tree/cats/x.jpg"), ("resize_src_rgb.png", "tree/cats/Y.png"),
            ("png_grey16.png", "tree/cats/deep/er/q.png"),
        ]
        for (from, to) in layout { try copyFixture(from, to: to) }
        try "not an image".write(toFile: directory + "/tree/cats/notes.txt", atomically: true, encoding: .utf8)
        // torchvision: classes sorted; per class sorted(os.walk) then sorted file names.
        return ["tree/cats/Y.png", "tree/cats/x.jpg", "tree/cats/deep/er/q.png",
                "tree/dogs/a.JPEG", "tree/dogs/b.jpg", "tree/dogs/sub/z.png", "tree/dogs/sub2/a.png"]
            .map { directory + "/" + $0 }
    }

    func testFolderOrderAndClassesAsTorchvision() throws {
        let expected = try makeTree()
        let plain = try ImageFolder(path: directory + "/tree")
        XCTAssertEqual(plain.files, expected)  // root's own files first, then cats/…, dogs/…
        XCTAssertTrue(plain.labels.isEmpty)
        let classed = try ImageFolder(path: directory + "/tree", classFolders: true)
        XCTAssertEqual(classed.classes, ["cats", "dogs"])
        XCTAssertEqual(classed.files, expected)
        XCTAssertEqual(classed.labels, [0, 0, 0, 1, 1, 1, 1])
        XCTAssertThrowsError(try ImageFolder(path: directory + "/tree/cats/deep/nothing"))
    }

    /// Every image prepared to 3×16×16, in memory and streamed (several workers, a queue of
    /// one) give the same floats in the same order.
    func testStreamGivesTheSameBatchesAsLoadingEverything() throws {
        let files = try makeTree()
        let prep = ImagePreprocessing(channels: 3, resize: .shorterSideThenCentreCrop(16))
        let all = try ImageDataset.imageFiles(files, preprocessing: prep).dataset
        XCTAssertEqual(all.shape, [3, 16, 16])
        let order = [6, 2, 0, 5, 1, 3, 4]
        for workers in [1, 3] {
            let stream = try BatchStream(files: files, order: order, preprocessing: prep, batchSize: 3,
                                         workers: workers, capacity: 1)
            var seen: [Float] = []
            var counts: [Int] = []
            while let batch = try stream.next() { seen += batch.images; counts.append(batch.count) }
            XCTAssertEqual(counts, [3, 3, 1])
            XCTAssertEqual(seen, order.flatMap { all.slice($0, count: 1) }, "workers \(workers)")
        }
        // Grey, exact size.
        let grey = ImagePreprocessing(channels: 1, resize: .exact(width: 12, height: 5))
        let g = try ImageDataset.imageFiles(files, preprocessing: grey).dataset
        XCTAssertEqual(g.shape, [1, 5, 12])
        XCTAssertEqual(g.count, files.count)
    }

    func testStreamBadFilesStopOrAreSkipped() throws {
        var files = try makeTree()
        let bad = directory + "/tree/cats/bad.jpg"
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 16]).write(to: URL(fileURLWithPath: bad))
        files.insert(bad, at: 2)
        let prep = ImagePreprocessing(channels: 3, resize: .shorterSideThenCentreCrop(8))
        let stream = try BatchStream(files: files, order: Array(0..<files.count), preprocessing: prep, batchSize: 2)
        XCTAssertNotNil(try stream.next())
        XCTAssertThrowsError(try stream.next()) { XCTAssertTrue("\($0)".contains("bad.jpg"), "\($0)") }
        let skipping = try BatchStream(files: files, order: Array(0..<files.count), preprocessing: prep,
                                       batchSize: 2, workers: 2, skipBad: true)
        var total = 0
        while let b = try skipping.next() { total += b.count }
        XCTAssertEqual(skipping.skipped.count, 1)
        XCTAssertTrue(skipping.skipped.first?.contains("bad.jpg") ?? false)
        XCTAssertEqual(total, files.count - 1)  // the bad file is left out
        // Cancelling with batches pending returns (no hang), and loading in memory refuses it.
        let early = try BatchStream(files: files, order: Array(0..<files.count), preprocessing: prep, batchSize: 1)
        _ = try early.next()
        early.cancel()
        XCTAssertThrowsError(try ImageDataset.imageFiles(files, preprocessing: prep))
        XCTAssertEqual(try ImageDataset.imageFiles(files, preprocessing: prep, skipBad: true).skipped, 1)
    }

    /// Mixed sizes without --size are refused with a message that names both files and --size.
    func testMixedSizesNeedASize() throws {
        let files = try makeTree()
        XCTAssertThrowsError(try ImageDataset.imageFiles(files, preprocessing: ImagePreprocessing(channels: 3, resize: .none))) {
            XCTAssertTrue("\($0)".contains("--size"), "\($0)")
        }
    }

    /// The CLI trains on the folder in memory and streamed; the first epoch's order and images
    /// are the same, so the losses printed are the same.
    func testTrainOnAFolderInMemoryAndStreamed() throws {
        _ = try makeTree()
        for i in 0..<14 {  // 21 images: enough for a held-out tail
            try copyFixture(i % 2 == 0 ? "jpeg_progressive.jpg" : "jpeg_orientation\(1 + i % 8).jpg", to: "tree/more/\(i).jpg")
        }
        let common = ["train", "--data", "tree", "--size", "16", "--rgb", "--epochs", "1", "--batch-size", "4", "--threads", "1"]
        let memory = try CLI.run(common + ["--out", "m.aecv"], in: directory)
        XCTAssertEqual(memory.status, 0, memory.stderr)
        let streamed = try CLI.run(common + ["--out", "s.aecv", "--stream", "--decode-threads", "2"], in: directory)
        XCTAssertEqual(streamed.status, 0, streamed.stderr)
        func epochLine(_ s: String) -> String? { s.split(separator: "\n").first { $0.hasPrefix("epoch 1/1") }.map(String.init) }
        let m = try XCTUnwrap(epochLine(memory.stdout)), s = try XCTUnwrap(epochLine(streamed.stdout))
        XCTAssertTrue(m.contains("input 3×16×16") || memory.stdout.contains("input 3×16×16"), memory.stdout)
        // "train loss X, test loss Y": identical numbers.
        XCTAssertEqual(m.split(separator: ",").prefix(2), s.split(separator: ",").prefix(2))
        let eval = try CLI.run(["eval", "s.aecv", "--data", "tree", "--size", "16"], in: directory)
        XCTAssertEqual(eval.status, 0, eval.stderr)

        try "text".write(toFile: directory + "/tree/cats/broken.jpg", atomically: true, encoding: .utf8)
        let failed = try CLI.run(common + ["--out", "f.aecv"], in: directory)
        assertOneLineError(failed, contains: "broken.jpg")
        let skipped = try CLI.run(common + ["--out", "f.aecv", "--skip-bad"], in: directory)
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("skipped 1 unreadable image"), skipped.stderr)
        let noSize = try CLI.run(["train", "--data", "tree", "--epochs", "1", "--out", "n.aecv", "--skip-bad"], in: directory)
        assertOneLineError(noSize, contains: "--size")
        // Distributed ranks each stream their shard of every global batch, so none may drop a
        // file (the ranks would disagree on the batch): --skip-bad is refused there.
        let distributed = try CLI.run(common + ["--out", "d.aecv", "--stream", "--distributed", "--skip-bad"], in: directory)
        assertOneLineError(distributed, contains: "--skip-bad cannot be combined with --stream --distributed", status: 64)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/d.aecv"))
    }

    /// --patch: the model's input is the patch; each example's crop depends only on (seed,
    /// epoch, example), so in memory and streamed train on the same crops (same losses, both
    /// epochs); the test loss uses centred crops; a different seed crops differently.
    func testTrainOnPatches() throws {
        _ = try makeTree()
        for i in 0..<14 {
            try copyFixture(i % 2 == 0 ? "jpeg_progressive.jpg" : "jpeg_orientation\(1 + i % 8).jpg", to: "tree/more/\(i).jpg")
        }
        let base = ["train", "--data", "tree", "--size", "32", "--rgb", "--epochs", "2", "--batch-size", "4", "--threads", "1"]
        let common = base + ["--patch", "16"]
        let memory = try CLI.run(common + ["--out", "m.aecv"], in: directory)
        XCTAssertEqual(memory.status, 0, memory.stderr)
        XCTAssertTrue(memory.stdout.contains("input 3×16×16") && memory.stdout.contains("a random 16×16 crop of each per epoch"), memory.stdout)
        XCTAssertTrue(memory.stdout.contains("centred 16×16 crops"), memory.stdout)
        let streamed = try CLI.run(common + ["--out", "s.aecv", "--stream", "--decode-threads", "2"], in: directory)
        XCTAssertEqual(streamed.status, 0, streamed.stderr)
        func epochLines(_ s: String) -> [String] {
            s.split(separator: "\n").filter { $0.hasPrefix("epoch ") && $0.contains("loss") }
                .map { $0.split(separator: ",").prefix(2).joined(separator: ",") }
        }
        XCTAssertEqual(epochLines(memory.stdout).count, 2, memory.stdout)
        XCTAssertEqual(epochLines(memory.stdout), epochLines(streamed.stdout))
        let reseeded = try CLI.run(common + ["--out", "r.aecv", "--seed", "5"], in: directory)
        XCTAssertNotEqual(epochLines(reseeded.stdout), epochLines(memory.stdout))
        // Resuming with another patch size, a patch larger than the images, no --size: one line each.
        let other = try CLI.run(["train", "--resume", "m.aecv", "--data", "tree", "--size", "32", "--patch", "8", "--rgb", "--epochs", "3"], in: directory)
        assertOneLineError(other, contains: "m.aecv was trained on 3×16×16 images, but --patch 8 gives 3×8×8 patches")
        let large = try CLI.run(base + ["--out", "l.aecv", "--patch", "40"], in: directory)
        assertOneLineError(large, contains: "--patch must be in 1...--size (32), got 40", status: 64)
        let noSize = try CLI.run(["train", "--data", "tree", "--patch", "16", "--out", "n.aecv"], in: directory)
        assertOneLineError(noSize, contains: "--patch needs --size S", status: 64)
    }

    /// `aecv classify` on an image folder without --labels: the class subfolders are the labels
    /// (torchvision's ImageFolder order), the names label the confusion matrix, and a test or
    /// evaluation folder with other classes is refused instead of shifting the labels.
    func testClassifyTakesLabelsFromClassFolders() throws {
        _ = try makeTree()
        for i in 0..<6 { try copyFixture("jpeg_orientation\(1 + i).jpg", to: "tree/\(i % 2 == 0 ? "cats" : "dogs")/more\(i).jpg") }
        let ae = try CLI.run(["train", "--data", "tree", "--size", "16", "--rgb", "--epochs", "1", "--batch-size", "4",
                              "--threads", "1", "--out", "ae.aecv"], in: directory)
        XCTAssertEqual(ae.status, 0, ae.stderr)
        let train = try CLI.run(["classify", "train", "--autoencoder", "ae.aecv", "--data", "tree", "--size", "16",
                                 "--test-data", "tree", "--epochs", "2", "--batch-size", "4", "--out", "c.aecvc"], in: directory)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("2 classes from the subfolders of tree: cats, dogs"), train.stdout)
        let classifier = try Classifier(contentsOf: directory + "/c.aecvc")
        XCTAssertEqual(classifier.classes, 2)
        let eval = try CLI.run(["classify", "eval", "c.aecvc", "--data", "tree", "--size", "16"], in: directory)
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertTrue(eval.stdout.contains("on 13 images of tree"), eval.stdout)   // 7 + 6, cats 6, dogs 7
        XCTAssertTrue(eval.stdout.contains(" cats ") && eval.stdout.contains(" dogs "), eval.stdout)
        // Another class: the labels would shift, so both commands refuse.
        try copyFixture("jpeg_baseline.jpg", to: "other/ants/a.jpg")
        try copyFixture("jpeg_grey.jpg", to: "other/cats/b.jpg")
        try copyFixture("jpeg_progressive.jpg", to: "other/dogs/c.jpg")
        let wrong = try CLI.run(["classify", "eval", "c.aecvc", "--data", "other", "--size", "16"], in: directory)
        assertOneLineError(wrong, contains: "other has 3 class subfolders (ants, cats, dogs), but c.aecvc has 2 classes")
        try FileManager.default.removeItem(atPath: directory + "/other/cats")
        let shifted = try CLI.run(["classify", "train", "--autoencoder", "ae.aecv", "--data", "tree", "--size", "16",
                                   "--test-data", "other", "--epochs", "1", "--out", "d.aecvc"], in: directory)
        assertOneLineError(shifted, contains: "other has the classes ants, dogs, but the training folder has cats, dogs")
    }

    /// `aecv images DIR`: the count, the classes, decoding at --size, unreadable files.
    func testImagesCommandChecksAFolder() throws {
        _ = try makeTree()
        let r = try CLI.run(["images", "tree", "--size", "8", "--rgb", "--classes"], in: directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("tree: 7 images in 2 classes"), r.stdout)
        XCTAssertTrue(r.stdout.contains("0  cats  3 images") && r.stdout.contains("1  dogs  4 images"), r.stdout)
        XCTAssertTrue(r.stdout.contains("decoded 7 images to 3×8×8"), r.stdout)
        try Data([0x89, 0x50, 0x4E, 0x47]).write(to: URL(fileURLWithPath: directory + "/tree/dogs/cut.png"))
        let bad = try CLI.run(["images", "tree", "--size", "8"], in: directory)
        assertOneLineError(bad, contains: "1 of 8 images are unreadable (first: ")
        XCTAssertTrue(bad.stderr.contains("cut.png"), bad.stderr)
    }
}
