/// Elementwise activation layers; the math lives in Kernels/Elementwise.swift as forward/backward
/// pairs. Shapes pass through unchanged.
enum ActivationKind: Equatable {
    case relu
    case sigmoid
    case tanh
    case leakyReLU(slope: Float)
}

final class Activation: Layer {
    let kind: ActivationKind
    let inputShape: [Int]
    var outputShape: [Int] { inputShape }

    init(_ kind: ActivationKind, shape: [Int]) {
        self.kind = kind
        self.inputShape = shape
    }

    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        let count = batch * inputSize
        switch kind {
        case .relu: reluForward(input, output, count: count)
        case .sigmoid: sigmoidForward(input, output, count: count)
        case .tanh: tanhForward(input, output, count: count)
        case .leakyReLU(let slope): leakyReLUForward(input, output, count: count, slope: slope)
        }
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        guard let dx = inputGradient else { return }
        let count = batch * inputSize
        switch kind {
        case .relu: reluBackward(input, outputGradient, dx, count: count)
        case .sigmoid: sigmoidBackward(output, outputGradient, dx, count: count)
        case .tanh: tanhBackward(output, outputGradient, dx, count: count)
        case .leakyReLU(let slope):
            leakyReLUBackward(input, outputGradient, dx, count: count, slope: slope)
        }
    }
}

/// Flatten ([C, H, W] → [C·H·W]) and Unflatten ([F] → shape): the data is already contiguous
/// NCHW, so both are a copy of the buffer under a new per-example shape.
final class Reshape: Layer {
    let inputShape: [Int]
    let outputShape: [Int]

    init(from inputShape: [Int], to outputShape: [Int]) {
        self.inputShape = inputShape
        self.outputShape = outputShape
    }

    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        output.update(from: input, count: batch * inputSize)
    }

    func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  batch: Int) {
        inputGradient?.update(from: outputGradient, count: batch * inputSize)
    }
}
