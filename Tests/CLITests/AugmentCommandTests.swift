import AECV
import AECVData
import XCTest

/// `aecv augment`: a cvae model file in, the per-class samples and their labels out as .npy.
final class AugmentCommandTests: XCTestCase {
    func testAugmentWritesPerClassSamplesAndLabels() throws {
        let directory = NSTemporaryDirectory() + "aecv-augment-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let model = try Autoencoder(specJSON: #"{"preset": "cvae", "input": [1, 4, 4], "hidden": [8], "latent": 2, "classes": 3, "seed": 1}"#)
        try model.trainStep(inputs: [Float](repeating: 0.5, count: 3 * 16), labels: [0, 1, 2])
        try model.save(to: directory + "/cvae.aecv")

        let r = try CLI.run(["augment", "cvae.aecv", "--per-class", "4", "--seed", "5", "--out", "syn.npy"], in: directory)
        XCTAssertEqual(r.status, 0, r.stderr)
        let images = try NPYArray.read(path: directory + "/syn.npy")
        let labels = try NPYArray.read(path: directory + "/syn_labels.npy")
        XCTAssertEqual(images.shape, [12, 1, 4, 4])
        XCTAssertEqual(labels, NPYArray(shape: [12], elements: .uint8([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])))
        guard case .float32(let values) = images.elements else { return XCTFail("float32 images expected") }
        for c in 0..<3 {
            XCTAssertEqual(Array(values[(c * 64)..<((c + 1) * 64)]), try model.sample(classIndex: c, count: 4, seed: 5 + UInt64(c)),
                           "class \(c)")
        }

        let vae = try Autoencoder(specJSON: #"{"preset": "vae", "input": [1, 4, 4], "hidden": [8], "latent": 2}"#)
        try vae.save(to: directory + "/vae.aecv")
        let refused = try CLI.run(["augment", "vae.aecv", "--out", "never.npy"], in: directory)
        assertOneLineError(refused, contains: "vae.aecv is a vae autoencoder, which has no classes")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/never.npy"))
    }
}
