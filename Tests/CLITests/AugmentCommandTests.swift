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

    /// `aecv augment MODEL --data ...` on a model without classes: latent mixup. With t fixed
    /// at 0 every image is the reconstruction of an image of its own class; with t at 1/2 it is
    /// the decoded midpoint of two different images of the class.
    func testLatentMixupOfAnUnconditionalModel() throws {
        let directory = NSTemporaryDirectory() + "aecv-mixup-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let model = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 4, 4], "hidden": [8], "latent": 3, "seed": 2}"#)
        try model.save(to: directory + "/dense.aecv")
        var random = RandomSource(seed: 4)
        let x = (0..<(9 * 16)).map { _ in random.uniform(0, 1) }
        let y: [UInt8] = [0, 1, 2, 0, 1, 2, 0, 1, 2]
        try NPYArray(shape: [9, 1, 4, 4], float32: x).write(to: directory + "/x.npy")
        try NPYArray(shape: [9], elements: .uint8(y)).write(to: directory + "/y.npy")
        let codes = try model.encode(x)

        for (t, name) in [("0", "ends"), ("0.5", "mid")] {
            let r = try CLI.run(["augment", "dense.aecv", "--data", "x.npy", "--labels", "y.npy", "--per-class", "5",
                                 "--t-min", t, "--t-max", t, "--out", "\(name).npy"], in: directory)
            XCTAssertEqual(r.status, 0, r.stderr)
            let images = try NPYArray.read(path: directory + "/\(name).npy")
            XCTAssertEqual(images.shape, [15, 1, 4, 4])
            XCTAssertEqual(try NPYArray.read(path: directory + "/\(name)_labels.npy"),
                           NPYArray(shape: [15], elements: .uint8([UInt8](repeating: 0, count: 5) + [UInt8](repeating: 1, count: 5) + [UInt8](repeating: 2, count: 5))))
            guard case .float32(let values) = images.elements else { return XCTFail("float32 images expected") }
            for i in 0..<15 {
                let c = UInt8(i / 5)
                let members = y.indices.filter { y[$0] == c }
                // the candidates: each member's code (t = 0), or each pair's midpoint (t = 1/2)
                var candidates: [[Float]] = []
                for a in members {
                    let za = Array(codes[(a * 3)..<(a * 3 + 3)])
                    if name == "ends" { candidates.append(za); continue }
                    for b in members where b != a {
                        candidates.append((0..<3).map { 0.5 * za[$0] + 0.5 * codes[b * 3 + $0] })
                    }
                }
                let decoded = try model.decode(candidates.flatMap { $0 })
                let image = Array(values[(i * 16)..<((i + 1) * 16)])
                let best = (0..<candidates.count).map { k in
                    zip(decoded[(k * 16)..<((k + 1) * 16)], image).map { abs($0 - $1) }.max()!
                }.min()!
                XCTAssertLessThan(best, 1e-5, "\(name) image \(i) of class \(c)")
            }
        }
        let one = try CLI.run(["augment", "dense.aecv", "--data", "x.npy", "--labels", "y.npy", "--limit", "4", "--out", "n.npy"], in: directory)
        assertOneLineError(one, contains: "class 1 has 1 image")
        let cvae = try Autoencoder(specJSON: #"{"preset": "cvae", "input": [1, 4, 4], "hidden": [8], "latent": 2, "classes": 3}"#)
        try cvae.save(to: directory + "/cvae.aecv")
        let refused = try CLI.run(["augment", "cvae.aecv", "--data", "x.npy", "--labels", "y.npy", "--out", "n.npy"], in: directory)
        assertOneLineError(refused, contains: "is a conditional cvae model, which samples each class")
        let badT = try CLI.run(["augment", "dense.aecv", "--data", "x.npy", "--t-min", "0.8", "--t-max", "0.2"], in: directory)
        assertOneLineError(badT, contains: "--t-min and --t-max", status: 64)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/n.npy"))
    }
}
