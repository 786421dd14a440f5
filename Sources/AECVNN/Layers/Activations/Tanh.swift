import AECVKernels

/// `{"type": "tanh"}`, PyTorch's `nn.Tanh`: y = tanh x, dy/dx = 1 − y².
package struct Tanh: ActivationFunction, Equatable {
    package static let type = "tanh"
    package static let keys: [String] = []
    package init() {}
    package init(_ fields: LayerFields) throws {}

    package func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        tanhForward(x, y, count: count)
    }

    package var derivativeFromOutput: Bool { true }

    package func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int) {
        tanhBackward(y, dy, dx, count: count)
    }
}

extension ActivationFunction where Self == Tanh { static var tanh: Tanh { Tanh() } }
extension LayerSpec { public static let tanh = LayerSpec(Tanh()) }

// MARK: - ONNX

extension Tanh {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("Tanh", [input], name: name, shape: graph.shapes[input] ?? [])
    }

    package static var onnxOperators: [String] { ["Tanh"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        ONNXImportedLayer(spec: .tanh)
    }
}
