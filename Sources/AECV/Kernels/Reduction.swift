/// db[r] += Σ_q dy[r, q]   — dy: (rows, length), db: (rows). The bias gradient of every layer
/// in the batch-minor layout (a row is one output unit or channel over positions × batch).
func addRowSums(_ dy: UnsafePointer<Float>, rows: Int, length: Int, into db: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = dy + r * length
        var s: Float = 0
        for q in 0..<length { s += row[q] }
        db[r] += s
    }
}

/// y[r, :] = b[r]  — prefills a (rows, length) output with the bias before a GEMM with beta = 1.
func fillRows(with b: UnsafePointer<Float>, rows: Int, length: Int, into y: UnsafeMutablePointer<Float>) {
    for r in 0..<rows { (y + r * length).update(repeating: b[r], count: length) }
}

/// True when every value is finite. Uses the exponent bits so it vectorizes.
func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
    var bad: UInt32 = 0
    x.withMemoryRebound(to: UInt32.self, capacity: count) { bits in
        for i in 0..<count {
            // Exponent all ones means Inf or NaN.
            bad |= ((bits[i] & 0x7F80_0000) == 0x7F80_0000) ? 1 : 0
        }
    }
    return bad == 0
}
