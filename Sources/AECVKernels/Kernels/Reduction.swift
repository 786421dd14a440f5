/// db[r] += Σ_q dy[r, q]   — dy: (rows, length), db: (rows). The bias gradient of every layer
/// in the batch-minor layout (a row is one output unit or channel over positions × batch).
package func addRowSums(_ dy: UnsafePointer<Float>, rows: Int, length: Int, into db: UnsafeMutablePointer<Float>) {
    for r in 0..<rows { db[r] += sum(dy + r * length, count: length) }
}

/// The backward of a ReLU and of the bias before it, in one pass over the gradient (a layer
/// whose output a ReLU overwrote in place):
///
///     dy[r, i] = y[r, i] > 0 ? dy[r, i] : 0   (in place),   db[r] += Σ_i dy[r, i]
///
/// y is the ReLU's output, (rows, length) like dy; a nil db (a layer without bias) only masks.
/// The sums add in `addRowSums`'s order, so the result is that of `reluBackward` then
/// `addRowSums`, bit for bit. Why one pass: the two read the whole gradient (27 M floats per step for the seed model at 3×256², batch 32), and
/// masking in place saves the write-allocate of a separate output: 13% of a training step
/// there on a core whose memory bandwidth bounds these passes.
package func reluBackwardAddingRowSums(_ y: UnsafePointer<Float>, _ dy: UnsafeMutablePointer<Float>,
                                       rows: Int, length: Int, into db: UnsafeMutablePointer<Float>?) {
    typealias V = SIMD8<Float>
    for r in 0..<rows {
        let yr = y + r * length, g = dy + r * length
        var acc = V(repeating: 0)
        var i = 0
        while i + 8 <= length {
            let v = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
                .replacing(with: 0, where: UnsafeRawPointer(yr + i).loadUnaligned(as: V.self) .<= 0)
            UnsafeMutableRawPointer(g + i).storeBytes(of: v, as: V.self)
            acc += v
            i += 8
        }
        var s = acc.sum()
        while i < length {
            if !(yr[i] > 0) { g[i] = 0 }
            s += g[i]
            i += 1
        }
        db?[r] += s
    }
}

/// Σ x[i] with eight SIMD lanes: a scalar float reduction cannot be reordered, so the compiler
/// would not vectorize it.
@inline(__always)
func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    typealias V = SIMD8<Float>
    var acc = V(repeating: 0)
    var i = 0
    while i + 8 <= count {
        acc += UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
        i += 8
    }
    var s = acc.sum()
    while i < count { s += x[i]; i += 1 }
    return s
}

/// Σ (x[i] − y[i])² with eight SIMD lanes.
@inline(__always)
package func sumOfSquaredDifferences(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
    typealias V = SIMD8<Float>
    var acc = V(repeating: 0)
    var i = 0
    while i + 8 <= count {
        let d = UnsafeRawPointer(x + i).loadUnaligned(as: V.self) - UnsafeRawPointer(y + i).loadUnaligned(as: V.self)
        acc += d * d
        i += 8
    }
    var s = acc.sum()
    while i < count { s += (x[i] - y[i]) * (x[i] - y[i]); i += 1 }
    return s
}

/// y[r, :] = b[r]  — prefills a (rows, length) output with the bias before a GEMM with beta = 1.
package func fillRows(with b: UnsafePointer<Float>, rows: Int, length: Int, into y: UnsafeMutablePointer<Float>) {
    // One image (length 1) is a copy: a fill call per row took 1 µs of a 12 µs dense encode.
    if length == 1 { y.update(from: b, count: rows); return }
    for r in 0..<rows { (y + r * length).update(repeating: b[r], count: length) }
}

/// True when every value is finite. Uses the exponent bits so it vectorizes.
package func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
    var bad: UInt32 = 0
    x.withMemoryRebound(to: UInt32.self, capacity: count) { bits in
        for i in 0..<count {
            // Exponent all ones means Inf or NaN.
            bad |= ((bits[i] & 0x7F80_0000) == 0x7F80_0000) ? 1 : 0
        }
    }
    return bad == 0
}
