import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// The pieces the architecture stands on: the layer registry, model-kind capabilities, the
/// store's trainable mask, buffers that commit with the step, and the optimizer factory.
final class ArchitectureTests: XCTestCase {
    /// Every registered type has a unique name, and a layer of each type survives JSON.
    func testRegistryRoundTripsEveryType() throws {
        XCTAssertEqual(Set(LayerRegistry.names).count, LayerRegistry.names.count, "duplicate layer names")
        let samples: [String: String] = [
            "dense": #"{"type":"dense","out":7}"#,
            "conv2d": #"{"type":"conv2d","out":3,"kernel":3}"#,
            "conv_transpose2d": #"{"type":"conv_transpose2d","out":2,"kernel":3,"stride":2,"output_padding":1}"#,
            "relu": #"{"type":"relu"}"#, "sigmoid": #"{"type":"sigmoid"}"#, "tanh": #"{"type":"tanh"}"#,
            "leaky_relu": #"{"type":"leaky_relu","slope":0.3}"#, "flatten": #"{"type":"flatten"}"#,
            "unflatten": #"{"type":"unflatten","shape":[2,3]}"#,
            "max_pool2d": #"{"type":"max_pool2d","kernel":3,"stride":2,"padding":1}"#,
            "avg_pool2d": #"{"type":"avg_pool2d","kernel":2,"count_include_pad":false}"#,
            "global_avg_pool": #"{"type":"global_avg_pool"}"#,
            "upsample": #"{"type":"upsample","scale":2,"mode":"bilinear"}"#,
            "batch_norm2d": #"{"type":"batch_norm2d","eps":0.001,"momentum":0.2,"affine":false}"#,
            "batch_norm1d": #"{"type":"batch_norm1d"}"#,
            "dropout": #"{"type":"dropout","p":0.25}"#, "dropout2d": #"{"type":"dropout2d","p":0.1}"#,
            "gelu": #"{"type":"gelu"}"#, "silu": #"{"type":"silu"}"#, "elu": #"{"type":"elu","alpha":0.5}"#,
            "residual": #"{"type":"residual","layers":[{"type":"conv2d","out":3,"kernel":3,"padding":1,"bias":false},{"type":"batch_norm2d"},{"type":"relu"}]}"#,
        ]
        for name in LayerRegistry.names {
            guard let text = samples[name] else {
                XCTFail("layer type \(name) is registered but has no round-trip sample in this test")
                continue
            }
            let layer = try LayerSpec.decode(try JSONValue.parse(text), "t")
            XCTAssertEqual(layer.type, name)
            let again = try LayerSpec.decode(layer.jsonValue(), "t")
            XCTAssertEqual(again, layer, name)
            XCTAssertEqual(again.jsonValue(), layer.jsonValue(), name)
        }
        // Defaults are filled in when read: stride 1, padding 0.
        let conv = try LayerSpec.decode(try JSONValue.parse(samples["conv2d"]!), "t")
        XCTAssertEqual(conv, .conv2d(outputChannels: 3, kernelSize: 3, stride: 1, padding: 0))
        XCTAssertNotEqual(conv, .conv2d(outputChannels: 3, kernelSize: 3, stride: 2, padding: 0))
        XCTAssertNotEqual(LayerSpec.relu, .sigmoid)
    }

