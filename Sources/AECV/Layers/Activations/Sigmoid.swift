/// `{"type": "sigmoid"}`, PyTorch's `nn.Sigmoid`: y = 1/(1 + e^−x), dy/dx = y(1 − y).
struct Sigmoid: ActivationFunction, Equatable {
    static let type = "sigmoid"
    static let keys: [String] = []
    init() {}
    init(_ fields: LayerFields) throws {}

    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        sigmoidForward(x, y, count: count)
    }

    func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int) {
        sigmoidBackward(y, dy, dx, count: count)
    }
}

extension ActivationFunction where Self == Sigmoid { static var sigmoid: Sigmoid { Sigmoid() } }
extension LayerSpec { public static let sigmoid = LayerSpec(Sigmoid()) }

// MARK: - ONNX

extension Sigmoid {
    func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("Sigmoid", [input], name: name, shape: graph.shapes[input] ?? [])
    }

    static var onnxOperators: [String] { ["Sigmoid"] }
    static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        ONNXImportedLayer(spec: .sigmoid)
    }
}
