import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

final class SpecJSONTests: XCTestCase {
    private func assertConfigError(_ json: String, _ fragments: String...,
                                   file: StaticString = #filePath, line: UInt = #line) {
        do {
            let spec = try ModelSpec(json: json)
            XCTFail("accepted \(json) as \(spec)", file: file, line: line)
        } catch let AECVError.config(message) {
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "\"\(message)\" lacks \"\(fragment)\"",
                              file: file, line: line)
            }
        } catch {
            XCTFail("expected a config error, got \(error)", file: file, line: line)
        }
    }

    func testMinimalSpecs() throws {
        let conv = try ModelSpec(json: #"{"preset": "conv", "input": [1, 28, 28]}"#)
        XCTAssertEqual(conv, ModelSpec(preset: .conv, input: [1, 28, 28]))
        let dense = try ModelSpec(json: #"{"preset":"dense","input":[3,32,32],"seed":7,"latent":32,"hidden":128,"loss":"bce"}"#)
        XCTAssertEqual(dense, ModelSpec(preset: .dense, input: [3, 32, 32], seed: 7, latent: 32,
                                        hidden: [128], loss: .bce))
        // Integral floats are accepted where integers are expected.
        let v = try ModelSpec(json: #"{"preset":"vae","input":[1.0,28,28],"latent":16.0,"hidden":[512,256]}"#)
        XCTAssertEqual(v.input, [1, 28, 28])
        XCTAssertEqual(v.latent, 16)
        XCTAssertEqual(v.hidden, [512, 256])
    }

    func testFullSectionsParse() throws {
        let s = try ModelSpec(json: """
            {"preset": "sparse", "input": [1, 28, 28],
             "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9, "weight_decay": 1e-4},
             "sparsity": {"kl": {"rho": 0.05, "beta": 3}}}
            """)
        var sgd = OptimizerSpec(name: .sgd, learningRate: 0.05)
        sgd.momentum = 0.9
        sgd.weightDecay = 1e-4
        XCTAssertEqual(s.optimizer, sgd)
        XCTAssertEqual(s.sparsity, .kl(rho: 0.05, beta: 3))
        XCTAssertEqual(try ModelSpec(json: #"{"preset":"sparse","input":[1,8,8],"sparsity":{"l1":0.01,"reduction":"sum"}}"#).sparsity,
                       .l1(lambda: 0.01, reduction: .sum))
        XCTAssertEqual(try ModelSpec(json: #"{"preset":"sparse","input":[1,8,8],"sparsity":{"l1":0}}"#).sparsity,
                       .l1(lambda: 0, reduction: .mean))
        XCTAssertEqual(try ModelSpec(json: #"{"preset":"denoising","input":[1,8,8],"noise":{"masking":0.25},"base":"dense","latent":8}"#).noise,
                       .masking(probability: 0.25))
        XCTAssertEqual(try ModelSpec(json: #"{"preset":"denoising","input":[1,8,8],"noise":{"salt_pepper":0.1}}"#).noise,
                       .saltPepper(probability: 0.1))
        let adam = try ModelSpec(json: #"{"preset":"conv","input":[1,8,8],"optimizer":{"betas":[0.5,0.9],"eps":1e-6}}"#).optimizer
        XCTAssertEqual(adam?.name, .adam)
        XCTAssertEqual(adam?.learningRate, 1e-3)
        XCTAssertEqual(adam?.beta1, 0.5)
        XCTAssertEqual(adam?.beta2, 0.9)
        XCTAssertEqual(adam?.epsilon, 1e-6)
        XCTAssertEqual(try ModelSpec(json: #"{"preset":"conv","input":[1,8,8],"optimizer":{"name":"sgd"}}"#).optimizer?.learningRate, 1e-2)
    }

    func testCustomLayers() throws {
        let s = try ModelSpec(json: """
            {"preset": "custom", "input": [1, 28, 28],
             "encoder": [{"type": "conv2d", "out": 16, "kernel": 3, "stride": 2, "padding": 1},
                         {"type": "leaky_relu"}, {"type": "conv2d", "out": 8, "kernel": 3},
                         {"type": "flatten"}, {"type": "dense", "out": 32}, {"type": "tanh"}],
             "decoder": [{"type": "dense", "out": 1152}, {"type": "relu"},
                         {"type": "unflatten", "shape": [8, 12, 12]},
                         {"type": "conv_transpose2d", "out": 1, "kernel": 3, "stride": 2, "output_padding": 1},
                         {"type": "leaky_relu", "slope": 0.2}, {"type": "sigmoid"}]}
            """)
        XCTAssertEqual(s.encoder, [
            .conv2d(outputChannels: 16, kernelSize: 3, stride: 2, padding: 1), .leakyReLU(slope: 0.01),
            .conv2d(outputChannels: 8, kernelSize: 3, stride: 1, padding: 0), .flatten,
            .dense(outputs: 32), .tanh,
        ])
        XCTAssertEqual(s.decoder, [
            .dense(outputs: 1152), .relu, .unflatten(shape: [8, 12, 12]),
            .convTranspose2d(outputChannels: 1, kernelSize: 3, stride: 2, padding: 0, outputPadding: 1),
            .leakyReLU(slope: 0.2), .sigmoid,
        ])
        XCTAssertEqual(try ModelSpec(json: s.jsonString()), s)
        XCTAssertEqual(try s.filled().jsonValue()["encoder"]?[2],
                       ["type": "conv2d", "out": 8, "kernel": 3, "stride": 1, "padding": 0])
    }

    func testStructuralErrors() {
        assertConfigError("[1]", "spec: expected a JSON object, got array")
        assertConfigError("{\"preset\": \"conv\", \"input\": [1, 28, 28],}", "spec: invalid JSON:", "trailing comma")
        assertConfigError("", "spec: invalid JSON:")
        assertConfigError(#"{"input": [1, 28, 28]}"#, "spec.preset: required")
        assertConfigError(#"{"preset": "convv", "input": [1, 28, 28]}"#, "spec.preset: expected one of", "got \"convv\"", "did you mean \"conv\"")
        assertConfigError(#"{"preset": 3, "input": [1, 28, 28]}"#, "spec.preset: expected one of", "got 3")
        assertConfigError(#"{"preset": "dense"}"#, "spec.input: required")
        assertConfigError(#"{"preset": "dense", "input": [1, 28]}"#,
                          "spec.input: expected 3 positive integers [C, H, W], got [1, 28]")
        assertConfigError(#"{"preset": "dense", "input": [1, 0, 28]}"#, "spec.input: expected 3 positive integers")
        assertConfigError(#"{"preset": "dense", "input": [1, 2.5, 28]}"#, "spec.input: expected 3 positive integers")
        assertConfigError(#"{"preset": "dense", "input": "1x28x28"}"#, "spec.input: expected 3 positive integers", "got \"1x28x28\"")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "laten": 4}"#,
                          "spec: unknown key \"laten\"", "did you mean \"latent\"")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "zzzzzz": 4}"#, "spec: unknown key \"zzzzzz\"")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "latent": 4, "latent": 5}"#,
                          "spec: invalid JSON:", "duplicate key \"latent\"")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "latent": "64"}"#,
                          "spec.latent: expected a positive integer, got \"64\"")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "latent": null}"#, "spec.latent: expected a positive integer, got null")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "latent": 1.5}"#, "spec.latent: expected a positive integer, got 1.5")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "seed": -1}"#, "spec.seed: must be a non-negative integer, got -1")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "hidden": [64, "a"]}"#, "spec.hidden[1]: expected a positive integer")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "hidden": {}}"#, "spec.hidden: expected a positive integer or an array")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "loss": "l2"}"#, "spec.loss: expected one of \"mse\", \"bce\", \"ssim\", \"mse_ssim\", got \"l2\"")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": "adam"}"#, "spec.optimizer: expected an object")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"name": "adamw"}}"#, "spec.optimizer.name: expected one of \"adam\", \"sgd\"", "did you mean \"adam\"")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"lr": 0.1}}"#, "spec.optimizer: unknown key \"lr\"")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"learning_rat": 0.1}}"#, "did you mean \"learning_rate\"")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"momentum": 0.9}}"#, "spec.optimizer.momentum: only applies to sgd, not adam")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"name": "sgd", "betas": [0.9, 0.99]}}"#, "spec.optimizer.betas: only applies to adam")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"betas": [0.9]}}"#, "spec.optimizer.betas: expected 2 numbers [beta1, beta2], got [0.9]")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"learning_rate": "fast"}}"#, "spec.optimizer.learning_rate: expected a number, got \"fast\"")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"learning_rate": 1e300}}"#, "spec.optimizer.learning_rate:", "out of the range of a 32-bit float")
        assertConfigError(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {}}"#, "spec.sparsity: expected exactly one of")
        assertConfigError(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {"l1": 0.1, "kl": {"rho": 0.1}}}"#, "spec.sparsity: expected exactly one of \"l1\" or \"kl\", got both")
        assertConfigError(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {"l2": 0.1}}"#, "spec.sparsity: unknown key \"l2\"", "did you mean \"l1\"")
        assertConfigError(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {"kl": {"rho": 0.1}, "reduction": "sum"}}"#, "spec.sparsity.reduction: only applies to l1")
        assertConfigError(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {"kl": {"beta": 3}}}"#, "spec.sparsity.kl.rho: required")
        assertConfigError(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {"l1": 0.1, "reduction": "max"}}"#, "spec.sparsity.reduction: expected one of \"mean\", \"sum\"")
        assertConfigError(#"{"preset": "denoising", "input": [1, 28, 28], "noise": {"gaussian": 0.1, "masking": 0.2}}"#, "spec.noise: expected exactly one of")
        assertConfigError(#"{"preset": "denoising", "input": [1, 28, 28], "noise": {"gauss": 0.1}}"#, "spec.noise: unknown key \"gauss\"", "did you mean \"gaussian\"")
        assertConfigError(#"{"preset": "denoising", "input": [1, 28, 28], "noise": {}}"#, "spec.noise: expected exactly one of")
        assertConfigError(#"{"preset": "denoising", "input": [1, 28, 28], "base": "vae"}"#, "spec.base: expected \"conv\" or \"dense\", got \"vae\"")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "encoder": {}, "decoder": []}"#, "spec.encoder: expected an array of layer objects")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "encoder": [{"out": 3}], "decoder": []}"#, "spec.encoder[0].type: required")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "encoder": [{"type": "conv"}], "decoder": []}"#, "spec.encoder[0].type: expected one of", "got \"conv\"")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "encoder": [{"type": "conv2d", "out": 4}], "decoder": []}"#, "spec.encoder[0].kernel: required for conv2d")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "encoder": [{"type": "conv2d", "out": 4, "kernel": 3, "strides": 2}], "decoder": []}"#,
                          "spec.encoder[0]: unknown key \"strides\" for conv2d", "did you mean \"stride\"")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "encoder": [{"type": "relu", "out": 3}], "decoder": []}"#, "spec.encoder[0]: unknown key \"out\" for relu")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "encoder": [{"type": "dense"}], "decoder": []}"#, "spec.encoder[0].out: required for dense")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "encoder": [{"type": "unflatten", "shape": 4}], "decoder": []}"#, "spec.encoder[0].shape: expected 1 to 3 positive integers")
    }

    func testRangeErrors() {
        assertConfigError(#"{"preset": "conv", "input": [1, 4000000000, 4000000000]}"#,
                          "spec.input: 1 x 4000000000 x 4000000000 =", "floats per example exceeds the limit of 16777216")
        assertConfigError(#"{"preset": "conv", "input": [4000000000, 4000000000, 4000000000]}"#,
                          "spec.input:", "exceeds the limit of 16777216")
        assertConfigError(#"{"preset": "conv", "input": [1, 100000, 2]}"#, "spec.input[1]: 100000 exceeds the limit of 65536")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "hidden": [100000000000]}"#,
                          "spec.hidden[0]: 100000000000 exceeds the limit of 65536")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "hidden": 0}"#, "spec.hidden[0]: must be a positive integer, got 0")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "hidden": []}"#, "spec.hidden: expected a positive integer or a non-empty array")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "latent": 0}"#, "spec.latent: must be a positive integer, got 0")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "latent": 65537}"#, "spec.latent: 65537 exceeds the limit of 65536")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "latent": 1e30}"#, "spec.latent:", "too large")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"learning_rate": -1}}"#,
                          "spec.optimizer.learning_rate: must be a positive finite number, got -1")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"learning_rate": 0}}"#, "spec.optimizer.learning_rate: must be a positive finite number, got 0")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"betas": [0.9, 1]}}"#, "spec.optimizer.betas[1]: must be in [0, 1), got 1")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"betas": [-0.1, 0.9]}}"#, "spec.optimizer.betas[0]: must be in [0, 1), got -0.1")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"eps": 0}}"#, "spec.optimizer.eps: must be a positive finite number")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"name": "sgd", "momentum": 1}}"#, "spec.optimizer.momentum: must be in [0, 1), got 1")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "optimizer": {"weight_decay": -0.5}}"#, "spec.optimizer.weight_decay: must be a non-negative finite number, got -0.5")
        assertConfigError(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {"l1": -1}}"#, "spec.sparsity.l1: must be a non-negative finite number, got -1")
        assertConfigError(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {"kl": {"rho": 1}}}"#, "spec.sparsity.kl.rho: must be in (0, 1), got 1")
        assertConfigError(#"{"preset": "sparse", "input": [1, 28, 28], "sparsity": {"kl": {"rho": 0.1, "beta": -2}}}"#, "spec.sparsity.kl.beta: must be a non-negative")
        assertConfigError(#"{"preset": "denoising", "input": [1, 28, 28], "noise": {"gaussian": -0.3}}"#, "spec.noise.gaussian: must be a non-negative finite number, got -0.3")
        assertConfigError(#"{"preset": "denoising", "input": [1, 28, 28], "noise": {"masking": 1.5}}"#, "spec.noise.masking: must be a probability in [0, 1], got 1.5")
        assertConfigError(#"{"preset": "denoising", "input": [1, 28, 28], "noise": {"salt_pepper": -0.1}}"#, "spec.noise.salt_pepper: must be a probability")
        assertConfigError(#"{"preset": "vae", "input": [1, 28, 28], "beta": -1}"#, "spec.beta: must be a non-negative finite number, got -1")
        let layer = { (l: String) in #"{"preset": "custom", "input": [1, 28, 28], "encoder": [\#(l)], "decoder": [{"type": "relu"}]}"# }
        assertConfigError(layer(#"{"type": "conv2d", "out": 0, "kernel": 3}"#), "spec.encoder[0].out: must be a positive integer, got 0")
        assertConfigError(layer(#"{"type": "conv2d", "out": 70000, "kernel": 3}"#), "spec.encoder[0].out: 70000 exceeds the limit of 65536")
        assertConfigError(layer(#"{"type": "conv2d", "out": 4, "kernel": 0}"#), "spec.encoder[0].kernel: must be a positive integer, got 0")
        assertConfigError(layer(#"{"type": "conv2d", "out": 4, "kernel": 3, "stride": 0}"#), "spec.encoder[0].stride: must be a positive integer, got 0")
        assertConfigError(layer(#"{"type": "conv2d", "out": 4, "kernel": 3, "padding": -1}"#), "spec.encoder[0].padding: must be a non-negative integer, got -1")
        assertConfigError(layer(#"{"type": "conv2d", "out": 4, "kernel": 3000000}"#), "spec.encoder[0].kernel: 3000000 exceeds the limit of 65536")
        assertConfigError(layer(#"{"type": "conv_transpose2d", "out": 4, "kernel": 3, "stride": 2, "output_padding": 2}"#),
                          "spec.encoder[0].output_padding: must be smaller than the stride 2, got 2")
        assertConfigError(layer(#"{"type": "conv_transpose2d", "out": 4, "kernel": 3, "output_padding": 1}"#),
                          "spec.encoder[0].output_padding: must be smaller than the stride 1, got 1")
        assertConfigError(layer(#"{"type": "unflatten", "shape": []}"#), "spec.encoder[0].shape: expected 1 to 3 positive integers, got []")
        assertConfigError(layer(#"{"type": "unflatten", "shape": [1, 2, 3, 4]}"#), "spec.encoder[0].shape: expected 1 to 3 positive integers")
        assertConfigError(layer(#"{"type": "unflatten", "shape": [64, 65536, 65536]}"#), "spec.encoder[0].shape:", "exceeds the limit of 16777216")
        let tooMany = Array(repeating: #"{"type": "relu"}"#, count: 257).joined(separator: ",")
        assertConfigError(layer(tooMany), "spec.encoder: 257 layers exceeds the limit of 256")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "encoder": [], "decoder": [{"type": "relu"}]}"#, "spec.encoder: must contain at least one layer")
    }

    func testFieldsThatDoNotApply() {
        assertConfigError(#"{"preset": "conv", "input": [1, 28, 28], "latent": 64}"#, "spec.latent: does not apply to the conv preset")
        assertConfigError(#"{"preset": "denoising", "input": [1, 28, 28], "latent": 64}"#, "spec.latent: does not apply to denoising with base conv")
        XCTAssertNoThrow(try ModelSpec(json: #"{"preset": "denoising", "input": [1, 28, 28], "latent": 64, "base": "dense"}"#))
        assertConfigError(#"{"preset": "conv", "input": [1, 28, 28], "sparsity": {"l1": 0.1}}"#, "spec.sparsity: only applies to the sparse preset, not conv")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "noise": {"gaussian": 0.1}}"#, "spec.noise: only applies to the denoising preset, not dense")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "base": "dense"}"#, "spec.base: only applies to the denoising preset, not dense")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "beta": 2}"#, "spec.beta: only applies to the vae, conv_vae and cvae presets, not dense")
        assertConfigError(#"{"preset": "dense", "input": [1, 28, 28], "encoder": [{"type": "relu"}]}"#, "spec.encoder: only applies to the custom preset, not dense")
        assertConfigError(#"{"preset": "vae", "input": [1, 28, 28], "decoder": [{"type": "relu"}]}"#, "spec.decoder: only applies to the custom preset, not vae")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "encoder": [{"type": "relu"}]}"#, "spec.decoder: required by the custom preset")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28]}"#, "spec.encoder: required by the custom preset")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "latent": 3, "encoder": [{"type": "relu"}], "decoder": [{"type": "relu"}]}"#, "spec.latent: does not apply to the custom preset")
        assertConfigError(#"{"preset": "custom", "input": [1, 28, 28], "hidden": 3, "encoder": [{"type": "relu"}], "decoder": [{"type": "relu"}]}"#, "spec.hidden: does not apply to the custom preset")
        XCTAssertNoThrow(try ModelSpec(json: #"{"preset": "conv_vae", "input": [1, 28, 28], "beta": 4, "latent": 8}"#))
    }

    func testSpecSizeLimit() {
        let padding = String(repeating: " ", count: SpecLimits.maxSpecBytes)
        assertConfigError(#"{"preset": "conv", "input": [1, 28, 28]}"# + padding, "exceeds the limit of 1048576")
        assertConfigError(String(repeating: "[", count: 100_000), "spec: invalid JSON:", "nesting deeper")
    }

    func testFilledDefaults() throws {
        let conv = try ModelSpec(preset: .conv, input: [1, 28, 28]).filled()
        XCTAssertEqual(conv.seed, 0)
        XCTAssertEqual(conv.hidden, [16, 32, 64])
        XCTAssertNil(conv.latent)
        XCTAssertEqual(conv.loss, .mse)
        XCTAssertEqual(conv.optimizer, OptimizerSpec())
        XCTAssertEqual(conv.optimizer?.learningRate, 1e-3)
        XCTAssertEqual(conv.optimizer?.beta1, 0.9)
        XCTAssertEqual(conv.optimizer?.beta2, 0.999)
        XCTAssertEqual(conv.optimizer?.epsilon, 1e-8)

        let dense = try ModelSpec(preset: .dense, input: [1, 28, 28]).filled()
        XCTAssertEqual(dense.hidden, [256]); XCTAssertEqual(dense.latent, 64)
        XCTAssertNil(dense.sparsity); XCTAssertNil(dense.beta); XCTAssertNil(dense.noise)

        let sparse = try ModelSpec(preset: .sparse, input: [1, 28, 28]).filled()
        XCTAssertEqual(sparse.sparsity, .l1(lambda: 1e-3, reduction: .mean))
        XCTAssertEqual(sparse.hidden, [256]); XCTAssertEqual(sparse.latent, 64)

        let vae = try ModelSpec(preset: .vae, input: [1, 28, 28]).filled()
        XCTAssertEqual(vae.hidden, [400]); XCTAssertEqual(vae.latent, 20)
        XCTAssertEqual(vae.loss, .bce); XCTAssertEqual(vae.beta, 1)

        let convVAE = try ModelSpec(preset: .convVAE, input: [1, 28, 28]).filled()
        XCTAssertEqual(convVAE.hidden, [16, 32, 64]); XCTAssertEqual(convVAE.latent, 20)
        XCTAssertEqual(convVAE.loss, .bce); XCTAssertEqual(convVAE.beta, 1)

        let denoising = try ModelSpec(preset: .denoising, input: [1, 28, 28]).filled()
        XCTAssertEqual(denoising.base, .conv); XCTAssertEqual(denoising.noise, .gaussian(sigma: 0.3))
        XCTAssertEqual(denoising.hidden, [16, 32, 64]); XCTAssertNil(denoising.latent)
        XCTAssertEqual(denoising.loss, .mse)

        let denseDenoising = try ModelSpec(preset: .denoising, input: [1, 28, 28], base: .dense).filled()
        XCTAssertEqual(denseDenoising.hidden, [256]); XCTAssertEqual(denseDenoising.latent, 64)

        let sgd = try ModelSpec(preset: .dense, input: [1, 28, 28], optimizer: OptimizerSpec(name: .sgd)).filled()
        XCTAssertEqual(sgd.optimizer?.learningRate, 1e-2)
        XCTAssertEqual(sgd.optimizer?.momentum, 0)

        // User values win over defaults.
        let given = try ModelSpec(json: #"{"preset":"vae","input":[1,28,28],"latent":2,"loss":"mse","seed":9}"#).filled()
        XCTAssertEqual(given.latent, 2); XCTAssertEqual(given.loss, .mse); XCTAssertEqual(given.seed, 9)
        // Filling is idempotent.
        XCTAssertEqual(try given.filled(), given)
        // filled() validates specs built in Swift.
        XCTAssertThrowsError(try ModelSpec(preset: .conv, input: [1, 28, 28], latent: 4).filled())
        XCTAssertThrowsError(try ModelSpec(preset: .dense, input: [1, 28, 28], seed: UInt64.max).filled()) {
            XCTAssertTrue(($0 as? AECVError)?.message.contains("spec.seed") ?? false)
        }
        var badOptimizer = OptimizerSpec()
        badOptimizer.learningRate = .nan
        XCTAssertThrowsError(try ModelSpec(preset: .dense, input: [1, 28, 28], optimizer: badOptimizer).filled()) {
            XCTAssertEqual(($0 as? AECVError)?.message, "spec.optimizer.learning_rate: must be a positive finite number, got nan")
        }
    }

    func testJSONFieldOrderAndContent() throws {
        let s = try ModelSpec(preset: .sparse, input: [1, 28, 28]).filled()
        XCTAssertEqual(s.jsonString(), #"{"preset":"sparse","input":[1,28,28],"seed":0,"latent":64,"hidden":[256],"loss":"mse","optimizer":{"name":"adam","learning_rate":0.001,"betas":[0.9,0.999],"eps":1e-08,"weight_decay":0.0},"sparsity":{"l1":0.001,"reduction":"mean"}}"#)
        var sgd = OptimizerSpec(name: .sgd, learningRate: 0.1)
        sgd.momentum = 0.9
        sgd.beta1 = 0.5  // ignored by sgd: reset by filled(), not written
        let d = try ModelSpec(preset: .denoising, input: [3, 32, 32], seed: 5, optimizer: sgd,
                              noise: .saltPepper(probability: 0.1)).filled()
        XCTAssertEqual(d.optimizer?.beta1, 0.9)
        XCTAssertEqual(d.jsonString(), #"{"preset":"denoising","input":[3,32,32],"seed":5,"hidden":[16,32,64],"loss":"mse","optimizer":{"name":"sgd","learning_rate":0.1,"momentum":0.9,"weight_decay":0.0},"noise":{"salt_pepper":0.1},"base":"conv"}"#)
        let v = try ModelSpec(preset: .convVAE, input: [1, 28, 28], beta: 0.5).filled()
        XCTAssertEqual(v.jsonValue()["beta"], .double(0.5))
        XCTAssertEqual(v.jsonValue()["loss"], "bce")
        let k = try ModelSpec(preset: .sparse, input: [1, 8, 8], sparsity: .kl(rho: 0.05, beta: 3)).filled()
        XCTAssertEqual(k.jsonValue()["sparsity"], ["kl": ["rho": 0.05, "beta": 3.0]])
        // Pretty output parses to the same spec.
        XCTAssertEqual(try ModelSpec(json: k.jsonString(pretty: true)), k)
    }

    func testRoundTripEveryPreset() throws {
        let specs: [ModelSpec] = [
            ModelSpec(preset: .conv, input: [1, 28, 28]),
            ModelSpec(preset: .conv, input: [3, 64, 48], seed: 123456789012345, hidden: [8, 8]),
            ModelSpec(preset: .dense, input: [1, 28, 28], latent: 3, hidden: [512, 128], loss: .bce),
            ModelSpec(preset: .sparse, input: [1, 28, 28], sparsity: .l1(lambda: 3e-4, reduction: .sum)),
            ModelSpec(preset: .sparse, input: [1, 28, 28], sparsity: .kl(rho: 0.07, beta: 2.5)),
            ModelSpec(preset: .denoising, input: [1, 28, 28], noise: .masking(probability: 0.25)),
            ModelSpec(preset: .denoising, input: [1, 28, 28], noise: .gaussian(sigma: 0.123), base: .dense),
            ModelSpec(preset: .vae, input: [1, 28, 28], beta: 4),
            ModelSpec(preset: .convVAE, input: [1, 32, 32], latent: 7),
            ModelSpec(preset: .custom, input: [1, 8, 8],
                      encoder: [.flatten, .dense(outputs: 4), .leakyReLU(slope: 0.123)],
                      decoder: [.dense(outputs: 64), .unflatten(shape: [1, 8, 8]), .sigmoid]),
        ]
        for spec in specs {
            let filled = try spec.filled()
            let text = filled.jsonString()
            XCTAssertEqual(try ModelSpec(json: text), filled, text)
            XCTAssertEqual(try ModelSpec(json: filled.jsonString(pretty: true)), filled)
            XCTAssertEqual(try ModelSpec(json: spec.jsonString()), spec)
        }
    }

    func testFloatsSurviveExactly() throws {
        // Float -> JSON text -> Double -> Float must be the identity, including values whose
        // shortest Float form would be rounded differently through Double.
        var state: UInt32 = 12345
        var floats: [Float] = [1e-3, 0.1, 0.3, 1e-8, 0.999, .greatestFiniteMagnitude, .leastNormalMagnitude, .leastNonzeroMagnitude,
                               0.099999994, 16777216, 0.33333334]
        for _ in 0..<20_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            let f = Float(bitPattern: state & 0x7FFF_FFFF)
            if f.isFinite && f > 0 { floats.append(f) }
        }
        for f in floats {
            var opt = OptimizerSpec(learningRate: f)
            opt.weightDecay = f
            let spec = ModelSpec(preset: .dense, input: [1, 2, 2], optimizer: opt)
            let back = try JSONValue.parse(spec.jsonString())["optimizer"]?["learning_rate"]?.asDouble
            XCTAssertEqual(back.map(Float.init)?.bitPattern, f.bitPattern, "\(f) -> \(String(describing: back))")
        }
        // The readable form is kept when it is exact.
        XCTAssertEqual(ModelSpec(preset: .vae, input: [1, 2, 2], beta: 0.3).jsonString(),
                       #"{"preset":"vae","input":[1,2,2],"beta":0.3}"#)
    }

    func testMalformedSpecsNeverCrash() {
        // Mutations of a valid spec: every outcome is a spec or a config error.
        let base = Array(#"{"preset": "custom", "input": [1, 28, 28], "seed": 3, "optimizer": {"name": "sgd", "momentum": 0.5}, "encoder": [{"type": "conv2d", "out": 4, "kernel": 3, "stride": 2}], "decoder": [{"type": "conv_transpose2d", "out": 1, "kernel": 3, "output_padding": 0}]}"#.utf8)
        var state: UInt64 = 88172645463325252
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        let alphabet = Array("{}[],:\"-0123456789e.9 ".utf8)
        for _ in 0..<5000 {
            var bytes = base
            for _ in 0..<(1 + Int(next() % 3)) {
                let p = Int(next() % UInt64(bytes.count))
                let b = alphabet[Int(next() % UInt64(alphabet.count))]
                if next() % 2 == 0 { bytes[p] = b } else { bytes.insert(b, at: p) }
            }
            do {
                let spec = try ModelSpec(json: String(decoding: bytes, as: UTF8.self))
                let filled = try spec.filled()
                XCTAssertEqual(try ModelSpec(json: filled.jsonString()), filled)
            } catch let error as AECVError {
                guard case .config = error else { return XCTFail("\(error)") }
            } catch {
                XCTFail("\(error)")
            }
        }
    }
}
