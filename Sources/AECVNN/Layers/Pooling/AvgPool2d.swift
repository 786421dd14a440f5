import AECVKernels

/// 2-D average pooling, PyTorch's `nn.AvgPool2d(kernel, stride, padding, count_include_pad)`
/// (floor mode), on batch-minor buffers x: (C, H, W, N) → y: (C, OH, OW, N):
///
///     y[c, oh, ow, n] = Σ_{(i, j) in window ∩ input} x[c, i, j, n] / d
///
/// d = k² with `count_include_pad` (PyTorch's default: padded zeros count; in floor mode every
/// window lies inside the padded input), else the number of in-bounds elements.
/// Backward: dx[c, i, j, n] += dy[c, oh, ow, n] / d for every window containing (i, j).
package final class AvgPool2d: Layer {
    package let inputShape: [Int]
    package let outputShape: [Int]
    package let geometry: PoolGeometry
    package let countIncludePad: Bool

    package init(inputShape: [Int], kernel: Int, stride: Int, padding: Int, countIncludePad: Bool) {
        self.inputShape = inputShape
        self.countIncludePad = countIncludePad
        geometry = PoolGeometry(shape: inputShape, kernel: kernel, stride: stride, padding: padding)
        outputShape = [inputShape[0], geometry.outputHeight, geometry.outputWidth]
    }

    @inline(__always)
    private func divisor(_ rows: Range<Int>, _ cols: Range<Int>) -> Float {
        countIncludePad ? Float(geometry.kernel * geometry.kernel) : Float(rows.count * cols.count)
    }

    package func forward(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, batch n: Int) {
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

    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
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
package struct AvgPool2dDefinition: LayerDefinition, Equatable {
    package static let type = "avg_pool2d"
    package static let keys = ["kernel", "stride", "padding", "count_include_pad"]
    package var pool: PoolFields
    package var countIncludePad: Bool

    package init(kernel: Int, stride: Int?, padding: Int, countIncludePad: Bool) {
        pool = PoolFields(kernel: kernel, stride: stride, padding: padding)
        self.countIncludePad = countIncludePad
    }

    package init(_ fields: LayerFields) throws {
        pool = try PoolFields(fields)
        countIncludePad = try fields.bool("count_include_pad", default: true)
    }

    package func validate(path: String) throws { try pool.validate(path: path) }
    package var jsonFields: [JSONMember] { pool.jsonFields + [JSONMember("count_include_pad", .bool(countIncludePad))] }

    package func build(into builder: inout NetworkBuilder, at path: String) throws {
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
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        graph.node("AveragePool", [input],
                   attributes: geometry.onnxAttributes + [ONNXAttribute("count_include_pad", .int(countIncludePad ? 1 : 0))],
                   name: name, shape: outputShape)
    }
}

extension AvgPool2dDefinition {
    package static var onnxOperators: [String] { ["AveragePool"] }
    /// count_include_pad is ONNX's (default 0); PyTorch writes it explicitly.
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        let f = try PoolFields.importONNX(node, context)
        let include = try node.int("count_include_pad", default: 0) != 0
        return ONNXImportedLayer(spec: .avgPool2d(kernel: f.kernel, stride: f.stride, padding: f.padding,
                                                  countIncludePad: include))
    }
}

/// torch.onnx.export of torch 1.13 writes AvgPool2d(count_include_pad=True) as Pad (zeros) +
/// AveragePool with no pads, even for padding 0. `onnxPadding` reads such a Pad: its spatial
/// padding p, or nil when it is something else (a mode other than constant, a non-zero fill,
/// padding of the batch or channel axes, or unequal sides).
extension AvgPool2dDefinition {
    package static func onnxPadding(_ node: ONNXNode, _ context: ONNXImportContext) throws -> Int? {
        guard node.opType == "Pad", try node.string("mode", default: "constant") == "constant",
              context.shape.count == 3 else { return nil }
        let pads = try context.constant(node, input: 1, "the pads")
        guard pads.dataType == ONNXTensor.int64, pads.ints.count == 8,
              pads.ints[0] == 0, pads.ints[1] == 0, pads.ints[4] == 0, pads.ints[5] == 0,
              Set([pads.ints[2], pads.ints[3], pads.ints[6], pads.ints[7]]).count == 1, pads.ints[2] >= 0,
              pads.ints[2] <= Int64(Int32.max) else { return nil }
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            let fill = try context.constant(node, input: 2, "the constant value")
            // A scalar 0 only: checking a hostile 2^28-value tensor element by element took the fuzzer 30 s.
            guard fill.dataType == ONNXTensor.float32, fill.floats.count == 1, fill.floats[0] == 0 else { return nil }
        }
        return Int(pads.ints[2])
    }

    /// Pad(p) + AveragePool(pads 0) as one avg_pool2d with padding p, count_include_pad true.
    package static func importONNX(pad p: Int, pool node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        let f = try PoolFields.importONNX(node, context)
        guard f.padding == 0 else { throw context.unsupported(node, "pads after a Pad node") }
        if 2 * p > f.kernel { throw context.unsupported(node, "a Pad of \(p) before a kernel of \(f.kernel)") }
        return ONNXImportedLayer(spec: .avgPool2d(kernel: f.kernel, stride: f.stride, padding: p, countIncludePad: true))
    }
}
