#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `{"type": "elu", "alpha": 1}`, PyTorch's `nn.ELU(alpha)`: y = x for x > 0, α(eˣ − 1)
/// otherwise; dy/dx = 1 for x > 0, α·eˣ = y + α otherwise (PyTorch's convention at 0).
package struct ELU: ActivationFunction, Equatable {
    package static let type = "elu"
    package static let keys = ["alpha"]
    package var alpha: Float

    package init(alpha: Float) { self.alpha = alpha }
    package init(_ fields: LayerFields) throws { alpha = try fields.float("alpha", default: 1) }

    package func validate(path: String) throws {
        if !alpha.isFinite { throw config("\(path).alpha: must be a finite number, got \(formatFloat(alpha))") }
    }

    package var jsonFields: [JSONMember] { [JSONMember("alpha", floatJSON(alpha))] }

    package func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = x[i] > 0 ? x[i] : alpha * expm1f(x[i]) }
    }

    package func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int) {
        for i in 0..<count { dx[i] = x[i] > 0 ? dy[i] : dy[i] * alpha * expf(x[i]) }
    }
}

extension ActivationFunction where Self == ELU { static func elu(alpha: Float) -> ELU { ELU(alpha: alpha) } }
extension LayerSpec { public static func elu(alpha: Float = 1) -> LayerSpec { LayerSpec(ELU(alpha: alpha)) } }

// MARK: - ONNX

/// Elu(alpha): the same y = x for x > 0, α(eˣ − 1) otherwise.
extension ELU {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("Elu", [input], attributes: [ONNXAttribute("alpha", .float(alpha))], name: name,
                   shape: graph.shapes[input] ?? [])
    }
}

extension ELU {
    package static var onnxOperators: [String] { ["Elu"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        ONNXImportedLayer(spec: LayerSpec(ELU(alpha: try node.float("alpha", default: 1))))
    }
}
