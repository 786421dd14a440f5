/// 2-D average pooling, PyTorch's `nn.AvgPool2d(kernel, stride, padding, count_include_pad)`
/// (floor mode), on batch-minor buffers x: (C, H, W, N) → y: (C, OH, OW, N):
///
///     y[c, oh, ow, n] = Σ_{(i, j) in window ∩ input} x[c, i, j, n] / d
///
/// d = k² with `count_include_pad` (PyTorch's default: padded zeros count; in floor mode every
/// window lies inside the padded input), else the number of in-bounds elements.
/// Backward: dx[c, i, j, n] += dy[c, oh, ow, n] / d for every window containing (i, j).
final class AvgPool2d: Layer {
    let inputShape: [Int]
    let outputShape: [Int]
    let geometry: PoolGeometry
    let countIncludePad: Bool

    init(inputShape: [Int], kernel: Int, stride: Int, padding: Int, countIncludePad: Bool) {
        self.inputShape = inputShape
        self.countIncludePad = countIncludePad
        geometry = PoolGeometry(shape: inputShape, kernel: kernel, stride: stride, padding: padding)
        outputShape = [inputShape[0], geometry.outputHeight, geometry.outputWidth]
    }

    @inline(__always)
    private func divisor(_ rows: Range<Int>, _ cols: Range<Int>) -> Float {
        countIncludePad ? Float(geometry.kernel * geometry.kernel) : Float(rows.count * cols.count)
    }

    func forward(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, batch n: Int) {
        let g = geometry
        for c in 0..<g.channels {
            for oh in 0..<g.outputHeight {
                let rows = g.window(oh, size: g.height)
                for ow in 0..<g.outputWidth {
                    let cols = g.window(ow, size: g.width)
                    let out = y + ((c * g.outputHeight + oh) * g.outputWidth + ow) * n
                    out.update(repeating: 0, count: n)
                    for i in rows {
                        for j in cols { add(x + ((c * g.height + i) * g.width + j) * n, into: out, count: n) }
                    }
                    let k = 1 / divisor(rows, cols)
                    for e in 0..<n { out[e] *= k }
                }
            }
        }
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch n: Int) {
        guard let dx = inputGradient else { return }
        let g = geometry
        dx.update(repeating: 0, count: n * inputSize)
        for c in 0..<g.channels {
            for oh in 0..<g.outputHeight {
                let rows = g.window(oh, size: g.height)
                for ow in 0..<g.outputWidth {
                    let cols = g.window(ow, size: g.width)
                    let d = dy + ((c * g.outputHeight + oh) * g.outputWidth + ow) * n
                    let k = 1 / divisor(rows, cols)
                    for i in rows {
                        for j in cols {
                            let row = dx + ((c * g.height + i) * g.width + j) * n
                            for e in 0..<n { row[e] += d[e] * k }
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Spec

/// `{"type": "avg_pool2d", "kernel": 2, "stride": 2, "padding": 0, "count_include_pad": true}`.
struct AvgPool2dDefinition: LayerDefinition, Equatable {
    static let type = "avg_pool2d"
    static let keys = ["kernel", "stride", "padding", "count_include_pad"]
    var pool: PoolFields
    var countIncludePad: Bool

    init(kernel: Int, stride: Int?, padding: Int, countIncludePad: Bool) {
        pool = PoolFields(kernel: kernel, stride: stride, padding: padding)
        self.countIncludePad = countIncludePad
    }

    init(_ fields: LayerFields) throws {
        pool = try PoolFields(fields)
        countIncludePad = try fields.bool("count_include_pad", default: true)
    }

    func validate(path: String) throws { try pool.validate(path: path) }
    var jsonFields: [JSONMember] { pool.jsonFields + [JSONMember("count_include_pad", .bool(countIncludePad))] }

    func build(into builder: inout NetworkBuilder, at path: String) throws {
        let g = try builder.poolGeometry(pool, type: Self.type, at: path)
        try builder.add(AvgPool2d(inputShape: builder.shape, kernel: g.kernel, stride: g.stride, padding: g.padding,
                                  countIncludePad: countIncludePad), parameters: 0)
    }
}

extension LayerSpec {
    public static func avgPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0,
                                 countIncludePad: Bool = true) -> LayerSpec {
        LayerSpec(AvgPool2dDefinition(kernel: kernel, stride: stride, padding: padding, countIncludePad: countIncludePad))
    }
}

// MARK: - ONNX

/// AveragePool with the same window and count_include_pad: 1 divides by k² (PyTorch's default),
/// 0 by the window's in-bounds count.
extension AvgPool2d {
    func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("AveragePool", [input],
                   attributes: geometry.onnxAttributes + [ONNXAttribute("count_include_pad", .int(countIncludePad ? 1 : 0))],
                   name: name, shape: outputShape)
    }
}
