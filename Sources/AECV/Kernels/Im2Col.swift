/// Convolution geometry of one layer, as seen from the "image" side (the larger, strided grid)
/// and the "column" side (one column per output position of a Conv2d).
///
/// For Conv2d the image is the input and columns index its output positions; for ConvTranspose2d
/// the image is the OUTPUT and columns index the input positions (the transposed convolution is
/// the adjoint of a convolution).
struct ConvGeometry: Equatable {
    var channels: Int        // C of the image
    var height: Int          // H of the image
    var width: Int           // W of the image
    var kernel: Int
    var stride: Int
    var padding: Int
    var columnHeight: Int    // OH: positions along H
    var columnWidth: Int     // OW: positions along W

    /// Rows of the column matrix: C·k·k, in the order of a (Cout, C, k, k) weight.
    var rows: Int { channels * kernel * kernel }
    var imageSize: Int { channels * height * width }
    var positions: Int { columnHeight * columnWidth }
}

/// The output positions o in 0..<count whose input coordinate o·s − p + j falls inside 0..<size:
/// o in lower..<upper. Hoisting this range out of the inner loops leaves them branch-free.
@inline(__always)
func validRange(offset j: Int, stride s: Int, padding p: Int, size: Int, count: Int) -> (Int, Int) {
    // o·s − p + j ≥ 0  ⇔  o ≥ ⌈(p − j)/s⌉;   o·s − p + j ≤ size − 1  ⇔  o ≤ ⌊(size − 1 + p − j)/s⌋
    let low = p - j <= 0 ? 0 : (p - j + s - 1) / s
    let highNumerator = size - 1 + p - j
    let high = highNumerator < 0 ? 0 : highNumerator / s + 1
    return (min(low, count), min(max(high, low), count))
}

/// Lays out the receptive fields of a whole batch as columns:
///
///     cols[(c·k + i)·k + j, n·OH·OW + oh·OW + ow] = x[n, c, oh·s − p + i, ow·s − p + j]  (0 outside)
///
/// x: (N, C, H, W); cols: (C·k·k, N·OH·OW), row-major.
func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, batch: Int,
            _ g: ConvGeometry) {
    let (k, s, p) = (g.kernel, g.stride, g.padding)
    let (oh, ow) = (g.columnHeight, g.columnWidth)
    let rowLength = batch * g.positions
    for c in 0..<g.channels {
        for i in 0..<k {
            let (yLow, yHigh) = validRange(offset: i, stride: s, padding: p, size: g.height, count: oh)
            for j in 0..<k {
                let (xLow, xHigh) = validRange(offset: j, stride: s, padding: p, size: g.width, count: ow)
                let row = cols + ((c * k + i) * k + j) * rowLength
                for n in 0..<batch {
                    let plane = x + (n * g.channels + c) * g.height * g.width
                    let out = row + n * g.positions
                    if yLow > 0 { out.update(repeating: 0, count: yLow * ow) }
                    for y in yLow..<yHigh {
                        let dst = out + y * ow
                        let src = plane + (y * s - p + i) * g.width - p + j
                        if xLow > 0 { dst.update(repeating: 0, count: xLow) }
                        if s == 1 {
                            (dst + xLow).update(from: src + xLow, count: xHigh - xLow)
                        } else {
                            for xo in xLow..<xHigh { dst[xo] = src[xo * s] }
                        }
                        if xHigh < ow { (dst + xHigh).update(repeating: 0, count: ow - xHigh) }
                    }
                    if yHigh < oh { (out + yHigh * ow).update(repeating: 0, count: (oh - yHigh) * ow) }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: scatters columns back onto the image grid, ADDING into x.
/// Callers zero x first when they want the plain sum. cols: (C·k·k, N·OH·OW); x: (N, C, H, W).
func col2im(_ cols: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, batch: Int,
            _ g: ConvGeometry) {
    let (k, s, p) = (g.kernel, g.stride, g.padding)
    let (oh, ow) = (g.columnHeight, g.columnWidth)
    let rowLength = batch * g.positions
    for c in 0..<g.channels {
        for i in 0..<k {
            let (yLow, yHigh) = validRange(offset: i, stride: s, padding: p, size: g.height, count: oh)
            for j in 0..<k {
                let (xLow, xHigh) = validRange(offset: j, stride: s, padding: p, size: g.width, count: ow)
                let row = cols + ((c * k + i) * k + j) * rowLength
                for n in 0..<batch {
                    let plane = x + (n * g.channels + c) * g.height * g.width
                    let src = row + n * g.positions
                    for y in yLow..<yHigh {
                        let dst = plane + (y * s - p + i) * g.width - p + j
                        let line = src + y * ow
                        if s == 1 {
                            for xo in xLow..<xHigh { dst[xo] += line[xo] }
                        } else {
                            for xo in xLow..<xHigh { dst[xo * s] += line[xo] }
                        }
                    }
                }
            }
        }
    }
}

/// (N, C, P) → (C, N·P): gathers each channel of a batch into one row, so one GEMM serves the batch.
func batchToChannelMajor(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                         batch: Int, channels: Int, positions: Int) {
    for n in 0..<batch {
        for c in 0..<channels {
            (dst + (c * batch + n) * positions).update(from: src + (n * channels + c) * positions,
                                                       count: positions)
        }
    }
}

/// (C, N·P) → (N, C, P), the inverse of `batchToChannelMajor`, adding `bias[c]` when given.
func channelMajorToBatch(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                         batch: Int, channels: Int, positions: Int, bias: UnsafePointer<Float>?) {
    for n in 0..<batch {
        for c in 0..<channels {
            let from = src + (c * batch + n) * positions
            let to = dst + (n * channels + c) * positions
            if let bias = bias {
                let b = bias[c]
                for q in 0..<positions { to[q] = from[q] + b }
            } else {
                to.update(from: from, count: positions)
            }
        }
    }
}
