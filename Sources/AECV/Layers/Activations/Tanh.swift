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
