/// An optimizer over the model's flat parameter buffer.
///
/// Steps are transactional: `prepare` computes the new parameters into `newParameters` and the new
/// optimizer state into the optimizer's spare buffers, leaving the current parameters and state
/// untouched, and reports whether every new value is finite. Only `commit` makes the step take
/// effect. A rejected step thus leaves the model bit-identical, at no extra copy: the update reads
/// the current buffers and writes the spare ones, as an in-place update would read and write.
protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    /// Completed steps.
    var step: Int { get }
    func prepare(parameters: UnsafePointer<Float>, gradients: UnsafePointer<Float>,
                 newParameters: UnsafeMutablePointer<Float>) -> Bool
    func commit()
    /// Named state buffers (current), for model files: e.g. "adam.m", "adam.v".
    var stateBuffers: [(name: String, pointer: UnsafeMutablePointer<Float>)] { get }
    /// Restores the step counter (buffers are restored through `stateBuffers`).
    func restore(step: Int)
}

/// A pair of equally sized buffers: `current` is the state in force, `spare` receives the next.
final class DoubleBuffer {
    let count: Int
    private(set) var current: UnsafeMutablePointer<Float>
    private(set) var spare: UnsafeMutablePointer<Float>

    init(count: Int) {
        self.count = count
        current = .allocate(capacity: max(count, 1))
        current.initialize(repeating: 0, count: max(count, 1))
        spare = .allocate(capacity: max(count, 1))
        spare.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { current.deallocate(); spare.deallocate() }

    func swap() { Swift.swap(&current, &spare) }
}
