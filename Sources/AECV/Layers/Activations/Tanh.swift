/// `{"type": "tanh"}`, PyTorch's `nn.Tanh`: y = tanh x, dy/dx = 1 − y².
struct Tanh: ActivationFunction, Equatable {
    static let type = "tanh"
    static let keys: [String] = []
    init() {}
    init(_ fields: LayerFields) throws {}

    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        tanhForward(x, y, count: count)
    }

    func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int) {
        tanhBackward(y, dy, dx, count: count)
    }
}

extension ActivationFunction where Self == Tanh { static var tanh: Tanh { Tanh() } }
extension LayerSpec { public static let tanh = LayerSpec(Tanh()) }

// MARK: - ONNX

extension Tanh {
    func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("Tanh", [input], name: name, shape: graph.shapes[input] ?? [])
    }

    static var onnxOperators: [String] { ["Tanh"] }
    static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        ONNXImportedLayer(spec: .tanh)
    }
}
