import AECVKernels

/// Upsampling by an integer factor s, PyTorch's `nn.Upsample(scale_factor=s, mode=...)`, on
/// batch-minor buffers x: (C, H, W, N) → y: (C, s·H, s·W, N).
///
/// - nearest: y[c, i, j] = x[c, ⌊i/s⌋, ⌊j/s⌋].
/// - bilinear (align_corners=False): the source coordinate of output row i is
///   r = max((i + ½)/s − ½, 0), r0 = ⌊r⌋, r1 = min(r0 + 1, H − 1), λ = r − r0, and likewise for
///   columns; y = (1−λr)((1−λc)x[r0,c0] + λc x[r0,c1]) + λr((1−λc)x[r1,c0] + λc x[r1,c1]).
/// Backward scatters dy with the same weights (the transpose of the interpolation).
package final class Upsample: Layer {
    package enum Mode: String, Equatable, Sendable, CaseIterable { case nearest, bilinear }

    package let inputShape: [Int]
    package let outputShape: [Int]
    package let scale: Int
    package let mode: Mode
    /// Per output row/column: (source 0, source 1, weight of source 1).
    private let rowTaps: [(Int, Int, Float)]
    private let columnTaps: [(Int, Int, Float)]

    package init(inputShape: [Int], scale: Int, mode: Mode) {
        self.inputShape = inputShape
        self.scale = scale
        self.mode = mode
        outputShape = [inputShape[0], inputShape[1] * scale, inputShape[2] * scale]
        func taps(_ size: Int) -> [(Int, Int, Float)] {
            (0..<(size * scale)).map { o in
                switch mode {
                case .nearest: return (o / scale, o / scale, 0)
                case .bilinear:
                    // PyTorch computes the source index in float with scale 1/s.
                    let r = max((Float(o) + 0.5) * (1 / Float(scale)) - 0.5, 0)
                    let r0 = min(Int(r), size - 1)
                    let r1 = min(r0 + 1, size - 1)
                    return (r0, r1, r - Float(r0))
                }
            }
        }
        rowTaps = taps(inputShape[1])
        columnTaps = taps(inputShape[2])
    }

    package func forward(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, batch n: Int) {
        let (h, w, oh, ow) = (inputShape[1], inputShape[2], outputShape[1], outputShape[2])
        for c in 0..<inputShape[0] {
            let plane = x + c * h * w * n
            for i in 0..<oh {
                let (r0, r1, lr) = rowTaps[i]
                for j in 0..<ow {
                    let out = y + ((c * oh + i) * ow + j) * n
                    let (c0, c1, lc) = columnTaps[j]
                    if mode == .nearest {
                        out.update(from: plane + (r0 * w + c0) * n, count: n)
                        continue
                    }
                    let a = plane + (r0 * w + c0) * n, b = plane + (r0 * w + c1) * n
                    let d = plane + (r1 * w + c0) * n, e = plane + (r1 * w + c1) * n
                    let (w00, w01) = ((1 - lr) * (1 - lc), (1 - lr) * lc)
                    let (w10, w11) = (lr * (1 - lc), lr * lc)
                    for k in 0..<n { out[k] = w00 * a[k] + w01 * b[k] + w10 * d[k] + w11 * e[k] }
                }
            }
        }
    }

    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch n: Int) {
        guard let dx = inputGradient else { return }
        let (h, w, oh, ow) = (inputShape[1], inputShape[2], outputShape[1], outputShape[2])
        dx.update(repeating: 0, count: n * inputSize)
        for c in 0..<inputShape[0] {
            let plane = dx + c * h * w * n
            for i in 0..<oh {
                let (r0, r1, lr) = rowTaps[i]
                for j in 0..<ow {
                    let g = dy + ((c * oh + i) * ow + j) * n
                    let (c0, c1, lc) = columnTaps[j]
                    if mode == .nearest {
                        add(g, into: plane + (r0 * w + c0) * n, count: n)
                        continue
                    }
                    scatter(g, plane + (r0 * w + c0) * n, (1 - lr) * (1 - lc), n)
                    scatter(g, plane + (r0 * w + c1) * n, (1 - lr) * lc, n)
                    scatter(g, plane + (r1 * w + c0) * n, lr * (1 - lc), n)
                    scatter(g, plane + (r1 * w + c1) * n, lr * lc, n)
                }
            }
        }
    }
}

/// row += weight · g over n floats (skipped for a zero weight).
@inline(__always)
private func scatter(_ g: UnsafePointer<Float>, _ row: UnsafeMutablePointer<Float>, _ weight: Float, _ n: Int) {
    if weight == 0 { return }
    for k in 0..<n { row[k] += weight * g[k] }
}

// MARK: - Spec

/// `{"type": "upsample", "scale": 2, "mode": "nearest"}` (mode "nearest" or "bilinear").
package struct UpsampleDefinition: LayerDefinition, Equatable {
    package static let type = "upsample"
    package static let keys = ["scale", "mode"]
    package var scale: Int
    package var mode: Upsample.Mode

    package init(scale: Int, mode: Upsample.Mode) { self.scale = scale; self.mode = mode }

    package init(_ fields: LayerFields) throws {
        scale = try fields.int("scale", default: 2, "a positive integer")
        guard let v = fields.value("mode") else { mode = .nearest; return }
        let names = Upsample.Mode.allCases.map(\.rawValue)
        guard case .string(let name) = v, let m = Upsample.Mode(rawValue: name) else {
            throw config("\(fields.path).mode: expected one of \(quotedList(names)), got \(v.describedForMessage())")
        }
        mode = m
    }

    package func validate(path: String) throws {
        if scale < 1 || scale > 16 { throw config("\(path).scale: must be in 1...16, got \(scale)") }
    }

    package var jsonFields: [JSONMember] {
        [JSONMember("scale", .int(Int64(scale))), JSONMember("mode", .string(mode.rawValue))]
    }

    package func build(into builder: inout NetworkBuilder, at path: String) throws {
        guard builder.shape.count == 3 else {
            throw AECVError.config("\(path): upsample needs a [C, H, W] input, got \(builder.shape)")
        }
        try validate(path: path)
        let s = builder.shape
        _ = try builder.product([s[0], s[1], scale, s[2], scale], limit: SpecLimits.maxInputSize, what: path)
        try builder.add(Upsample(inputShape: s, scale: scale, mode: mode), parameters: 0)
    }
}

