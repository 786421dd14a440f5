#if canImport(Glibc)
import Glibc
#endif
import AECVKernels

/// Binary cross-entropy on one logit z against a 0/1 target, the scalar form of
/// `ReconstructionLoss.binaryCrossEntropyWithLogits` (whose vector kernels are in
/// Kernels/Elementwise.swift):
///
///     BCE(z, 0) = softplus(z) = log(1 + e^z),   BCE(z, 1) = softplus(z) − z,   ∂/∂z = σ(z) − t
package enum BinaryCrossEntropyWithLogits {
    /// log(1 + e^z), computed without overflow.
    @inline(__always)
    package static func negative(_ z: Float) -> Float {
        z > 0 ? z + log1pf(expf(-z)) : log1pf(expf(z))
    }

    @inline(__always)
    package static func positive(_ z: Float) -> Float { negative(z) - z }

    @inline(__always)
    package static func gradient(_ z: Float, target: Float) -> Float { sigmoid(z) - target }
}
