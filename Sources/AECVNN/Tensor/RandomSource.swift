#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A seedable pseudo-random generator (xoshiro256**, seeded through splitmix64). Each model owns
/// one; there is no global random state, so a model is reproducible from its spec's seed.
/// The state is a value: copying it snapshots the stream (used to roll back a failed step).
public struct RandomSource: Equatable, Sendable {
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitmix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// Restores a state read from a model file (an all-zero state is invalid and replaced).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        self.state = state
        if state == (0, 0, 0, 0) { self = RandomSource(seed: 0) }
    }

    public static func == (a: RandomSource, b: RandomSource) -> Bool { a.state == b.state }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }

    /// Uniform in [0, 1), 24 random bits.
    @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [low, high).
    @inline(__always)
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * uniform()
    }

    /// Standard normal, by Box–Muller on two 53-bit uniforms.
    public mutating func normal() -> Float {
        let u1 = Double((next() >> 11) + 1) * (1.0 / 9_007_199_254_740_993.0)  // (0, 1]
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float(sqrt(-2 * log(u1)) * cos(2 * Double.pi * u2))
    }

    /// Two independent standard normals from one Box–Muller draw, in Float (both the cosine and
    /// the sine branch: half the draws and transcendentals of `normal()`). The definition that
    /// denoising's Gaussian corruption reproduces in C (`ckernels_gaussian_corrupt`: the same
    /// words of the stream, inline math instead of libm).
    @inline(__always)
    public mutating func normalPair() -> (Float, Float) {
        let u1 = Float((next() >> 40) + 1) * (1.0 / 16_777_216.0)   // (0, 1]
        let u2 = Float(next() >> 40) * (1.0 / 16_777_216.0)
        let radius = (-2 * logf(u1)).squareRoot()
        let angle = 2 * Float.pi * u2
        return (radius * cosf(angle), radius * sinf(angle))
    }

    /// Runs `body` on the state as 4 contiguous words, for C kernels that draw from this stream
    /// (CKernels' xoshiro256** step is the same as `next()`).
    package mutating func withStateWords<R>(_ body: (UnsafeMutablePointer<UInt64>) -> R) -> R {
        withUnsafeMutableBytes(of: &state) { body($0.baseAddress!.assumingMemoryBound(to: UInt64.self)) }
    }

    /// Fills `count` floats with N(0, 1) samples.
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { p[i] = normal() }
    }

    /// Fills `count` floats uniformly in [-bound, bound).
    public mutating func fillUniform(_ p: UnsafeMutablePointer<Float>, count: Int, bound: Float) {
        for i in 0..<count { p[i] = uniform(-bound, bound) }
    }
}
