import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV

/// Golden values from PyTorch for the vision layers and a model built from them
/// (tools/golden_vision.py, run by tools/make_golden.py; torch 2.x reproduces them to float32 rounding,
/// `golden_vision.py --check`).
final class VisionGoldenTests: XCTestCase {
    /// The Swift layer of each case of vision_layers.safetensors (shapes per example).
    private func layer(_ prefix: String) throws -> Layer {
        switch prefix {
        case "mp1": return MaxPool2d(inputShape: [2, 6, 6], kernel: 2, stride: 2, padding: 0)
        case "mp2": return MaxPool2d(inputShape: [2, 7, 5], kernel: 3, stride: 2, padding: 1)
        case "ap1": return AvgPool2d(inputShape: [2, 7, 5], kernel: 3, stride: 2, padding: 1, countIncludePad: true)
        case "ap2": return AvgPool2d(inputShape: [2, 7, 5], kernel: 3, stride: 2, padding: 1, countIncludePad: false)
        case "gap": return GlobalAvgPool(inputShape: [3, 4, 5])
        case "upn": return Upsample(inputShape: [2, 3, 4], scale: 2, mode: .nearest)
        case "upb": return Upsample(inputShape: [2, 3, 4], scale: 2, mode: .bilinear)
        case "upb3": return Upsample(inputShape: [1, 3, 5], scale: 3, mode: .bilinear)
        case "bn2": return BatchNorm(inputShape: [3, 4, 5], epsilon: 1e-5, momentum: 0.1, affine: true)
        case "bn2m": return BatchNorm(inputShape: [2, 3, 3], epsilon: 1e-3, momentum: 0.3, affine: false)
        case "bn1": return BatchNorm(inputShape: [5], epsilon: 1e-5, momentum: 0.2, affine: true)
        case "gelu": return Activation(GELU(), shape: [2, 3, 3])
        case "silu": return Activation(SiLU(), shape: [2, 3, 3])
        case "elu": return Activation(ELU(alpha: 0.7), shape: [2, 3, 3])
        case "cnb": return Conv2d(inputShape: [2, 5, 5], outputChannels: 3, kernelSize: 3, stride: 2, padding: 1, bias: false)
        case "res", "resi":
            let layers: [LayerSpec] = prefix == "res"
                ? [.conv2d(outputChannels: 3, kernelSize: 3, stride: 2, padding: 1, bias: false), .batchNorm2d(), .relu]
                : [.conv2d(outputChannels: 2, kernelSize: 3, stride: 1, padding: 1), .tanh]
            var b = NetworkBuilder(inputShape: prefix == "res" ? [2, 6, 6] : [2, 4, 4], field: "t")
            try b.add(.residual(layers), at: "t")
            return b.layers[0]
        default: throw AECVError.invalidArgument("no Swift layer for case \(prefix)")
        }
    }

    func testEveryLayerAgainstPyTorch() throws {
        let fixture = try Fixture("vision_layers")
        let prefixes = Set(fixture.file.tensors.map { String($0.name.prefix { $0 != "." }) })
        XCTAssertEqual(prefixes.count, 17)
        for p in prefixes.sorted() {
            let layer = try layer(p)
            let batch = fixture.shape("\(p).input")[0]
            XCTAssertEqual([batch] + layer.outputShape, fixture.shape("\(p).output"), p)
            var parameters = [Float](repeating: 0, count: max(layer.parameterCount, 1))
            var gradients = parameters
            var buffers = [Float](repeating: 0, count: 2 * max(layer.bufferCount, 1))
            let x = batchMinor(fixture.values("\(p).input"), batch: batch), r = batchMinor(fixture.values("\(p).R"), batch: batch)
            var y = [Float](repeating: 0, count: r.count), dx = [Float](repeating: 0, count: x.count)
            let bufferCount = layer.bufferCount
            parameters.withUnsafeMutableBufferPointer { pp in
                gradients.withUnsafeMutableBufferPointer { g in
                    buffers.withUnsafeMutableBufferPointer { b in
                        layer.bind(parameters: pp.baseAddress!, gradients: g.baseAddress!)
                        layer.bind(buffers: b.baseAddress!, next: b.baseAddress! + max(bufferCount, 1))
                        var random = RandomSource(seed: 1)
                        layer.initialize(random: &random)
                        var offset = 0
                        for (name, shape) in layer.parameterShapes {
                            let values = fixture.values("\(p).param.\(name)")
                            XCTAssertEqual(values.count, shape.reduce(1, *), "\(p).\(name)")
                            (pp.baseAddress! + offset).update(from: values, count: values.count)
                            offset += values.count
                        }
                        layer.setMode(.training)
                        layer.forward(input: x, output: &y, batch: batch)
                        layer.backward(input: x, output: y, outputGradient: r, inputGradient: &dx, batch: batch)
                    }
                }
            }
            XCTAssertLessThan(maxAbsoluteDifference(batchMajor(y, batch: batch), fixture.values("\(p).output")), Tolerance.goldenAbsolute, "\(p) output")
            XCTAssertLessThan(maxRelativeDifference(batchMajor(dx, batch: batch), fixture.values("\(p).grad.input")),
                              Tolerance.goldenGradientRelative, "\(p) grad.input")
            var offset = 0
            for (name, shape) in layer.parameterShapes {
                let n = shape.reduce(1, *)
                XCTAssertLessThan(maxRelativeDifference(Array(gradients[offset..<(offset + n)]), fixture.values("\(p).grad.\(name)")),
                                  Tolerance.goldenGradientRelative, "\(p) grad.\(name)")
                offset += n
            }
            guard bufferCount > 0 else { continue }
            // The next running statistics, then the evaluation-mode output with them in force.
            var next = Array(buffers[bufferCount..<(2 * bufferCount)])
            offset = 0
            for (name, shape) in layer.bufferShapes {
                let n = shape.reduce(1, *)
                XCTAssertLessThan(maxAbsoluteDifference(Array(next[offset..<(offset + n)]), fixture.values("\(p).next.\(name)")),
                                  Tolerance.goldenParameterAbsolute, "\(p) next.\(name)")
                offset += n
            }
            parameters.withUnsafeMutableBufferPointer { pp in
                gradients.withUnsafeMutableBufferPointer { g in
                    next.withUnsafeMutableBufferPointer { b in
                        layer.bind(parameters: pp.baseAddress!, gradients: g.baseAddress!)
                        layer.bind(buffers: b.baseAddress!, next: b.baseAddress!)
                        layer.setMode(.evaluation)
                        layer.forward(input: x, output: &y, batch: batch)
                    }
                }
            }
            XCTAssertLessThan(maxAbsoluteDifference(batchMajor(y, batch: batch), fixture.values("\(p).eval.output")),
                              Tolerance.goldenAbsolute, "\(p) eval.output")
        }
    }

