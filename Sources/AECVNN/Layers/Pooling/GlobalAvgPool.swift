import AECVKernels

/// Global average pooling, PyTorch's `nn.AdaptiveAvgPool2d(1)` followed by `nn.Flatten()`:
/// x: (C, H, W, N) → y: (C, N), y[c, n] = Σ_{i,j} x[c, i, j, n] / (H·W).
/// Backward: dx[c, i, j, n] = dy[c, n] / (H·W).
package final class GlobalAvgPool: Layer {
    package let inputShape: [Int]
    package var outputShape: [Int] { [inputShape[0]] }

    package init(inputShape: [Int]) { self.inputShape = inputShape }

    private var plane: Int { inputShape[1] * inputShape[2] }

    package func forward(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, batch n: Int) {
        let k = 1 / Float(plane)
        for c in 0..<inputShape[0] {
            let out = y + c * n
            out.update(repeating: 0, count: n)
            for p in 0..<plane { add(x + (c * plane + p) * n, into: out, count: n) }
            for e in 0..<n { out[e] *= k }
        }
    }

    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch n: Int) {
        guard let dx = inputGradient else { return }
        let k = 1 / Float(plane)
        for c in 0..<inputShape[0] {
            for p in 0..<plane {
                let row = dx + (c * plane + p) * n
                for e in 0..<n { row[e] = dy[c * n + e] * k }
            }
        }
    }
}

/// `{"type": "global_avg_pool"}`: [C, H, W] → [C].
package struct GlobalAvgPoolDefinition: LayerDefinition, Equatable {
    package static let type = "global_avg_pool"
    package static let keys: [String] = []
    package init() {}
    package init(_ fields: LayerFields) throws {}

    package func build(into builder: inout NetworkBuilder, at path: String) throws {
        guard builder.shape.count == 3 else {
            throw AECVError.config("\(path): global_avg_pool needs a [C, H, W] input, got \(builder.shape)")
        }
        try builder.add(GlobalAvgPool(inputShape: builder.shape), parameters: 0)
    }
}

extension LayerSpec { public static let globalAvgPool = LayerSpec(GlobalAvgPoolDefinition()) }

// MARK: - ONNX

/// GlobalAveragePool, (N, C, H, W) → (N, C, 1, 1), then Flatten(axis 1) → (N, C).
extension GlobalAvgPool {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        let pooled = graph.node("GlobalAveragePool", [input], name: name, shape: [inputShape[0], 1, 1])
        return graph.flattened(pooled, name: name)
    }
}

/// GlobalAveragePool imports as global_avg_pool, whose output is already the (N, C) that the
/// Flatten PyTorch writes after it would make (that Flatten, of an (N, C) value, is skipped). A
/// node after it that needs (N, C, 1, 1) is refused by its own shape check.
extension GlobalAvgPoolDefinition {
    package static var onnxOperators: [String] { ["GlobalAveragePool"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        try context.requireImageInput(node)
        return ONNXImportedLayer(spec: .globalAvgPool)
    }
}
