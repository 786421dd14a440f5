import AECVKernels
import AECVNN

/// The argument checks every batch entry point makes, with one wording everywhere:
/// `inputs: batch 64 needs 50176 floats, capacity 784`.
package enum BatchCheck {
    /// The largest batch buffer accepted, in floats (8 GiB of float32).
    static let maxFloats = Int(Int32.max) * 4

    /// `count` floats hold exactly (or, for outputs, at least) batch × perExample.
    static func examples(_ name: String, count: Int, batch: Int, perExample: Int, exact: Bool) throws {
        if batch < 1 { throw AECVError.invalidArgument("batch: must be at least 1, got \(batch)") }
        let (needed, overflow) = batch.multipliedReportingOverflow(by: perExample)
        if overflow || needed > maxFloats {
            throw AECVError.noMemory("\(name): batch \(batch) × \(perExample) floats is too large")
        }
        if exact ? count != needed : count < needed {
            throw AECVError.shape("\(name): batch \(batch) needs \(needed) floats, \(exact ? "got" : "capacity") \(count)")
        }
    }

    /// Every float of `buffer` is finite.
    static func finite(_ name: String, _ buffer: UnsafeBufferPointer<Float>) throws {
        guard let base = buffer.baseAddress else { return }
        if !allFinite(base, count: buffer.count) { throw AECVError.nonFinite("\(name): contains NaN or Inf") }
    }

    /// An exact, finite input batch.
    package static func inputs(_ name: String, _ buffer: UnsafeBufferPointer<Float>, batch: Int, perExample: Int) throws {
        try examples(name, count: buffer.count, batch: batch, perExample: perExample, exact: true)
        try finite(name, buffer)
    }

    /// A learning rate a host may set between steps.
    static func learningRate(_ learningRate: Float) throws {
        guard learningRate.isFinite, learningRate > 0, learningRate <= 1e6 else {
            throw AECVError.invalidArgument("learning_rate: must be a finite number in (0, 1e6], got \(learningRate)")
        }
    }
}
