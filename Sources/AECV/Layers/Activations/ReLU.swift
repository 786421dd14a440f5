/// `{"type": "relu"}`, PyTorch's `nn.ReLU`: y = max(x, 0); at x = 0 the gradient is 0.
struct ReLU: ActivationFunction, Equatable {
    static let type = "relu"
    static let keys: [String] = []
    init() {}
    init(_ fields: LayerFields) throws {}

    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        reluForward(x, y, count: count)
    }

    func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int) {
        reluBackward(x, dy, dx, count: count)
    }
}

extension ActivationFunction where Self == ReLU { static var relu: ReLU { ReLU() } }
extension LayerSpec { public static let relu = LayerSpec(ReLU()) }

// MARK: - ONNX

extension ReLU {
    func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("Relu", [input], name: name, shape: graph.shapes[input] ?? [])
    }

    static var onnxOperators: [String] { ["Relu"] }
    static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        ONNXImportedLayer(spec: .relu)
    }
}
