import AECV
import AECVData
import Foundation
import XCTest

/// `aecv classify train` and `aecv classify eval`, run as processes on small real data
/// (Fashion-MNIST and the fixture's .npy files), their outputs checked against the Swift API.
final class ClassifyCommandTests: XCTestCase {
    /// The first 320 labels of Fashion-MNIST's test split: the fixture's train.npy holds its first
    /// 256 images and test.npy the next 64.
    private func fixtureLabels() throws -> [Int32] {
        try ImageDataset.fashionMNIST(train: false, limit: 320).labels
    }

    private func number(after label: String, in text: String) -> Double? {
        guard let range = text.range(of: label) else { return nil }
        let token = text[range.upperBound...].drop { $0 == " " }.prefix { "0123456789.-+e".contains($0) }
        return Double(token)
    }

    /// Accuracy of a classifier file on labelled images, through the Swift API.
    private func accuracy(_ path: String, _ data: ImageDataset) throws -> Double {
        let predicted = try Classifier(contentsOf: path).predictClasses(data.floats())
        return Double(zip(predicted, data.labels).filter { $0 == $1 }.count) / Double(data.count)
    }

    func testTrainLinearProbeOnFashionMNISTThenEval() throws {
        let f = try CLIFixture.get()
        let r = try CLI.run(["classify", "train", "--autoencoder", "conv.aecv", "--data", "fashion-mnist",
                             "--limit", "256", "--test-limit", "200", "--epochs", "2", "--batch-size", "32",
                             "--out", "probe.aecvc"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("training a linear head on the frozen conv encoder of conv.aecv"), r.stdout)
        XCTAssertTrue(r.stdout.contains("(1024 features, 10 classes"), r.stdout)
        XCTAssertTrue(r.stdout.contains("on 256 images of fashion-mnist train"), r.stdout)
        XCTAssertTrue(r.stdout.contains("test: 200 images of fashion-mnist test"), r.stdout)
        XCTAssertTrue(r.stdout.contains("epoch 1/2: train loss "), r.stdout)
        XCTAssertTrue(r.stdout.contains("epoch 2/2 (batch 128): train loss "), r.stdout)  // annealed
        XCTAssertTrue(r.stdout.contains("saved probe.aecvc"), r.stdout)

        let classifier = try Classifier(contentsOf: f.path("probe.aecvc"))
        XCTAssertEqual(classifier.classes, 10)
        XCTAssertTrue(classifier.spec.freezeEncoder)
        XCTAssertEqual(classifier.spec.hidden, [])
        XCTAssertEqual(classifier.autoencoderSpec.preset, .conv)
        // The printed test accuracy (after the last epoch) is the saved classifier's.
        let test = try ImageDataset.fashionMNIST(train: false, limit: 200)
        let expected = try accuracy(f.path("probe.aecvc"), test)
        let lastEpoch = r.stdout.components(separatedBy: "epoch 2/2").last ?? ""
        XCTAssertEqual(try XCTUnwrap(number(after: "test accuracy ", in: lastEpoch)), expected, accuracy: 1e-4)

        // eval: accuracy, a confusion matrix whose rows hold the true classes, the PNG next to it.
        let e = try CLI.run(["classify", "eval", "probe.aecvc", "--data", "fashion-mnist", "--limit", "200"],
                            in: f.directory)
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.contains("on 200 images of fashion-mnist test"), e.stdout)
        XCTAssertEqual(try XCTUnwrap(number(after: "accuracy ", in: e.stdout)), expected, accuracy: 1e-4)
        XCTAssertTrue(e.stdout.contains("confusion matrix (rows: true class, columns: predicted)"), e.stdout)
        XCTAssertTrue(e.stdout.contains("ankle boot"), e.stdout)
        let predicted = try classifier.predictClasses(test.floats())
        var counts = Array(repeating: Array(repeating: 0, count: 10), count: 10)
        for (p, t) in zip(predicted, test.labels) { counts[Int(t)][Int(p)] += 1 }
        // Row 1 (trouser): its counts as printed.
        let trouser = try XCTUnwrap(e.stdout.split(separator: "\n").first { $0.contains(" trouser ") })
        let printed = trouser.split(separator: " ").compactMap { Int($0) }.dropFirst()  // drop the class number
        XCTAssertEqual(Array(printed.prefix(10)), counts[1], String(trouser))
        XCTAssertTrue(e.stdout.contains("confusion matrix picture: probe.confusion.png"), e.stdout)
        let png = try PNG.read(path: f.path("probe.confusion.png"))
        XCTAssertEqual(png.channels, 3)
        XCTAssertGreaterThan(png.width, 400)
        XCTAssertGreaterThan(png.height, 400)
        // The correct-class cells are shaded: some pixels are the matrix's blue end or near it.
        XCTAssertTrue(stride(from: 0, to: png.pixels.count, by: 3).contains { Int(png.pixels[$0 + 2]) > Int(png.pixels[$0]) + 100 })

        let custom = try CLI.run(["classify", "eval", "probe.aecvc", "--data", "fashion-mnist", "--split", "train",
                                  "--limit", "50", "--confusion-png", "plots/cm.png"], in: f.directory)
        XCTAssertEqual(custom.status, 0, custom.stderr)
        XCTAssertTrue(custom.stdout.contains("on 50 images of fashion-mnist train"), custom.stdout)
        XCTAssertNoThrow(try PNG.read(path: f.path("plots/cm.png")))
    }

