import XCTest
import Foundation
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The conv preset's stage options: batch_norm, downsample (stride | max_pool), upsample
/// (transposed | nearest | bilinear); the defaults are the seed's architecture, bit for bit.
final class ConvStageOptionTests: XCTestCase {
    private func images(_ n: Int, _ size: Int) -> [Float] {
        var random = RandomSource(seed: 8)
        return (0..<(n * size)).map { _ in random.uniform() }
    }

    func testExplicitDefaultsAreTheSeedArchitecture() throws {
        let plain = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 28, 28], "seed": 1}"#)
        let explicit = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 28, 28], "seed": 1, "batch_norm": false, "downsample": "stride", "upsample": "transposed"}"#)
        XCTAssertEqual(plain.parameters().map(\.name), explicit.parameters().map(\.name))
        XCTAssertEqual(plain.parameterCount, 46529)
        let x = images(4, 784)
        for _ in 0..<2 { XCTAssertEqual(try plain.trainStep(inputs: x).bitPattern, try explicit.trainStep(inputs: x).bitPattern) }
        XCTAssertEqual(try plain.reconstruct(x).map(\.bitPattern), try explicit.reconstruct(x).map(\.bitPattern))
        XCTAssertFalse(plain.specJSON.contains("batch_norm"), "the filled spec of a default model is unchanged")
    }

    func testOptionsBuildTheDocumentedLayers() throws {
        let spec = try ModelSpec(json: #"{"preset": "conv", "input": [3, 64, 64], "hidden": [8, 16], "batch_norm": true, "downsample": "max_pool", "upsample": "bilinear"}"#)
        XCTAssertEqual(try ModelSpec(json: spec.jsonString()), spec)
        let m = try Autoencoder(spec: spec)
        XCTAssertEqual(m.latentSize, 16 * 16 * 16)
        let ae = m.network as! FeedForwardAutoencoder
        XCTAssertEqual(ae.encoder.layers.map { String(describing: type(of: $0)) },
                       ["Conv2d", "BatchNorm", "Activation", "MaxPool2d", "Conv2d", "BatchNorm", "Activation", "MaxPool2d"])
        XCTAssertEqual(ae.decoder.layers.map { String(describing: type(of: $0)) },
                       ["Upsample", "Conv2d", "BatchNorm", "Activation", "Upsample", "Conv2d", "Activation"])
        XCTAssertEqual(ae.decoder.outputShape, [3, 64, 64])
        let names = m.parameters().map(\.name)
        XCTAssertEqual(Array(names.prefix(3)), ["encoder.0.weight", "encoder.1.weight", "encoder.1.bias"], "no conv bias before a BatchNorm")
        XCTAssertTrue(names.contains("decoder.5.bias"), "the output convolution keeps its bias")
        XCTAssertEqual(m.capabilities.convBackbone, [8, 16], "a detector can rebuild these stages")
        // Every combination trains on 16×16 inputs, and the loss goes down.
        let x = images(8, 256)
        for down in ["stride", "max_pool"] {
            for up in ["transposed", "nearest", "bilinear"] {
                for bn in [false, true] {
                    let m = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 16, 16], "hidden": [4, 8], "batch_norm": \#(bn), "downsample": "\#(down)", "upsample": "\#(up)", "optimizer": {"name": "adam", "learning_rate": 0.01}}"#)
                    var losses: [Float] = []
                    for _ in 0..<15 { losses.append(try m.trainStep(inputs: x)) }
                    XCTAssertLessThan(losses.last!, losses.first!, "\(down) \(up) bn \(bn): \(losses)")
                }
            }
        }
        // The denoising preset with base conv takes them too.
        let d = try Autoencoder(specJSON: #"{"preset": "denoising", "input": [1, 16, 16], "hidden": [4], "batch_norm": true, "upsample": "nearest"}"#)
        XCTAssertTrue(d.buffers().contains { $0.name == "encoder.1.running_mean" })
    }

    /// conv_vae takes the same options: its trunk and mirrored decoder get the stages, the
    /// heads and the decoder input stay dense.
    func testConvVAETakesTheStageOptions() throws {
        let json = #"{"preset": "conv_vae", "input": [1, 16, 16], "hidden": [4, 8], "latent": 6, "batch_norm": true, "downsample": "max_pool", "upsample": "nearest", "optimizer": {"name": "adam", "learning_rate": 0.01}}"#
        let spec = try ModelSpec(json: json)
        XCTAssertEqual(try ModelSpec(json: spec.jsonString()), spec)
        let m = try Autoencoder(spec: spec)
        let vae = m.network as! VariationalAutoencoder
        XCTAssertEqual(vae.trunk.layers.map { String(describing: type(of: $0)) },
                       ["Conv2d", "BatchNorm", "Activation", "MaxPool2d", "Conv2d", "BatchNorm", "Activation", "MaxPool2d", "Reshape"])
        XCTAssertEqual(vae.decoder.layers.map { String(describing: type(of: $0)) },
                       ["Dense", "Activation", "Reshape", "Upsample", "Conv2d", "BatchNorm", "Activation", "Upsample", "Conv2d"])
        XCTAssertEqual(m.buffers().map(\.name).filter { $0.hasSuffix("running_mean") },
                       ["encoder.1.running_mean", "encoder.5.running_mean", "decoder.2.running_mean"],
                       "numbered like the parameters (decoder.1.weight is the first stage's conv)")
        XCTAssertTrue(m.parameters().contains { $0.name == "decoder.2.weight" }, "the BatchNorm's weight")
        let x = images(16, 256)
        var losses: [Float] = []
        for _ in 0..<20 { losses.append(try m.trainStep(inputs: x)) }
        XCTAssertLessThan(losses.last!, 0.98 * losses.first!, "\(losses)")
        // The defaults stay the seed's conv_vae.
        let plain = try Autoencoder(specJSON: #"{"preset": "conv_vae", "input": [1, 28, 28]}"#)
        XCTAssertTrue(plain.buffers().isEmpty)
        XCTAssertFalse(plain.specJSON.contains("batch_norm"))
    }

    /// "channels" is the conv kinds' name for the stages' channels: the same spec as "hidden".
    func testChannelsIsHiddenForTheConvKinds() throws {
        for preset in ["conv", "conv_vae", "denoising"] {
            let a = try ModelSpec(json: #"{"preset": "\#(preset)", "input": [1, 16, 16], "channels": [4, 8]}"#)
            let b = try ModelSpec(json: #"{"preset": "\#(preset)", "input": [1, 16, 16], "hidden": [4, 8]}"#)
            XCTAssertEqual(a, b, preset)
        }
        func message(_ json: String) -> String {
            do { _ = try ModelSpec(json: json); return "accepted" } catch let e as AECVError { return e.message } catch { return "\(error)" }
        }
        XCTAssertEqual(message(#"{"preset": "conv", "input": [1, 16, 16], "channels": [4], "hidden": [4]}"#),
                       #"spec.channels: give the stages' channels once ("channels" or "hidden")"#)
        XCTAssertEqual(message(#"{"preset": "dense", "input": [1, 16, 16], "channels": [4]}"#),
                       #"spec.channels: only applies to the conv, conv_vae and denoising (base conv) presets, not dense (its layer widths are "hidden")"#)
        XCTAssertTrue(message(#"{"preset": "denoising", "base": "dense", "input": [1, 16, 16], "channels": [4]}"#).contains("not denoising with base dense"))
        XCTAssertTrue(message(#"{"preset": "conv", "input": [1, 16, 16], "channels": [4, 0]}"#).hasPrefix("spec.channels[1]: expected a positive integer") ||
                      message(#"{"preset": "conv", "input": [1, 16, 16], "channels": [4, 0]}"#).contains("hidden[1]"))
    }

    /// 64 px and more: BatchNorm by default (tools/stage_options_bench.py); an explicit false
    /// keeps the seed's stages; a file written before the default changed (its spec without
    /// "batch_norm") still loads as the model it was, and a new file records the choice.
    func testBatchNormByDefaultFrom64Pixels() throws {
        let large = try Autoencoder(specJSON: #"{"preset": "conv", "input": [3, 64, 64], "channels": [4, 8]}"#)
        XCTAssertEqual(large.spec.batchNorm, true)
        XCTAssertTrue(large.specJSON.contains(#""batch_norm":true"#))
        XCTAssertEqual(large.buffers().count, 3 * 3, "two encoder and one decoder BatchNorm, 3 buffers each")
        let denoising = try Autoencoder(specJSON: #"{"preset": "denoising", "input": [1, 64, 96], "channels": [4]}"#)
        XCTAssertEqual(denoising.spec.batchNorm, true)
        for json in [#"{"preset": "conv", "input": [3, 64, 64], "channels": [4, 8], "batch_norm": false}"#,
                     #"{"preset": "conv", "input": [3, 63, 128], "channels": [4, 8]}"#,
                     #"{"preset": "conv_vae", "input": [1, 64, 64], "channels": [4]}"#] {
            XCTAssertTrue(try Autoencoder(specJSON: json).buffers().isEmpty, json)
        }
        // An old file: a 64 px conv model saved when the default was no BatchNorm.
        let old = try Autoencoder(specJSON: #"{"preset": "conv", "input": [1, 64, 64], "channels": [4, 8], "batch_norm": false}"#)
        var file = ModelFile(model: old)
        file.spec.batchNorm = nil
        let path = NSTemporaryDirectory() + "/old-64-\(getpid()).aecv"
        defer { unlink(path) }
        try file.write(path: path)
        XCTAssertFalse(String(decoding: try FileIO.readAll(path: path, maxBytes: 1 << 24), as: UTF8.self).contains("batch_norm"))
        let loaded = try Autoencoder(contentsOf: path)
        XCTAssertTrue(loaded.buffers().isEmpty)
        let x = images(2, 4096)
        XCTAssertEqual(try loaded.reconstruct(x), try old.reconstruct(x))
        // Saved again, it says so.
        try loaded.save(to: path)
        XCTAssertEqual(try Autoencoder(contentsOf: path).spec.batchNorm, false)
    }

    func testOptionErrors() {
        func message(_ json: String) -> String {
            do { _ = try Autoencoder(specJSON: json); return "accepted" } catch let e as AECVError { return e.message } catch { return "\(error)" }
        }
        XCTAssertTrue(message(#"{"preset": "dense", "input": [1, 8, 8], "batch_norm": true}"#)
            .hasPrefix("spec.batch_norm: only applies to the conv, denoising and conv_vae presets, not dense"))
        XCTAssertTrue(message(#"{"preset": "denoising", "base": "dense", "input": [1, 8, 8], "upsample": "nearest"}"#).hasPrefix("spec.upsample: only applies"))
        XCTAssertTrue(message(#"{"preset": "conv", "input": [1, 8, 8], "downsample": "pool"}"#)
            .hasPrefix(#"spec.downsample: expected one of "stride", "max_pool", got "pool""#))
        XCTAssertTrue(message(#"{"preset": "conv", "input": [1, 8, 8], "batch_norm": "yes"}"#).hasPrefix("spec.batch_norm: expected true or false"))
        XCTAssertEqual(message(#"{"preset": "conv", "input": [1, 28, 28], "upsample": "nearest"}"#),
                       #"spec.upsample "nearest": stage 2 gets a 7×7 input; every stage needs even sizes (the input divisible by 8), or use the default stride/transposed stages"#)
    }
}
