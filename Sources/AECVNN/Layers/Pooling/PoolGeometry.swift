import AECVKernels

/// The window geometry shared by `max_pool2d` and `avg_pool2d` (PyTorch's floor mode):
/// OH = ⌊(H + 2p − k)/s⌋ + 1, window (oh, ow) covers rows oh·s − p ..< oh·s − p + k.
/// PyTorch requires p ≤ k/2, so every window holds at least one input element.
package struct PoolGeometry: Equatable {
    package let channels: Int, height: Int, width: Int
    package let kernel: Int, stride: Int, padding: Int
    package let outputHeight: Int, outputWidth: Int

    package init(shape: [Int], kernel: Int, stride: Int, padding: Int) {
        channels = shape[0]; height = shape[1]; width = shape[2]
        self.kernel = kernel; self.stride = stride; self.padding = padding
        outputHeight = (height + 2 * padding - kernel) / stride + 1
        outputWidth = (width + 2 * padding - kernel) / stride + 1
    }

    /// The in-bounds input rows (or columns) of output index o along an axis of `size`.
    @inline(__always)
    package func window(_ o: Int, size: Int) -> Range<Int> {
        let start = o * stride - padding
        return max(start, 0)..<min(start + kernel, size)
    }
}

/// The spec fields of a 2-D pooling layer: kernel (required), stride (default: kernel, as
/// PyTorch), padding (default 0).
package struct PoolFields: Equatable {
    package var kernel: Int, stride: Int, padding: Int

    package init(kernel: Int, stride: Int?, padding: Int) {
        self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
    }

    package init(_ fields: LayerFields) throws {
        kernel = try fields.requiredInt("kernel", "a positive integer")
        stride = try fields.int("stride", default: kernel, "a positive integer")
        padding = try fields.int("padding", default: 0, "a non-negative integer")
    }

    package func validate(path: String) throws {
        try checkRange(kernel, "\(path).kernel", min: 1, what: "a positive integer")
        try checkRange(stride, "\(path).stride", min: 1, what: "a positive integer")
        try checkRange(padding, "\(path).padding", min: 0, what: "a non-negative integer")
        if 2 * padding > kernel {
            throw config("\(path).padding: must be at most half the kernel (\(kernel / 2)), got \(padding)")
        }
    }

    package var jsonFields: [JSONMember] {
        [JSONMember("kernel", .int(Int64(kernel))), JSONMember("stride", .int(Int64(stride))),
         JSONMember("padding", .int(Int64(padding)))]
    }
}

extension NetworkBuilder {
    /// Checks a pooling window against the current [C, H, W] shape; returns its geometry.
    package func poolGeometry(_ f: PoolFields, type: String, at what: String) throws -> PoolGeometry {
        guard shape.count == 3 else {
            throw AECVError.config("\(what): \(type) needs a [C, H, W] input, got \(shape)")
        }
        try checkGeometry(kernel: f.kernel, stride: f.stride, padding: f.padding, at: what)
        if 2 * f.padding > f.kernel {
            throw AECVError.config("\(what): padding must be at most half the kernel (\(f.kernel / 2)), got \(f.padding)")
        }
        if shape[1] + 2 * f.padding < f.kernel || shape[2] + 2 * f.padding < f.kernel {
            throw AECVError.config("\(what): kernel \(f.kernel) with padding \(f.padding) does not fit a \(shape[1])×\(shape[2]) input")
        }
        return PoolGeometry(shape: shape, kernel: f.kernel, stride: f.stride, padding: f.padding)
    }
}

// MARK: - ONNX

extension PoolGeometry {
    /// kernel_shape, strides, pads (symmetric) and ceil_mode 0 (PyTorch's floor mode) of
    /// MaxPool / AveragePool.
    package var onnxAttributes: [ONNXAttribute] {
        let (k, s, p) = (Int64(kernel), Int64(stride), Int64(padding))
        return [ONNXAttribute("kernel_shape", .ints([k, k])), ONNXAttribute("strides", .ints([s, s])),
                ONNXAttribute("pads", .ints([p, p, p, p])), ONNXAttribute("ceil_mode", .int(0))]
    }
}

extension PoolFields {
    /// The window of an ONNX MaxPool or AveragePool node: square kernel_shape, equal strides
    /// (default 1, as ONNX) and equal pads on every side, floor mode (ceil_mode 0), no dilation,
    /// NOTSET auto_pad; anything else is `.unsupported` naming the attribute.
    package static func importONNX(_ node: ONNXNode, _ context: ONNXImportContext) throws -> PoolFields {
        try context.requireImageInput(node)
        guard let ks = try node.ints("kernel_shape"), ks.count == 2, ks[0] == ks[1], ks[0] >= 1 else {
            throw context.unsupported(node, "only square 2-D kernel_shape is supported")
        }
        let window = try node.squareWindow(context)
        if try node.int("ceil_mode", default: 0) != 0 { throw context.unsupported(node, "ceil_mode 1 (only floor mode)") }
        if node.outputs.count > 1 && !node.outputs[1].isEmpty {
            throw context.unsupported(node, "the Indices output is not supported")
        }
        let (k, st, p) = (Int(ks[0]), window.stride, window.padding)
        if 2 * p > k { throw context.unsupported(node, "pads \(p) larger than half the kernel \(k)") }
        return PoolFields(kernel: k, stride: st, padding: p)
    }
}