    /// Fine-tuning with an MLP head on .npy images with --labels; the autoencoder file is unchanged.
    func testFineTuneWithLabelsFileAndMLPHead() throws {
        let f = try CLIFixture.get()
        let labels = try fixtureLabels()
        try NPYArray(shape: [256], elements: .uint8(labels[0..<256].map { UInt8($0) })).write(to: f.path("train-labels.npy"))
        try NPYArray(shape: [64], float32: labels[256..<320].map { Float($0) }).write(to: f.path("test-labels.npy"))
        let before = try Data(contentsOf: URL(fileURLWithPath: f.convModel))
        let r = try CLI.run(["classify", "train", "--autoencoder", "conv.aecv", "--data", "train.npy",
                             "--labels", "train-labels.npy", "--test-data", "test.npy", "--test-labels", "test-labels.npy",
                             "--finetune", "--hidden", "32", "--encoder-lr", "0.0005", "--epochs", "1",
                             "--batch-size", "32", "--seed", "3", "--out", "ft.aecvc"], in: f.directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("training an MLP head (32) on the fine-tuned conv encoder"), r.stdout)
        XCTAssertTrue(r.stdout.contains("test: 64 images of test.npy"), r.stdout)
        let classifier = try Classifier(contentsOf: f.path("ft.aecvc"))
        XCTAssertFalse(classifier.spec.freezeEncoder)
        XCTAssertEqual(classifier.spec.hidden, [32])
        XCTAssertEqual(classifier.spec.encoderLearningRate, 0.0005)
        XCTAssertEqual(classifier.spec.seed, 3)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: f.convModel)), before, "the autoencoder file changed")
        let test = ImageDataset(images: f.test.floats(), labels: Array(labels[256..<320]), shape: CLIFixture.shape)
        let expected = try accuracy(f.path("ft.aecvc"), test)
        XCTAssertEqual(try XCTUnwrap(number(after: "test accuracy ", in: r.stdout)), expected, accuracy: 1e-4)

        let e = try CLI.run(["classify", "eval", "ft.aecvc", "--data", "test.npy", "--labels", "test-labels.npy"],
                            in: f.directory)
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertEqual(try XCTUnwrap(number(after: "accuracy ", in: e.stdout)), expected, accuracy: 1e-4)
        XCTAssertNoThrow(try PNG.read(path: f.path("ft.confusion.png")))
    }

    func testErrorsAreOneLine() throws {
        let f = try CLIFixture.get()
        let noLabels = try CLI.run(["classify", "train", "--autoencoder", "conv.aecv", "--data", "train.npy",
                                    "--epochs", "1", "--out", "x.aecvc"], in: f.directory)
        assertOneLineError(noLabels, contains: "train.npy has no labels; give --labels")
        let tooFew = try CLI.run(["classify", "train", "--autoencoder", "conv.aecv", "--data", "fashion-mnist",
                                  "--limit", "64", "--classes", "3", "--epochs", "1", "--out", "x.aecvc"], in: f.directory)
        assertOneLineError(tooFew, contains: "is outside 0...2 (the classifier has 3 classes)")
        let notClassifier = try CLI.run(["classify", "eval", "conv.aecv", "--data", "fashion-mnist", "--limit", "8"],
                                        in: f.directory)
        assertOneLineError(notClassifier, contains: "conv.aecv")
        let missingModel = try CLI.run(["classify", "train", "--autoencoder", "missing.aecv", "--data", "fashion-mnist",
                                        "--limit", "8"], in: f.directory)
        assertOneLineError(missingModel, contains: "missing.aecv")
        let usage = try CLI.run(["classify", "train", "--autoencoder", "conv.aecv", "--data", "fashion-mnist",
                                 "--encoder-lr", "0.001"], in: f.directory)
        assertOneLineError(usage, contains: "--encoder-lr applies only with --finetune", status: 64)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.path("x.aecvc")))
    }
}
