import AECVKernels

// The exponential that CKernels/sigmoid.c computes on every lane (sigmoid, BCE on logits), as
// the 8-lane Swift reference KernelTests compare it with bitwise. It was the library's own until
// those loops moved to C (Swift's baseline x86-64 build ran it as SSE pairs without FMA).

/// e^x on 8 lanes: x = n·ln2 + r with n = round(x·log2 e), |r| ≤ ln2/2, e^r by its degree-6
/// Taylor polynomial (relative error < 2e-7, about 2 ulp), times 2^n built in the exponent bits.
/// Inputs are clamped to [−87, 88], where e^x stays a normal float.
func exponential(_ x: Vector) -> Vector {
    // Lane selects, not clamped(lowerBound:upperBound:) (a generic pointwiseMin/Max call, 1–2% of a
    // dense step in perf). NaN compares false and passes through: NaN in, NaN out.
    let clamped = x.replacing(with: -87, where: x .< -87).replacing(with: 88, where: x .> 88)
    // Round x·log2 e to an integer by adding 1.5·2²³: the sum's low mantissa bits are the integer
    // (round to nearest), readable as Int32 bits. Generic SIMD rounding and Float→Int32
    // conversions are not vectorized (7% of a conv step in perf); this is two adds and a bitcast.
    let shifter = Vector(repeating: 12_582_912)
    let shifted = clamped * 1.442_695_04 + shifter
    let n = shifted - shifter
    let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    // r = x − n·ln2, with ln2 = 0.693359375 − 2.12194440e-4 (Cody–Waite): n·0.693359375 is exact.
    let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = Vector(repeating: 1.0 / 720)
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let scale = (integer &+ 127) &<< 23
    return p * unsafeBitCast(scale, to: Vector.self)
}

