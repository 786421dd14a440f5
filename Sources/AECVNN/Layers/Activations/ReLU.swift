import AECVKernels

/// `{"type": "relu"}`, PyTorch's `nn.ReLU`: y = max(x, 0); at x = 0 the gradient is 0.
package struct ReLU: ActivationFunction, Equatable {
    package static let type = "relu"
    package static let keys: [String] = []
    package init() {}
    package init(_ fields: LayerFields) throws {}

    package func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        reluForward(x, y, count: count)
    }

    /// y > 0 exactly when x > 0 (NaN passes through both ways).
    package var derivativeFromOutput: Bool { true }

    package func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int) {
        reluBackward(x, dy, dx, count: count)
    }
}

extension ActivationFunction where Self == ReLU { package static var relu: ReLU { ReLU() } }
extension LayerSpec { public static let relu = LayerSpec(ReLU()) }

// MARK: - ONNX

extension ReLU {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("Relu", [input], name: name, shape: graph.shapes[input] ?? [])
    }

    package static var onnxOperators: [String] { ["Relu"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        ONNXImportedLayer(spec: .relu)
    }
}
