import AECVKernels

/// Builds layer chains while tracking the per-example shape, validating every step with
/// overflow-checked arithmetic BEFORE any layer allocates: an inconsistent or absurd spec becomes
/// `AECVError.config` naming the field.
///
/// Each layer type's file extends it with its own builder method (`dense`, `conv2d`, ...), which
/// owns that layer's shape inference; `add(_:at:)` builds any `LayerSpec` through the registry.
package struct NetworkBuilder {
    package private(set) var layers: [Layer] = []
    package private(set) var shape: [Int]
    package private(set) var parameterCount = 0
    /// Largest activation (floats per example) seen, to bound workspace sizes.
    private(set) var largestActivation = 0
    package let field: String

    package init(inputShape: [Int], field: String) {
        self.shape = inputShape
        self.field = field
        largestActivation = inputShape.reduce(1, *)
    }

    package var size: Int { shape.reduce(1, *) }

    /// Appends a layer whose shapes have been checked, counting its parameters against the limit.
    package mutating func add(_ layer: Layer, parameters: Int) throws {
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
    package func product(_ factors: [Int], limit: Int, what: String) throws -> Int {
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

    package func checkWidth(_ value: Int, _ what: String) throws {
        if value < 1 || value > SpecLimits.maxWidth {
            throw AECVError.config("\(what): must be in 1...\(SpecLimits.maxWidth), got \(value)")
        }
    }

    package func checkGeometry(kernel: Int, stride: Int, padding: Int, at what: String) throws {
        if kernel < 1 || kernel > 64 { throw AECVError.config("\(what): kernel must be in 1...64, got \(kernel)") }
        if stride < 1 || stride > 64 { throw AECVError.config("\(what): stride must be in 1...64, got \(stride)") }
        if padding < 0 || padding >= kernel + 64 {
            throw AECVError.config("\(what): padding must be in 0..<\(kernel + 64), got \(padding)")
        }
    }

    /// Adds one layer of a custom architecture (any registered type).
    package mutating func add(_ spec: LayerSpec, at what: String) throws {
        try spec.definition.build(into: &self, at: what)
    }

    /// Appends an already validated layer (from another builder whose shapes chain onto this one).
    package mutating func append(_ layer: Layer) {
        parameterCount += layer.parameterCount
        shape = layer.outputShape
        largestActivation = max(largestActivation, size)
        layers.append(layer)
    }

    package func build() -> Sequential {
        Sequential(layers: layers, inputShape: layers.first?.inputShape ?? shape)
    }
}
