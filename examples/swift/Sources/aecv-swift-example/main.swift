// The README's Swift example as a program: a dense autoencoder on synthetic 28x28 images (a
// bright horizontal bar at a random row), trained, encoded, decoded, saved and reloaded.
// It exits non-zero unless training lowers the loss, the reloaded model gives bit-identical
// codes, and sampling from a non-generative model is refused with AECV_ERR_UNSUPPORTED's code.
import AECV
import Foundation

func loadImages(count: Int = 64) -> [Float] {
    var generator = SystemRandomNumberGenerator()
    var images = [Float](repeating: 0, count: count * 784)
    for i in 0..<count {
        let row = Int.random(in: 0..<28, using: &generator)
        for x in 0..<28 { images[i * 784 + row * 28 + x] = 1 }
    }
    return images
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("aecv-swift-example: \(message)\n".utf8))
    exit(1)
}

do {
    let model = try Autoencoder(specJSON: #"{"preset": "dense", "input": [1, 28, 28], "latent": 32}"#)
    let images: [Float] = loadImages()                  // whole examples, NCHW, one after another
    let before = try model.evaluate(inputs: images)
    for _ in 0..<100 { try model.trainStep(inputs: images) }
    let after = try model.evaluate(inputs: images)
    let codes = try model.encode(images)                // batch × 32
    let again = try model.decode(codes)
    let path = NSTemporaryDirectory() + "aecv-swift-example-\(getpid()).aecv"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try model.save(to: path)
    let loaded = try Autoencoder(contentsOf: path)      // bit-identical outputs
    print("loss \(before) -> \(after) after 100 steps; codes \(codes.count / 64) per image")
    guard after < 0.5 * before else { fail("training did not halve the loss") }
    guard codes.count == 64 * 32, again.count == images.count else { fail("wrong output sizes") }
    guard try loaded.encode(images) == codes else { fail("the reloaded model encodes differently") }
    do {
        _ = try model.sample(count: 1, seed: 0)
        fail("a dense model sampled")
    } catch let error as AECVError {
        print(error.statusCode, error.message)          // 8, "sample: a dense model is not generative ..."
        guard error.statusCode == 8 else { fail("expected status 8 (unsupported)") }
    }
} catch {
    fail("\(error)")
}