    private func model(_ fixture: Fixture) throws -> Autoencoder {
        var spec = fixture.file.metadata["spec"]!
        spec.removeLast()
        let m = try Autoencoder(specJSON: spec + #","optimizer":{"name":"adam","learning_rate":0.001}}"#)
        try m.setParameters(fixture.tensors(prefix: "param."))
        return m
    }

    /// A custom model with BatchNorm, max pooling, a projected residual block, dropout (p = 0),
    /// nearest and bilinear upsampling: evaluation output, loss and gradients, then parameters,
    /// running statistics and evaluation output after 3 Adam steps.
    func testModelAgainstPyTorch() throws {
        let fixture = try Fixture("vision_model")
        let x = fixture.values("input")
        let m = try model(fixture)
        XCTAssertLessThan(maxAbsoluteDifference(try m.reconstruct(x), fixture.values("eval.output")), Tolerance.goldenAbsolute, "eval.output")
        let loss = try x.withUnsafeBufferPointer { try m.computeGradients(inputs: $0, targets: nil, batch: 4) }
        XCTAssertEqual(loss, fixture.values("loss")[0], accuracy: 1e-6)
        XCTAssertEqual(m.store.entries.count, fixture.tensors(prefix: "grad.").count - 1)   // minus grad.input
        for e in m.store.entries {
            let got = Array(UnsafeBufferPointer(start: m.store.gradients + e.offset, count: e.count))
            XCTAssertLessThan(maxRelativeDifference(got, fixture.values("grad." + e.name)), Tolerance.goldenGradientRelative, "grad.\(e.name)")
        }

        let trained = try model(fixture)
        var losses: [Float] = []
        for _ in 0..<3 { losses.append(try trained.trainStep(inputs: x)) }
        XCTAssertLessThan(maxAbsoluteDifference(losses, fixture.values("adam3.losses")), 1e-6, "adam3.losses")
        for (name, tensor) in trained.parameters() {
            XCTAssertLessThan(maxAbsoluteDifference(tensor.values, fixture.values("adam3." + name)), Tolerance.goldenParameterAbsolute, "adam3.\(name)")
        }
        XCTAssertEqual(trained.buffers().count, 9)
        for (name, tensor) in trained.buffers() {
            XCTAssertLessThan(maxAbsoluteDifference(tensor.values, fixture.values("adam3.buffer." + name)), Tolerance.goldenParameterAbsolute,
                              "adam3.buffer.\(name)")
        }
        XCTAssertLessThan(maxAbsoluteDifference(try trained.reconstruct(x), fixture.values("adam3.eval.output")), Tolerance.goldenAbsolute,
                          "adam3.eval.output")
    }

    /// A PyTorch state_dict (F32 tensors, I64 num_batches_tracked) imports into the equivalent
    /// spec and reconstructs as PyTorch does in evaluation mode; exporting gives the same tensors.
    func testPyTorchStateDictImports() throws {
        let fixture = try Fixture("vision_model")
        let m = try model(fixture)
        try m.importSafeTensors(path: Fixture.directory + "/vision_state_dict.safetensors")
        let state = try SafeTensors.read(path: Fixture.directory + "/vision_state_dict.safetensors")
        XCTAssertEqual(m.buffers().first { $0.name == "encoder.1.num_batches_tracked" }?.tensor.values, [3])
        let x = fixture.values("input")
        XCTAssertLessThan(maxAbsoluteDifference(try m.reconstruct(x), fixture.values("adam3.eval.output")), 1e-5)
        let exported = Dictionary(uniqueKeysWithValues: m.exportSafeTensors().tensors.map { ($0.name, $0.values) })
        XCTAssertEqual(exported.count, state.tensors.count)
        for t in state.tensors { XCTAssertEqual(exported[t.name], t.values, t.name) }
    }
}