extension LayerSpec {
    public static func upsample(scale: Int, bilinear: Bool = false) -> LayerSpec {
        LayerSpec(UpsampleDefinition(scale: scale, mode: bilinear ? .bilinear : .nearest))
    }
}

// MARK: - ONNX

/// Resize(x, roi = "", scales = [1, 1, s, s]). nearest: coordinate_transformation_mode
/// asymmetric with nearest_mode floor, i.e. source ⌊i/s⌋ (PyTorch's nearest); bilinear: mode
/// linear with half_pixel, i.e. source (i + ½)/s − ½ clamped to the edge (PyTorch's
/// align_corners=False).
extension Upsample {
    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        let s = Float(scale)
        let scales = graph.initializer("\(name).scales", dims: [4], values: [1, 1, s, s])
        let attributes: [ONNXAttribute]
        switch mode {
        case .nearest:
            attributes = [ONNXAttribute("mode", .string("nearest")),
                          ONNXAttribute("coordinate_transformation_mode", .string("asymmetric")),
                          ONNXAttribute("nearest_mode", .string("floor"))]
        case .bilinear:
            attributes = [ONNXAttribute("mode", .string("linear")),
                          ONNXAttribute("coordinate_transformation_mode", .string("half_pixel"))]
        }
        return graph.node("Resize", [input, "", scales], attributes: attributes, name: name, shape: outputShape)
    }
}

// MARK: - ONNX import

/// Resize (opset 11+: X, roi, scales, sizes) with constant scales [1, 1, s, s] (or constant sizes
/// [N, C, s·H, s·W]) for an integer s, and the forms PyTorch's nn.Upsample exports: nearest with
/// coordinate_transformation_mode asymmetric and nearest_mode floor; linear with half_pixel or
/// pytorch_half_pixel (align_corners=False; the two differ only for an output of length 1). The
/// opset-9 Upsample (X, scales) is read for nearest only: its linear mode is asymmetric.
extension UpsampleDefinition {
    package static var onnxOperators: [String] { ["Resize", "Upsample"] }
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> ONNXImportedLayer {
        try context.requireImageInput(node)
        let resize = node.opType == "Resize"
        let scaleInput = resize ? 2 : 1
        var scale: Float?
        if scaleInput < node.inputs.count, !node.inputs[scaleInput].isEmpty {
            let t = try context.constant(node, input: scaleInput, "the scales")
            if t.dataType == ONNXTensor.float32, !t.floats.isEmpty {
                guard t.floats.count == 4, t.floats[0] == 1, t.floats[1] == 1, t.floats[2] == t.floats[3] else {
                    throw context.unsupported(node, "scales \(t.floats): only [1, 1, s, s] is supported")
                }
                scale = t.floats[2]
            }
        }
        if scale == nil, resize, node.inputs.count > 3, !node.inputs[3].isEmpty {
            let t = try context.constant(node, input: 3, "the sizes")
            let (h, w) = (context.shape[1], context.shape[2])
            guard t.dataType == ONNXTensor.int64, t.ints.count == 4, t.ints[1] == Int64(context.shape[0]),
                  t.ints[2] % Int64(h) == 0, t.ints[2] / Int64(h) == t.ints[3] / Int64(w), t.ints[3] % Int64(w) == 0 else {
                throw context.unsupported(node, "sizes must be [N, C, s·H, s·W] for an integer s")
            }
            scale = Float(t.ints[2] / Int64(h))
        }
        guard let s = scale, s >= 1, s <= 16, s == s.rounded() else {
            throw context.unsupported(node, "the scale must be a constant integer in 1...16, got \(scale.map { "\($0)" } ?? "none")")
        }
        let mode = try node.string("mode", default: "nearest")
        let transform = try node.string("coordinate_transformation_mode", default: "half_pixel")
        if resize, try node.int("antialias", default: 0) != 0 { throw context.unsupported(node, "antialias 1") }
        switch mode {
        case "nearest":
            // With an integer scale, asymmetric + floor picks input ⌊o/s⌋ (nn.Upsample's nearest).
            if resize {
                let rounding = try node.string("nearest_mode", default: "round_prefer_floor")
                guard transform == "asymmetric", rounding == "floor" else {
                    throw context.unsupported(node, "nearest with coordinate_transformation_mode \(transform) and nearest_mode \(rounding); only asymmetric + floor (PyTorch's) is supported")
                }
            }
            return ONNXImportedLayer(spec: .upsample(scale: Int(s)))
        case "linear" where resize && (transform == "half_pixel" || transform == "pytorch_half_pixel"):
            return ONNXImportedLayer(spec: .upsample(scale: Int(s), bilinear: true))
        default:
            throw context.unsupported(node, "mode \(mode) with coordinate_transformation_mode \(transform); supported: nearest (asymmetric, floor) and linear (half_pixel, i.e. align_corners=False)")
        }
    }
}
