/// Builds layer chains while tracking the per-example shape, validating every step with
/// overflow-checked arithmetic BEFORE any layer allocates: an inconsistent or absurd spec becomes
/// `AECVError.config` naming the field.
struct NetworkBuilder {
    private(set) var layers: [Layer] = []
    private(set) var shape: [Int]
    private(set) var parameterCount = 0
    /// Largest activation (floats per example) seen, to bound workspace sizes.
    private(set) var largestActivation = 0
    let field: String

    init(inputShape: [Int], field: String) {
        self.shape = inputShape
        self.field = field
        largestActivation = inputShape.reduce(1, *)
    }

    var size: Int { shape.reduce(1, *) }

    private mutating func add(_ layer: Layer, parameters: Int) throws {
        let (total, overflow) = parameterCount.addingReportingOverflow(parameters)
        if overflow || total > SpecLimits.maxParameters {
            throw AECVError.config("\(field): the model would have more than \(SpecLimits.maxParameters) parameters")
        }
        parameterCount = total
        shape = layer.outputShape
        largestActivation = max(largestActivation, size)
        layers.append(layer)
    }

    /// Checked product of factors against a limit.
    private func product(_ factors: [Int], limit: Int, what: String) throws -> Int {
        var result = 1
        for f in factors {
            let (r, overflow) = result.multipliedReportingOverflow(by: f)
            if overflow || r > limit {
                throw AECVError.config("\(what): size exceeds the limit of \(limit)")
            }
            result = r
        }
        return result
    }

    private func checkWidth(_ value: Int, _ what: String) throws {
        if value < 1 || value > SpecLimits.maxWidth {
            throw AECVError.config("\(what): must be in 1...\(SpecLimits.maxWidth), got \(value)")
        }
    }

    mutating func dense(_ outputs: Int, at what: String) throws {
        try checkWidth(outputs, what)
        let inputs = size
        let weights = try product([inputs, outputs], limit: SpecLimits.maxParameters, what: what)
        try add(Dense(inputShape: shape, outputFeatures: outputs), parameters: weights + outputs)
    }

    mutating func conv2d(_ channels: Int, kernel: Int, stride: Int, padding: Int,
                         at what: String) throws {
        try checkWidth(channels, what)
        guard shape.count == 3 else {
            throw AECVError.config("\(what): conv2d needs a [C, H, W] input, got \(shape) (add an unflatten layer)")
        }
        try checkGeometry(kernel: kernel, stride: stride, padding: padding, at: what)
        guard let oh = Conv2d.outputSize(input: shape[1], kernel: kernel, stride: stride, padding: padding),
              let ow = Conv2d.outputSize(input: shape[2], kernel: kernel, stride: stride, padding: padding)
        else {
            throw AECVError.config("\(what): kernel \(kernel) with padding \(padding) does not fit a \(shape[1])×\(shape[2]) input")
        }
        _ = try product([channels, oh, ow], limit: SpecLimits.maxInputSize, what: what)
        let weights = try product([channels, shape[0], kernel, kernel], limit: SpecLimits.maxParameters, what: what)
        try add(Conv2d(inputShape: shape, outputChannels: channels, kernelSize: kernel, stride: stride,
                       padding: padding), parameters: weights + channels)
    }

    mutating func convTranspose2d(_ channels: Int, kernel: Int, stride: Int, padding: Int,
                                  outputPadding: (Int, Int), at what: String) throws {
        try checkWidth(channels, what)
        guard shape.count == 3 else {
            throw AECVError.config("\(what): conv_transpose2d needs a [C, H, W] input, got \(shape) (add an unflatten layer)")
        }
        try checkGeometry(kernel: kernel, stride: stride, padding: padding, at: what)
        if outputPadding.0 < 0 || outputPadding.1 < 0 || outputPadding.0 >= stride || outputPadding.1 >= stride {
            throw AECVError.config("\(what): output_padding must be in 0..<stride (\(stride)), got \(outputPadding.0)")
        }
        guard let oh = ConvTranspose2d.outputSize(input: shape[1], kernel: kernel, stride: stride,
                                                  padding: padding, outputPadding: outputPadding.0),
              let ow = ConvTranspose2d.outputSize(input: shape[2], kernel: kernel, stride: stride,
                                                  padding: padding, outputPadding: outputPadding.1)
        else {
            throw AECVError.config("\(what): padding \(padding) leaves no output for a \(shape[1])×\(shape[2]) input")
        }
        _ = try product([channels, oh, ow], limit: SpecLimits.maxInputSize, what: what)
        let weights = try product([shape[0], channels, kernel, kernel], limit: SpecLimits.maxParameters, what: what)
        try add(ConvTranspose2d(inputShape: shape, outputChannels: channels, kernelSize: kernel,
                                stride: stride, padding: padding, outputPadding: outputPadding),
                parameters: weights + channels)
    }

    private func checkGeometry(kernel: Int, stride: Int, padding: Int, at what: String) throws {
        if kernel < 1 || kernel > 64 { throw AECVError.config("\(what): kernel must be in 1...64, got \(kernel)") }
        if stride < 1 || stride > 64 { throw AECVError.config("\(what): stride must be in 1...64, got \(stride)") }
        if padding < 0 || padding >= kernel + 64 {
            throw AECVError.config("\(what): padding must be in 0..<\(kernel + 64), got \(padding)")
        }
    }

    mutating func activation(_ kind: ActivationKind) throws {
        try add(Activation(kind, shape: shape), parameters: 0)
    }

    mutating func flatten() throws {
        try add(Reshape(from: shape, to: [size]), parameters: 0)
    }

    mutating func unflatten(_ target: [Int], at what: String) throws {
        if target.isEmpty || target.contains(where: { $0 < 1 }) {
            throw AECVError.config("\(what): unflatten shape must be positive integers, got \(target)")
        }
        let count = try product(target, limit: SpecLimits.maxInputSize, what: what)
        if count != size {
            throw AECVError.config("\(what): cannot unflatten \(size) values into \(target) (\(count) values)")
        }
        try add(Reshape(from: shape, to: target), parameters: 0)
    }

    /// Adds one layer of a custom architecture.
    mutating func add(_ spec: LayerSpec, at what: String) throws {
        switch spec {
        case .dense(let outputs): try dense(outputs, at: what)
        case .conv2d(let c, let k, let s, let p): try conv2d(c, kernel: k, stride: s, padding: p, at: what)
        case .convTranspose2d(let c, let k, let s, let p, let op):
            try convTranspose2d(c, kernel: k, stride: s, padding: p, outputPadding: (op, op), at: what)
        case .relu: try activation(.relu)
        case .sigmoid: try activation(.sigmoid)
        case .tanh: try activation(.tanh)
        case .leakyReLU(let slope): try activation(.leakyReLU(slope: slope))
        case .flatten: try flatten()
        case .unflatten(let target): try unflatten(target, at: what)
        }
    }

    func build() -> Sequential {
        Sequential(layers: layers, inputShape: layers.first?.inputShape ?? shape)
    }
}

extension NetworkBuilder {
    /// Appends an already validated layer (from another builder whose shapes chain onto this one).
    mutating func append(_ layer: Layer) {
        parameterCount += layer.parameterCount
        shape = layer.outputShape
        largestActivation = max(largestActivation, size)
        layers.append(layer)
    }
}
