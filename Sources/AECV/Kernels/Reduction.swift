/// db[j] += Σ_n dy[n, j]   — dy: (rows, columns), db: (columns). The bias gradient of Dense.
func addColumnSums(_ dy: UnsafePointer<Float>, rows: Int, columns: Int,
                   into db: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = dy + r * columns
        for j in 0..<columns { db[j] += row[j] }
    }
}

/// db[c] += Σ_{n,p} dy[n, c, p]   — dy: (N, C, P), db: (C). The bias gradient of convolutions.
func addChannelSums(_ dy: UnsafePointer<Float>, batch: Int, channels: Int, positions: Int,
                    into db: UnsafeMutablePointer<Float>) {
    for n in 0..<batch {
        for c in 0..<channels {
            let plane = dy + (n * channels + c) * positions
            var s: Float = 0
            for q in 0..<positions { s += plane[q] }
            db[c] += s
        }
    }
}

/// y[n, :] = b  — prefills a (rows, columns) output with the bias before a GEMM with beta = 1.
func broadcastRows(_ b: UnsafePointer<Float>, rows: Int, columns: Int,
                   into y: UnsafeMutablePointer<Float>) {
    for r in 0..<rows { (y + r * columns).update(from: b, count: columns) }
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
