/// An optimizer over the model's flat parameter buffer.
///
/// Steps are transactional: `prepare` computes the new parameters into `newParameters` and the new
/// optimizer state into the optimizer's spare buffers, leaving the current parameters and state
/// untouched, and reports whether every new value is finite. Only `commit` makes the step take
/// effect. A rejected step thus leaves the model bit-identical, at no extra copy: the update reads
/// the current buffers and writes the spare ones, as an in-place update would read and write.
///
/// The buffer is covered by `segments` (from the store's trainable mask): a frozen segment's
/// parameters and state are carried over unchanged, and a segment may have its own learning rate
/// (a fine-tuned encoder under a classifier head).
package protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    /// Completed steps.
    var step: Int { get }
    /// How the flat buffer is treated, range by range; one trainable segment by default.
    var segments: [ParameterSegment] { get set }
    func prepare(parameters: UnsafePointer<Float>, gradients: UnsafePointer<Float>,
                 newParameters: UnsafeMutablePointer<Float>) -> Bool
    func commit()
    /// Named state buffers (current), for model files: e.g. "adam.m", "adam.v".
    var stateBuffers: [(name: String, pointer: UnsafeMutablePointer<Float>)] { get }
    /// Restores the step counter (buffers are restored through `stateBuffers`).
    func restore(step: Int)
}

/// A contiguous range of the flat parameter buffer and how the optimizer treats it.
package struct ParameterSegment: Equatable {
    package var start: Int
    package var count: Int
    /// False: the parameters and their optimizer state are carried over unchanged.
    package var trainable: Bool
    /// The segment's own learning rate; nil for the optimizer's.
    package var learningRate: Float?

    package init(start: Int, count: Int, trainable: Bool, learningRate: Float? = nil) {
        (self.start, self.count, self.trainable, self.learningRate) = (start, count, trainable, learningRate)
    }
}

/// The one place optimizers are made from a spec: Adam or SGD over `count` parameters, with the
/// spec's learning rate unless `learningRate` is given.
/// - Throws: `AECVError.noMemory` when the state buffers cannot be allocated.
package func makeOptimizer(_ spec: OptimizerSpec, count: Int, segments: [ParameterSegment]? = nil) throws -> Optimizer {
    let optimizer: Optimizer
    switch spec.name {
    case .adam:
        optimizer = try Adam(count: count, learningRate: spec.learningRate, beta1: spec.beta1, beta2: spec.beta2,
                             epsilon: spec.epsilon, weightDecay: spec.weightDecay)
    case .sgd:
        optimizer = try SGD(count: count, learningRate: spec.learningRate, momentum: spec.momentum,
                            weightDecay: spec.weightDecay)
    }
    if let segments { optimizer.segments = segments }
    return optimizer
}
