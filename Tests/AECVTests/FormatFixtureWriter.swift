import XCTest
import AECV

/// Writes the format-1.0 fixtures (model, classifier and detector files of commit 529c846 and
/// the outputs they gave) when AECV_WRITE_FORMAT_FIXTURES=1. Kept so the next format change can
/// write its own; running it with newer code would only write newer files.
final class FormatFixtureWriter: XCTestCase {
    static let specs: [(String, String)] = [
        ("conv", #"{"preset":"conv","input":[1,12,12],"hidden":[4,8],"seed":1}"#),
        ("dense", #"{"preset":"dense","input":[1,8,8],"hidden":[16],"latent":4,"seed":2}"#),
        ("sparse_kl", #"{"preset":"sparse","input":[1,8,8],"hidden":[12],"latent":5,"sparsity":{"kl":{"rho":0.1,"beta":2}},"seed":3}"#),
        ("denoising", #"{"preset":"denoising","input":[1,12,12],"hidden":[4,6],"noise":{"masking":0.2},"seed":4}"#),
        ("vae", #"{"preset":"vae","input":[1,8,8],"hidden":[16],"latent":3,"seed":5}"#),
        ("conv_vae", #"{"preset":"conv_vae","input":[1,12,12],"hidden":[4,6],"latent":3,"seed":6}"#),
        ("custom", #"{"preset":"custom","input":[1,8,8],"seed":7,"optimizer":{"name":"sgd","learning_rate":0.05,"momentum":0.9},"encoder":[{"type":"conv2d","out":3,"kernel":3,"stride":2,"padding":1},{"type":"leaky_relu","slope":0.2},{"type":"flatten"},{"type":"dense","out":6},{"type":"tanh"}],"decoder":[{"type":"dense","out":48},{"type":"relu"},{"type":"unflatten","shape":[3,4,4]},{"type":"conv_transpose2d","out":1,"kernel":3,"stride":2,"padding":1,"output_padding":1},{"type":"sigmoid"}]}"#),
    ]

    static func images(_ count: Int, _ size: Int, seed: Int) -> [Float] {
        (0..<(count * size)).map { i in Float((i * 7919 + seed * 104729) % 1000) / 1000 }
    }

    func testWriteFormatFixtures() throws {
        guard let flag = getenv("AECV_WRITE_FORMAT_FIXTURES"), String(cString: flag) == "1" else {
            throw XCTSkip("set AECV_WRITE_FORMAT_FIXTURES=1 to write Fixtures/format-1.0 (only with the code that defines that format)")
        }
        let dir = Fixture.directory + "/format-1.0"
        for (name, json) in Self.specs {
            let m = try Autoencoder(specJSON: json)
            let x = Self.images(5, m.inputSize, seed: 1)
            for _ in 0..<3 { try m.trainStep(inputs: x) }
            try m.save(to: "\(dir)/\(name).aecv")
            let probe = Self.images(2, m.inputSize, seed: 2)
            var out = try m.reconstruct(probe) + m.encode(probe)
            if m.isGenerative { out += try m.sample(count: 2, seed: 9) }
            out += [try m.evaluate(inputs: probe)]
            try write(out, "\(dir)/\(name).expected.f32")
        }
        let base = try Autoencoder(specJSON: #"{"preset":"conv","input":[1,12,12],"hidden":[4,8],"seed":1}"#)
        let c = try Classifier(autoencoder: base, specJSON: #"{"classes":3,"hidden":[5],"freeze_encoder":false,"seed":2}"#)
        let cx = Self.images(6, 144, seed: 3)
        for _ in 0..<3 { try c.trainStep(inputs: cx, labels: [0, 1, 2, 0, 1, 2]) }
        try c.save(to: "\(dir)/classifier.aecvc")
        try write(try c.predict(Self.images(2, 144, seed: 4)), "\(dir)/classifier.expected.f32")

        var spec = DetectorSpec(classes: 3, input: [1, 16, 16])
        spec.backbone = [4, 6]; spec.headChannels = 5; spec.anchor = 6; spec.seed = 3
        let d = try Detector(spec: spec)
        let dx = Self.images(2, 256, seed: 5)
        let boxes: [Float] = [0, 1, 1, 8, 8, 2, 4, 4, 14, 12]
        for _ in 0..<3 {
            _ = try dx.withUnsafeBufferPointer { i in try boxes.withUnsafeBufferPointer { b in
                try d.trainStep(images: i, boxes: b, maxBoxes: 1, batch: 2) } }
        }
        try d.save(to: "\(dir)/detector.aecvd")
        let found = try dx.withUnsafeBufferPointer { try d.detect(images: $0, batch: 2, scoreThreshold: 0, iouThreshold: 0.5) }
        var flat: [Float] = []
        for image in found { for b in image.prefix(4) { flat += [Float(b.classIndex), b.score, b.xMin, b.yMin, b.xMax, b.yMax] } }
        try write(flat, "\(dir)/detector.expected.f32")
    }

    private func write(_ values: [Float], _ path: String) throws {
        let bytes = values.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) }
        try FileIO.writeAtomically(path: path, bytes: bytes)
    }
}
