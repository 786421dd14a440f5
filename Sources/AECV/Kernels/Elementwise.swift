#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Elementwise forward/backward pairs. Each backward has the forward's argument names plus the
// gradients, and ACCUMULATES nothing: dx is written (activations never share an input).
// x, y, dy, dx: `count` floats.

/// y = max(x, 0)
func reluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = x[i] > 0 ? x[i] : 0 }
}

/// dx = dy · [x > 0]  (the kink at 0 takes the subgradient 0, as PyTorch does)
func reluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                  _ dx: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { dx[i] = x[i] > 0 ? dy[i] : 0 }
}

/// y = x if x > 0 else slope · x
func leakyReLUForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                      slope: Float) {
    for i in 0..<count { y[i] = x[i] > 0 ? x[i] : slope * x[i] }
}

/// dx = dy · (1 if x > 0 else slope)
func leakyReLUBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                       _ dx: UnsafeMutablePointer<Float>, count: Int, slope: Float) {
    for i in 0..<count { dx[i] = x[i] > 0 ? dy[i] : slope * dy[i] }
}

/// y = 1 / (1 + e^(−x)), computed without overflow for large |x|.
@inline(__always) func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + expf(-x)) }
    let e = expf(x)
    return e / (1 + e)
}

func sigmoidForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = sigmoid(x[i]) }
}

/// dx = dy · y (1 − y), from the saved output y.
func sigmoidBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                     _ dx: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { dx[i] = dy[i] * y[i] * (1 - y[i]) }
}

/// y = tanh(x)
func tanhForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = tanhf(x[i]) }
}

/// dx = dy · (1 − y²), from the saved output y.
func tanhBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                  _ dx: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
}

/// Stores a SIMD vector to unaligned memory.
@inline(__always)
func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<V.Scalar>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}
