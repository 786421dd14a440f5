import AECVKernels

/// 2-D max pooling, PyTorch's `nn.MaxPool2d(kernel, stride, padding)` (floor mode, no dilation),
/// on batch-minor buffers x: (C, H, W, N) → y: (C, OH, OW, N):
///
///     y[c, oh, ow, n] = max_{(i, j) in window(oh, ow)} x[c, i, j, n]
///
/// Padding is −∞ (never selected). Backward sends each output's gradient to the FIRST maximal
/// element of its window in row-major order, as PyTorch does (`val > max` scanning the window),
/// so ties are broken identically. The winner's window-local index is kept from the forward.
package final class MaxPool2d: Layer {
    package let inputShape: [Int]
    package let outputShape: [Int]
    package let geometry: PoolGeometry
    /// Window-local index (i·k + j) of each output's maximum, as Float: (C, OH, OW, N).
    private let winners = Workspace()

    package init(inputShape: [Int], kernel: Int, stride: Int, padding: Int) {
        self.inputShape = inputShape
        geometry = PoolGeometry(shape: inputShape, kernel: kernel, stride: stride, padding: padding)
        outputShape = [inputShape[0], geometry.outputHeight, geometry.outputWidth]
    }

    package func forward(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, batch n: Int) {
        let g = geometry
        let w = winners.reserve(batch(n))
        for c in 0..<g.channels {
            for oh in 0..<g.outputHeight {
                let rows = g.window(oh, size: g.height)
                let top = oh * g.stride - g.padding
                for ow in 0..<g.outputWidth {
                    let cols = g.window(ow, size: g.width)
                    let left = ow * g.stride - g.padding
                    let o = ((c * g.outputHeight + oh) * g.outputWidth + ow) * n
                    // Element e of (i, j) is x[base + (i·W + j)·n + e].
                    let base = x + c * g.height * g.width * n
                    // Eight examples at a time, the window's maximum kept in registers.
                    var e = 0
                    while e + 8 <= n {
                        var best = Vector(repeating: -.infinity), index = Vector(repeating: 0)
                        for i in rows {
                            for j in cols {
                                let v = load(base + (i * g.width + j) * n + e)
                                let take = (v .> best) .| (v .!= v)   // NaN wins, as in PyTorch
                                best.replace(with: v, where: take)
                                index.replace(with: Float((i - top) * g.kernel + j - left), where: take)
                            }
                        }
                        store(best, y + o + e)
                        store(index, w + o + e)
                        e += 8
                    }
                    while e < n {
                        var best = -Float.infinity, index: Float = 0
                        for i in rows {
                            for j in cols {
                                let v = base[(i * g.width + j) * n + e]
                                if v > best || v.isNaN { best = v; index = Float((i - top) * g.kernel + j - left) }
                            }
                        }
                        y[o + e] = best; w[o + e] = index
                        e += 1
                    }
                }
            }
        }
    }

    private func batch(_ n: Int) -> Int { n * outputSize }

    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch n: Int) {
        guard let dx = inputGradient else { return }
        let g = geometry
        let w = UnsafePointer(winners.pointer)
        dx.update(repeating: 0, count: n * inputSize)
        for c in 0..<g.channels {
            let base = dx + c * g.height * g.width * n
            for oh in 0..<g.outputHeight {
                let rows = g.window(oh, size: g.height)
                let top = oh * g.stride - g.padding
                for ow in 0..<g.outputWidth {
                    let cols = g.window(ow, size: g.width)
                    let left = ow * g.stride - g.padding
                    let o = ((c * g.outputHeight + oh) * g.outputWidth + ow) * n
                    // Eight examples at a time: each window position adds the gradient of the
                    // examples whose winner it is (a masked add instead of a scatter).
                    var e = 0
                    while e + 8 <= n {
                        let grad = load(dy + o + e)
                        let index = load(w + o + e)
                        for i in rows {
                            for j in cols {
                                let local = Float((i - top) * g.kernel + j - left)
                                let p = base + (i * g.width + j) * n + e
                                store(load(p) + grad.replacing(with: 0, where: index .!= local), p)
                            }
                        }
                        e += 8
                    }
                    while e < n {
                        let local = Int(w[o + e])
                        let i = top + local / g.kernel, j = left + local % g.kernel
                        base[(i * g.width + j) * n + e] += dy[o + e]
                        e += 1
                    }
                }
            }
        }
    }
}

// MARK: - Spec

/// `{"type": "max_pool2d", "kernel": 2, "stride": 2, "padding": 0}` (stride defaults to the kernel).
package struct MaxPool2dDefinition: LayerDefinition, Equatable {
    package static let type = "max_pool2d"
    package static let keys = ["kernel", "stride", "padding"]
    package var pool: PoolFields

    package init(kernel: Int, stride: Int?, padding: Int) { pool = PoolFields(kernel: kernel, stride: stride, padding: padding) }
    package init(_ fields: LayerFields) throws { pool = try PoolFields(fields) }
    package func validate(path: String) throws { try pool.validate(path: path) }
    package var jsonFields: [JSONMember] { pool.jsonFields }

    package func build(into builder: inout NetworkBuilder, at path: String) throws {
        let g = try builder.poolGeometry(pool, type: Self.type, at: path)
        try builder.add(MaxPool2d(inputShape: builder.shape, kernel: g.kernel, stride: g.stride, padding: g.padding),
                        parameters: 0)
    }
}

extension LayerSpec {
    public static func maxPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) -> LayerSpec {
        LayerSpec(MaxPool2dDefinition(kernel: kernel, stride: stride, padding: padding))
    }
}

// MARK: - ONNX

/// MaxPool with the same window; ONNX pads with −∞ as PyTorch does, so a padded position never wins.
extension MaxPool2d {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("MaxPool", [input], attributes: geometry.onnxAttributes, name: name, shape: outputShape)
    }
}

extension MaxPool2dDefinition {
    package static var onnxOperators: [String] { ["MaxPool"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        let f = try PoolFields.importONNX(node, context)
        return ONNXImportedLayer(spec: .maxPool2d(kernel: f.kernel, stride: f.stride, padding: f.padding))
    }
}