    func testUnknownLayerKeyListsTheAllowedOnes() {
        XCTAssertThrowsError(try ModelSpec(json: #"{"preset": "custom", "input": [1, 8, 8], "encoder": [{"type": "conv2d", "channels": 4, "kernel": 3}], "decoder": [{"type": "relu"}]}"#)) {
            XCTAssertEqual(($0 as? AECVError)?.message,
                           #"spec.encoder[0]: unknown key "channels" for conv2d (allowed: out, kernel, stride, padding, bias)"#)
        }
        XCTAssertThrowsError(try ModelSpec(json: #"{"preset": "custom", "input": [1, 8, 8], "encoder": [{"type": "relu", "slope": 1}], "decoder": [{"type": "relu"}]}"#)) {
            XCTAssertEqual(($0 as? AECVError)?.message, #"spec.encoder[0]: unknown key "slope" for relu (allowed: none)"#)
        }
        XCTAssertThrowsError(try ModelSpec(json: #"{"preset": "custom", "input": [1, 8, 8], "encoder": [{"type": "unflaten", "shape": [64]}], "decoder": [{"type": "relu"}]}"#)) {
            let message = ($0 as? AECVError)?.message ?? ""
            XCTAssertTrue(message.contains(#"did you mean "unflatten""#), message)
        }
    }

    func testCapabilitiesOfEveryKind() throws {
        let cases: [(String, Bool, ModelCapabilities.Features, [Int]?)] = [
            (#"{"preset":"conv","input":[1,8,8],"hidden":[4,6]}"#, false, .encoderOutput, [4, 6]),
            (#"{"preset":"dense","input":[1,8,8]}"#, false, .encoderOutput, nil),
            (#"{"preset":"sparse","input":[1,8,8]}"#, false, .encoderOutput, nil),
            (#"{"preset":"denoising","input":[1,8,8]}"#, false, .encoderOutput, [16, 32, 64]),
            (#"{"preset":"denoising","base":"dense","input":[1,8,8]}"#, false, .encoderOutput, nil),
            (#"{"preset":"vae","input":[1,8,8]}"#, true, .posteriorMean, nil),
            (#"{"preset":"conv_vae","input":[1,8,8]}"#, true, .posteriorMean, nil),
            (#"{"preset":"custom","input":[1,4,4],"encoder":[{"type":"flatten"},{"type":"dense","out":3}],"decoder":[{"type":"dense","out":16},{"type":"unflatten","shape":[1,4,4]}]}"#, false, .encoderOutput, nil),
        ]
        XCTAssertEqual(Set(ModelKinds.all.map(\.preset)), Set(ModelSpec.Preset.allCases), "every preset has a kind")
        for (json, generative, features, backbone) in cases {
            let m = try Autoencoder(specJSON: json)
            XCTAssertEqual(m.capabilities.isGenerative, generative, json)
            XCTAssertEqual(m.capabilities.features, features, json)
            XCTAssertEqual(m.capabilities.convBackbone, backbone, json)
        }
    }

    /// A frozen entry keeps its value and its optimizer state through steps; the others move.
    func testTrainableMaskFreezes() throws {
        let net = Sequential(layers: [Dense(inputShape: [3], outputFeatures: 2), Dense(inputShape: [2], outputFeatures: 2)],
                             inputShape: [3])
        for name in OptimizerSpec.Name.allNames {
            let core = try TrainableCore(network: net, optimizer: OptimizerSpec(name: name)) { store in
                store.configure(where: { $0.name.hasPrefix("0.") }, trainable: false)
            }
            let store = core.store
            XCTAssertEqual(store.segments.map(\.trainable), [false, true], "\(name)")
            for i in 0..<store.count { store.parameters[i] = Float(i) * 0.1 }
            let before = Array(UnsafeBufferPointer(start: store.parameters, count: store.count))
            for _ in 0..<3 {
                for i in 0..<store.count { store.gradients[i] = 0.5 }
                try core.applyGradients("step", owner: "test")
            }
            let after = Array(UnsafeBufferPointer(start: store.parameters, count: store.count))
            let frozen = store.entries.filter { $0.name.hasPrefix("0.") }.reduce(0) { $0 + $1.count }
            XCTAssertEqual(Array(after.prefix(frozen)), Array(before.prefix(frozen)), "\(name): frozen entries moved")
            XCTAssertTrue(zip(after.dropFirst(frozen), before.dropFirst(frozen)).allSatisfy { $0 != $1 }, "\(name): trainable entries stuck")
        }
    }

    /// A step rejected for a non-finite loss leaves the buffers (the classifier's running
    /// feature statistics) bit-identical; an accepted one commits them.
    func testBuffersCommitWithTheStep() throws {
        let ae = try Autoencoder(specJSON: #"{"preset":"dense","input":[1,4,4],"hidden":[8],"latent":3}"#)
        let c = try Classifier(autoencoder: ae, spec: ClassifierSpec(classes: 2))
        let buffers = { Array(UnsafeBufferPointer(start: c.store.buffers, count: c.store.bufferCount)) }
        XCTAssertEqual(c.store.bufferEntries.map(\.name),
                       ["standardizer.mean", "standardizer.mean_square", "standardizer.num_batches_tracked"])
        let initial = buffers()
        var x = (0..<32).map { Float($0 % 7) / 7 }
        try c.trainStep(inputs: x, labels: [0, 1])
        let once = buffers()
        XCTAssertNotEqual(once, initial)
        XCTAssertEqual(once.last, 1, "num_batches_tracked after one step")
        // A huge head weight makes the loss overflow: rejected, and the statistics are untouched.
        let name = c.store.entries.first { $0.name.hasPrefix("head.") }!.name
        let shape = c.store.entry(named: name)!.shape
        let saved = c.parameters().first { $0.name == name }!.tensor
        try c.core.setTensors([(name, Tensor(shape: shape, values: [Float](repeating: 3e38, count: shape.reduce(1, *))))], owner: "t")
        x[0] = 1e30
        XCTAssertThrowsError(try c.trainStep(inputs: x, labels: [0, 1]))
        XCTAssertEqual(buffers().map(\.bitPattern), once.map(\.bitPattern))
        try c.core.setTensors([(name, saved)], owner: "t")
    }
}

private extension OptimizerSpec.Name {
    static var allNames: [OptimizerSpec.Name] { [.adam, .sgd] }
}
