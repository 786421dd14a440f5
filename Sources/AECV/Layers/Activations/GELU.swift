#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `{"type": "gelu"}`, PyTorch's `nn.GELU()` (exact, approximate='none'):
/// y = x·Φ(x), Φ(x) = ½(1 + erf(x/√2)); dy/dx = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
struct GELU: ActivationFunction, Equatable {
    static let type = "gelu"
    static let keys: [String] = []
    init() {}
    init(_ fields: LayerFields) throws {}

    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = x[i] * 0.5 * (1 + erff(x[i] * 0.70710678118654752)) }
    }

    func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int) {
        for i in 0..<count {
            let v = x[i]
            let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
            let pdf = expf(-0.5 * v * v) * 0.39894228040143268
            dx[i] = dy[i] * (cdf + v * pdf)
        }
    }
}

extension ActivationFunction where Self == GELU { static var gelu: GELU { GELU() } }
extension LayerSpec { public static let gelu = LayerSpec(GELU()) }
