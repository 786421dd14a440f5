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
            for j in 0..<k {
                let row = cols + ((c * k + i) * k + j) * rowLength
                for n in 0..<batch {
                    let plane = x + (n * g.channels + c) * g.height * g.width
                    let out = row + n * g.positions
                    for y in 0..<oh {
                        let iy = y * s - p + i
                        let dst = out + y * ow
                        if iy < 0 || iy >= g.height {
                            dst.update(repeating: 0, count: ow)
                            continue
                        }
                        let src = plane + iy * g.width
                        if s == 1 {
                            // Contiguous run: the valid x range of this row, zero padded at the ends.
                            for xo in 0..<ow {
                                let ix = xo - p + j
                                dst[xo] = (ix >= 0 && ix < g.width) ? src[ix] : 0
                            }
                        } else {
                            for xo in 0..<ow {
                                let ix = xo * s - p + j
                                dst[xo] = (ix >= 0 && ix < g.width) ? src[ix] : 0
                            }
                        }
                    }
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
            for j in 0..<k {
                let row = cols + ((c * k + i) * k + j) * rowLength
                for n in 0..<batch {
                    let plane = x + (n * g.channels + c) * g.height * g.width
                    let src = row + n * g.positions
                    for y in 0..<oh {
                        let iy = y * s - p + i
                        if iy < 0 || iy >= g.height { continue }
                        let dst = plane + iy * g.width
                        let line = src + y * ow
                        for xo in 0..<ow {
                            let ix = xo * s - p + j
                            if ix >= 0 && ix < g.width { dst[ix] += line[xo] }
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
