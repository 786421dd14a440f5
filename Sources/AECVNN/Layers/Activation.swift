/// An elementwise function and its derivative: the math of an activation layer. Each activation
/// is one file in Activations/ whose type is at once this math and its spec definition (an
/// activation's spec is its name plus its parameters, e.g. `{"type": "leaky_relu", "slope": 0.2}`).
package protocol ActivationFunction: LayerDefinition {
    /// y = f(x) over `count` floats.
    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int)
    /// dx = f'(x) · dy, from whichever of x and y = f(x) is cheaper.
    func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                  outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
                  count: Int)
    /// True when `backward` gives the same dx when handed y in place of x (ReLU: y > 0 exactly
    /// when x > 0; sigmoid and tanh read y only), so that the layer can run in place.
    var derivativeFromOutput: Bool { get }
    /// The activation's ONNX node(s) on `input`; the default throws "cannot be exported yet".
    func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String
}

extension ActivationFunction {
    package var derivativeFromOutput: Bool { false }
    package func build(into builder: inout NetworkBuilder, at path: String) throws { try builder.activation(self) }
}

/// An elementwise activation layer; shapes pass through unchanged. The math lives in
/// Kernels/Elementwise.swift as forward/backward pairs, reached through the `ActivationFunction`.
package final class Activation: Layer {
    package let function: any ActivationFunction
    package let inputShape: [Int]
    package var outputShape: [Int] { inputShape }

    package init(_ function: some ActivationFunction, shape: [Int]) {
        self.function = function
        self.inputShape = shape
    }

    /// In place over the previous layer's output when the derivative needs only y (see
    /// `Sequential`): one activation buffer fewer per such layer, half the memory of a conv + ReLU
    /// stage.
    package var runsInPlace: Bool { function.derivativeFromOutput }

    package func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        function.forward(input, output, count: batch * inputSize)
    }

    package func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        guard let dx = inputGradient else { return }
        function.backward(input: input, output: output, outputGradient: outputGradient, inputGradient: dx,
                          count: batch * inputSize)
    }

    package func exportONNX(_ graph: inout ONNXGraphBuilder, input: String, name: String) throws -> String {
        try function.exportONNX(&graph, input: input, name: name)
    }
}

extension NetworkBuilder {
    package mutating func activation(_ function: some ActivationFunction) throws {
        try add(Activation(function, shape: shape), parameters: 0)
    }
}
