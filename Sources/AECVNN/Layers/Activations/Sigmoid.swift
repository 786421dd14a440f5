import AECVKernels

/// `{"type": "sigmoid"}`, PyTorch's `nn.Sigmoid`: y = 1/(1 + e^−x), dy/dx = y(1 − y).
package struct Sigmoid: ActivationFunction, Equatable {
    package static let type = "sigmoid"
    package static let keys: [String] = []
    package init() {}
    package init(_ fields: LayerFields) throws {}

    package func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        sigmoidForward(x, y, count: count)
    }

    package var derivativeFromOutput: Bool { true }

    package func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int) {
        sigmoidBackward(y, dy, dx, count: count)
    }
}

extension ActivationFunction where Self == Sigmoid { package static var sigmoid: Sigmoid { Sigmoid() } }
extension LayerSpec { public static let sigmoid = LayerSpec(Sigmoid()) }

// MARK: - ONNX

extension Sigmoid {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("Sigmoid", [input], name: name, shape: graph.shapes[input] ?? [])
    }

    package static var onnxOperators: [String] { ["Sigmoid"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        ONNXImportedLayer(spec: .sigmoid)
    }
}
