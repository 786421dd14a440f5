#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `{"type": "gelu"}`, PyTorch's `nn.GELU()` (exact, approximate='none'):
/// y = x·Φ(x), Φ(x) = ½(1 + erf(x/√2)); dy/dx = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
package struct GELU: ActivationFunction, Equatable {
    package static let type = "gelu"
    package static let keys: [String] = []
    package init() {}
    package init(_ fields: LayerFields) throws {}

    package func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = x[i] * 0.5 * (1 + erff(x[i] * 0.70710678118654752)) }
    }

    package func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
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

// MARK: - ONNX

/// Opset 17 has no Gelu (it came in opset 20), so the exact form as PyTorch exports it:
/// y = 0.5 · x · (1 + Erf(x · (1/√2))), with the constants as one-element initializers. The three
/// Muls get distinct node names ("<name>/scaled/Mul", …): ONNX requires unique node names.
extension GELU {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        let shape = graph.shapes[input] ?? []
        let invSqrt2 = graph.initializer("\(name).inv_sqrt2", dims: [1], values: [0.70710678118654752])
        let one = graph.initializer("\(name).one", dims: [1], values: [1])
        let half = graph.initializer("\(name).half", dims: [1], values: [0.5])
        let scaled = graph.node("Mul", [input, invSqrt2], name: "\(name)/scaled", shape: shape)
        let erf = graph.node("Erf", [scaled], name: name, shape: shape)
        let phi = graph.node("Add", [erf, one], name: name, shape: shape)
        let product = graph.node("Mul", [input, phi], name: "\(name)/product", shape: shape)
        return graph.node("Mul", [product, half], name: name, shape: shape)
    }
}

/// Import: the Erf form as PyTorch and libaecv write it, Mul(Mul(x, Add(Erf(x / √2), 1)), 0.5)
/// (x / √2 as Div by √2 or Mul by 1/√2; either operand order). The branches join at the inner
/// Mul; the pattern ends at the Mul by 0.5 that must be its only reader.
extension GELU: ONNXForkImportable {
    package static func importONNXFork(_ fork: ONNXFork) throws -> (spec: LayerSpec, output: String)? {
        func near(_ a: Float?, _ b: Float) -> Bool { a.map { abs($0 - b) <= 1e-6 * max(1, abs(b)) } ?? false }
        let x = fork.value
        guard fork.join.opType == "Mul", let phi = fork.other(fork.join, than: x),
              let add = fork.producer(phi), add.opType == "Add", add.inputs.count == 2 else { return nil }
        guard let erfValue = add.inputs.first(where: { fork.producer($0)?.opType == "Erf" }),
              near(fork.scalarOperand(add, of: erfValue), 1),
              let erf = fork.producer(erfValue), let scaledValue = erf.inputs.first,
              let scaled = fork.producer(scaledValue), scaled.inputs.first == x else { return nil }
        switch scaled.opType {
        case "Div": guard near(fork.scalar(scaled.inputs[1]), 1.41421356) else { return nil }
        case "Mul": guard near(fork.scalarOperand(scaled, of: x), 0.70710678) else { return nil }
        default: return nil
        }
        let readers = fork.consumers(fork.join.outputs[0])
        guard readers.count == 1, readers[0].opType == "Mul",
              near(fork.scalarOperand(readers[0], of: fork.join.outputs[0]), 0.5) else { return nil }
        return (.gelu, readers[0].outputs[0])
    }
}
