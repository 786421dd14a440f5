#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `{"type": "silu"}`, PyTorch's `nn.SiLU` (swish): y = x·σ(x);
/// dy/dx = σ(x)(1 + x(1 − σ(x))).
package struct SiLU: ActivationFunction, Equatable {
    package static let type = "silu"
    package static let keys: [String] = []
    package init() {}
    package init(_ fields: LayerFields) throws {}

    package func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = x[i] / (1 + expf(-x[i])) }
    }

    package func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int) {
        for i in 0..<count {
            let s = 1 / (1 + expf(-x[i]))
            dx[i] = dy[i] * s * (1 + x[i] * (1 - s))
        }
    }
}

extension ActivationFunction where Self == SiLU { static var silu: SiLU { SiLU() } }
extension LayerSpec { public static let silu = LayerSpec(SiLU()) }

// MARK: - ONNX

/// Mul(x, Sigmoid(x)): opset 17 has no SiLU operator (PyTorch exports the same pair).
extension SiLU {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        let shape = graph.shapes[input] ?? []
        let s = graph.node("Sigmoid", [input], name: name, shape: shape)
        return graph.node("Mul", [input, s], name: name, shape: shape)
    }
}

/// Import: Mul(x, Sigmoid(x)), either operand order.
extension SiLU: ONNXForkImportable {
    package static func importONNXFork(_ fork: ONNXFork) throws -> (spec: LayerSpec, output: String)? {
        guard fork.join.opType == "Mul", let s = fork.other(fork.join, than: fork.value),
              let sigmoid = fork.producer(s), sigmoid.opType == "Sigmoid", sigmoid.inputs == [fork.value] else { return nil }
        return (.silu, fork.join.outputs[0])
    }
}
