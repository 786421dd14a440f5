import AECVKernels

/// `{"type": "leaky_relu", "slope": 0.01}`, PyTorch's `nn.LeakyReLU(negative_slope)`:
/// y = x for x > 0, slope·x otherwise (at x = 0 the gradient is the slope).
package struct LeakyReLU: ActivationFunction, Equatable {
    package static let type = "leaky_relu"
    package static let keys = ["slope"]
    package var slope: Float

    package init(slope: Float) { self.slope = slope }
    package init(_ fields: LayerFields) throws { slope = try fields.float("slope", default: 0.01) }

    package func validate(path: String) throws {
        if !slope.isFinite { throw config("\(path).slope: must be a finite number, got \(formatFloat(slope))") }
    }

    package var jsonFields: [JSONMember] { [JSONMember("slope", floatJSON(slope))] }

    package func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        leakyReLUForward(x, y, count: count, slope: slope)
    }

    /// With slope ≥ 0, y > 0 exactly when x > 0; a negative slope maps x < 0 to y > 0.
    package var derivativeFromOutput: Bool { slope >= 0 }

    package func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int) {
        leakyReLUBackward(x, dy, dx, count: count, slope: slope)
    }
}

extension ActivationFunction where Self == LeakyReLU {
    package static func leakyReLU(slope: Float) -> LeakyReLU { LeakyReLU(slope: slope) }
}
extension LayerSpec {
    public static func leakyReLU(slope: Float) -> LayerSpec { LayerSpec(LeakyReLU(slope: slope)) }
}

// MARK: - ONNX

/// LeakyRelu(alpha = slope); ONNX's default alpha is 0.01, PyTorch's default slope too.
extension LeakyReLU {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("LeakyRelu", [input], attributes: [ONNXAttribute("alpha", .float(slope))], name: name,
                   shape: graph.shapes[input] ?? [])
    }

    package static var onnxOperators: [String] { ["LeakyRelu"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        ONNXImportedLayer(spec: .leakyReLU(slope: try node.float("alpha", default: 0.01)))
    }
}
