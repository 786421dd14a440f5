#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels

// Elementwise forward/backward pairs. Each backward has the forward's argument names plus the
// gradients, and ACCUMULATES nothing: dx is written (activations never share an input).
// x, y, dy, dx: `count` floats.

// The ReLU runs 8 lanes at a time: with three pointers that may alias, the compiler does not
// vectorize the scalar loops on its own. (In this baseline x86-64 build 8 lanes are two SSE
// vectors; the sigmoid and the BCE on logits, compute bound, are C on AVX-512/AVX2 lanes.)
// Inlinable package: the layers (AECVNN) use the same lanes in their own loops.
@usableFromInline package typealias Vector = SIMD8<Float>

/// Eight floats from unaligned memory.
@inlinable @inline(__always) package func load(_ p: UnsafePointer<Float>) -> Vector {
    UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
}

/// y[i] = x[i]·scale + shift (BatchNorm's normalization and evaluation-mode gradient).
package func scaleShift(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                        scale: Float, shift: Float) {
    var i = 0
    while i + 8 <= count { store(load(x + i) * scale + shift, y + i); i += 8 }
    while i < count { y[i] = x[i] * scale + shift; i += 1 }
}

/// y = relu(x·scale + shift) as `scaleShift` then `reluForward` compute it, in one pass
/// (BatchNorm followed by a ReLU).
package func scaleShiftReLU(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                            scale: Float, shift: Float) {
    var i = 0
    while i + 8 <= count {
        let v = load(x + i) * scale + shift
        store(v.replacing(with: 0, where: v .<= 0), y + i)
        i += 8
    }
    while i < count { let v = x[i] * scale + shift; y[i] = v > 0 ? v : 0; i += 1 }
}

/// y = max(x, 0)
package func reluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        store(load(x + i).replacing(with: 0, where: load(x + i) .<= 0), y + i)
        i += 8
    }
    while i < count { y[i] = x[i] > 0 ? x[i] : 0; i += 1 }
}

/// dx = dy · [x > 0]  (the kink at 0 takes the subgradient 0, as PyTorch does)
package func reluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                  _ dx: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        store(load(dy + i).replacing(with: 0, where: load(x + i) .<= 0), dx + i)
        i += 8
    }
    while i < count { dx[i] = x[i] > 0 ? dy[i] : 0; i += 1 }
}

/// y = x if x > 0 else slope · x
package func leakyReLUForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                      slope: Float) {
    for i in 0..<count { y[i] = x[i] > 0 ? x[i] : slope * x[i] }
}

/// dx = dy · (1 if x > 0 else slope)
package func leakyReLUBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                       _ dx: UnsafeMutablePointer<Float>, count: Int, slope: Float) {
    for i in 0..<count { dx[i] = x[i] > 0 ? dy[i] : slope * dy[i] }
}

/// y = 1 / (1 + e^(−x)), computed without overflow for large |x|. Inlinable: the other targets
/// call it per element (detection decoding), and a call per value would cost more than it.
@inlinable @inline(__always) package func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + expf(-x)) }
    let e = expf(x)
    return e / (1 + e)
}

/// y = σ(x), with the polynomial exponential on AVX-512 or AVX2 lanes where the CPU has them
/// (CKernels/sigmoid.c: Swift's baseline x86-64 build would run SSE pairs without FMA), and
/// `sigmoid` for the last values. y may be x.
package func sigmoidForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    ckernels_sigmoid(x, y, count)
}

/// A sigmoid output layer and the squared error against t in one pass, for a training step:
///
///     y = σ(a),   returns Σ (y − t)²,   da = (2·scale·(y − t)) · y · (1 − y)
///
/// y and da bitwise as `sigmoidForward`, then `ReconstructionLoss.meanSquaredError`'s backward,
/// then `sigmoidBackward`; the sum as its forward's (float sums over blocks of 4096, added in
/// double) up to the order of the lanes. Those four passes move 9 arrays through memory, this one
/// 4 (a, t in; y, da out), on AVX-512 or AVX2 lanes (CKernels/sigmoid.c). y may be a.
package func sigmoidSquaredErrorForwardBackward(_ a: UnsafePointer<Float>, _ t: UnsafePointer<Float>,
                                                _ y: UnsafeMutablePointer<Float>, _ da: UnsafeMutablePointer<Float>,
                                                count: Int, scale: Float) -> Double {
    ckernels_sigmoid_squared_error(a, t, y, da, count, scale)
}

/// dx = dy · y (1 − y), from the saved output y.
package func sigmoidBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                     _ dx: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let v = load(y + i)
        store(load(dy + i) * v * (1 - v), dx + i)
        i += 8
    }
    while i < count { dx[i] = dy[i] * y[i] * (1 - y[i]); i += 1 }
}

/// Σ_i max(x_i, 0) − x_i·t_i + log(1 + e^(−|x_i|)): the binary cross-entropy of logits x against
/// targets t, summed; Float lanes (16 on AVX-512, else 8) per block of 512 values, each block's
/// sum added in Double, the last count mod 8 values in Double with libm. log(1 + u) for
/// u = e^(−|x|) ∈ (0, 1] is 2·atanh(s) = 2(s + s³/3 + … + s¹⁷/17) with s = u / (2 + u) ∈ (0, 1/3]:
/// the truncation is below 1e-10 relative, and small u keep full relative precision (unlike
/// log(1 + u) after rounding 1 + u). Replaces a Double libm log1p and exp per pixel (7% of a
/// conv VAE step).
package func binaryCrossEntropyWithLogitsSum(_ x: UnsafePointer<Float>, _ t: UnsafePointer<Float>, count: Int) -> Double {
    ckernels_bce_logits_sum(x, t, count)   // CKernels/sigmoid.c: AVX-512 or AVX2 lanes by CPUID
}

/// dx = scale · (σ(x) − t), the gradient of the BCE-with-logits sum times scale (CKernels/sigmoid.c).
package func binaryCrossEntropyWithLogitsGradient(_ x: UnsafePointer<Float>, _ t: UnsafePointer<Float>,
                                          _ dx: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
    ckernels_bce_logits_gradient(x, t, dx, count, scale)
}

/// y = tanh(x)
package func tanhForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = tanhf(x[i]) }
}

/// dx = dy · (1 − y²), from the saved output y.
package func tanhBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                  _ dx: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
}

/// Stores a SIMD vector to unaligned memory.
@inlinable @inline(__always)
package func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<V.Scalar>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}
