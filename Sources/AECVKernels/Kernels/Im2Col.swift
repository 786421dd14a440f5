import CKernels

// Activations between layers are stored BATCH-MINOR: an image batch is (C, H, W, N) and a vector
// batch is (F, N), the example index varying fastest. With this layout (as in cuda-convnet):
// - a convolution's GEMM output (Cout, OH·OW·N) IS the next layer's input, with no transpose;
// - im2col and col2im move contiguous runs of N floats instead of single pixels;
// - a Dense layer is y (out, N) = W (out, in) · x (in, N), one GEMM for the batch.
// The model transposes user buffers (N, C·H·W) once on the way in and once on the way out.

/// Convolution geometry of one layer, as seen from the "image" side (the larger, strided grid)
/// and the "column" side (one column per output position of a Conv2d, times the batch).
///
/// For Conv2d the image is the input and columns index its output positions; for ConvTranspose2d
/// the image is the OUTPUT and columns index the input positions (the transposed convolution is
/// the adjoint of a convolution).
package struct ConvGeometry: Equatable {
    package var channels: Int        // C of the image
    package var height: Int          // H of the image
    package var width: Int           // W of the image
    package var kernel: Int
    package var stride: Int
    package var padding: Int
    package var columnHeight: Int    // OH: positions along H
    package var columnWidth: Int     // OW: positions along W

    package init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int,
                 columnHeight: Int, columnWidth: Int) {
        (self.channels, self.height, self.width) = (channels, height, width)
        (self.kernel, self.stride, self.padding) = (kernel, stride, padding)
        (self.columnHeight, self.columnWidth) = (columnHeight, columnWidth)
    }

    /// Rows of the column matrix: C·k·k, in the order of a (Cout, C, k, k) weight.
    package var rows: Int { channels * kernel * kernel }
    package var imageSize: Int { channels * height * width }
    package var positions: Int { columnHeight * columnWidth }

    /// The floats that one band of columns aims at: 512 KB, so that a band written by im2col (or
    /// a GEMM) is still in L2 when the next pass reads it.
    package static let bandFloats = 1 << 17

    /// Position rows per band of the GEMM paths, which produce and consume the column matrix a
    /// band at a time instead of whole: whole, the columns of a 3 → 16 convolution of 256²
    /// images are 27 × 128² × N floats, 57 MB at batch 32, and every such layer kept its own.
    /// At least one row: a band is then rows × OW × N floats, the one part that grows with the
    /// batch (`scratchFloatsPerExample`). One image is one band, for the one-image C loops.
    package func bandRows(batch: Int) -> Int {
        batch == 1 ? columnHeight : min(columnHeight, max(1, ConvGeometry.bandFloats / max(1, rows * columnWidth * batch)))
    }

    /// Floats of one band's column buffer: (C·k·k, bandRows·OW·N).
    package func bandBufferFloats(batch: Int) -> Int { rows * bandRows(batch: batch) * columnWidth * batch }

    /// Calls `body(band, offset, width)` for each band of position rows, in order: `offset` is
    /// the band's first column in a (·, OH·OW·N) matrix and `width` its column count.
    @inline(__always)
    package func forEachBand(batch: Int, _ body: (Range<Int>, Int, Int) -> Void) {
        let line = columnWidth * batch, step = bandRows(batch: batch)
        var first = 0
        while first < columnHeight {
            let last = min(first + step, columnHeight)
            body(first..<last, first * line, (last - first) * line)
            first = last
        }
    }

    /// Floats per example that a band's column buffer grows with the batch: one position row.
    /// The fixed band (`bandFloats`) and one image's whole columns are small beside a batch's
    /// activations.
    package var bandFloatsPerExample: Int { rows * columnWidth }
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

/// Lays out the receptive fields of a batch as columns, in the batch-minor layout:
///
///     cols[(c·k + i)·k + j, (oh·OW + ow)·N + n] = x[c, oh·s − p + i, ow·s − p + j, n]   (0 outside)
///
/// x: (C, H, W, N); cols: (C·k·k, OH·OW·N), row-major.
///
/// With `positionRows` a..<b, only the columns of position rows a..<b are written, as
/// (C·k·k, (b − a)·OW·N): the band that `col2im(positionRows:)` takes back.
package func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, batch n: Int,
            _ g: ConvGeometry, positionRows: Range<Int>? = nil) {
    if n == 1, positionRows == nil || positionRows == 0..<g.columnHeight {
        // One image (latency): the C loops, without the batched path's per-row overhead.
        ckernels_im2col_single(x, cols, g.channels, g.height, g.width, g.kernel, g.stride, g.padding,
                               g.columnHeight, g.columnWidth)
        return
    }
    let (k, s, p) = (g.kernel, g.stride, g.padding)
    let (oh, ow) = (g.columnHeight, g.columnWidth)
    let band = positionRows ?? 0..<oh
    let lineLength = ow * n            // one output row of positions, all examples
    let rows = band.count
    let rowLength = rows * lineLength
    let imageLine = g.width * n        // one input row, all examples
    for c in 0..<g.channels {
        let plane = x + c * g.height * imageLine
        for i in 0..<k {
            let (validLow, validHigh) = validRange(offset: i, stride: s, padding: p, size: g.height, count: oh)
            // The valid rows clamped to the band and counted from its start (yLow ≤ yHigh): below
            // yLow and from yHigh on, kernel row i reads padding.
            let yLow = min(max(validLow, band.lowerBound), band.upperBound) - band.lowerBound
            let yHigh = min(max(validHigh, band.lowerBound), band.upperBound) - band.lowerBound
            for j in 0..<k {
                let (xLow, xHigh) = validRange(offset: j, stride: s, padding: p, size: g.width, count: ow)
                let row = cols + ((c * k + i) * k + j) * rowLength
                if yLow > 0 { row.update(repeating: 0, count: yLow * lineLength) }
                for y in yLow..<yHigh {
                    let dst = row + y * lineLength
                    let src = plane + ((y + band.lowerBound) * s - p + i) * imageLine
                    if xLow > 0 { dst.update(repeating: 0, count: xLow * n) }
                    if s == 1 {
                        (dst + xLow * n).update(from: src + (xLow - p + j) * n, count: (xHigh - xLow) * n)
                    } else {
                        for xo in xLow..<xHigh {
                            copy(src + (xo * s - p + j) * n, into: dst + xo * n, count: n)
                        }
                    }
                    if xHigh < ow { (dst + xHigh * n).update(repeating: 0, count: (ow - xHigh) * n) }
                }
                if yHigh < rows { (row + yHigh * lineLength).update(repeating: 0, count: (rows - yHigh) * lineLength) }
            }
        }
    }
}

/// The adjoint of `im2col`: scatters columns back onto the image grid, ADDING into x.
/// Callers zero x (or fill it with a bias) first. cols: (C·k·k, OH·OW·N); x: (C, H, W, N).
///
/// With `positionRows` a..<b, cols holds only the columns of position rows a..<b,
/// (C·k·k, (b − a)·OW·N), and only their contributions are added: a caller can produce and
/// scatter the columns a band at a time, in a buffer that stays in cache.
package func col2im(_ cols: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, batch n: Int,
            _ g: ConvGeometry, positionRows: Range<Int>? = nil) {
    if n == 1, positionRows == nil || positionRows == 0..<g.columnHeight {
        ckernels_col2im_single(cols, x, g.channels, g.height, g.width, g.kernel, g.stride, g.padding,
                               g.columnHeight, g.columnWidth)
        return
    }
    let (k, s, p) = (g.kernel, g.stride, g.padding)
    let (oh, ow) = (g.columnHeight, g.columnWidth)
    let band = positionRows ?? 0..<oh
    let lineLength = ow * n
    let rowLength = band.count * lineLength
    let imageLine = g.width * n
    for c in 0..<g.channels {
        let plane = x + c * g.height * imageLine
        for i in 0..<k {
            let (yLow, yHigh) = validRange(offset: i, stride: s, padding: p, size: g.height, count: oh)
            for j in 0..<k {
                let (xLow, xHigh) = validRange(offset: j, stride: s, padding: p, size: g.width, count: ow)
                let row = cols + ((c * k + i) * k + j) * rowLength
                let (first, last) = (max(yLow, band.lowerBound), min(yHigh, band.upperBound))
                guard first < last else { continue }
                for y in first..<last {
                    let src = row + (y - band.lowerBound) * lineLength
                    let dst = plane + (y * s - p + i) * imageLine
                    if s == 1 {
                        add(src + xLow * n, into: dst + (xLow - p + j) * n, count: (xHigh - xLow) * n)
                    } else {
                        for xo in xLow..<xHigh {
                            add(src + xo * n, into: dst + (xo * s - p + j) * n, count: n)
                        }
                    }
                }
            }
        }
    }
}

/// y[i] += x[i], 8 lanes at a time. Inlinable: pooling and upsampling (AECVNN) call it per
/// pixel with runs of N floats; across targets it was an out-of-line call each time.
@inlinable @inline(__always)
package func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    var q = 0
    while q + 8 <= count {
        store(UnsafeRawPointer(x + q).loadUnaligned(as: SIMD8<Float>.self)
              + UnsafeRawPointer(y + q).loadUnaligned(as: SIMD8<Float>.self), y + q)
        q += 8
    }
    while q < count { y[q] += x[q]; q += 1 }
}

/// y[i] = x[i], 8 lanes at a time: for the runs of N floats (one pixel of a batch, 64–128
/// bytes) that a strided im2col copies, where a call to memmove per run cost more than the copy
/// (memmove was 7% of a 128 px training step on the GEMM path; inlined, the step is 1% faster
/// at 128 px and 3.6% at 256 px).
@inlinable @inline(__always)
package func copy(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    var q = 0
    while q + 8 <= count {
        store(UnsafeRawPointer(x + q).loadUnaligned(as: SIMD8<Float>.self), y + q)
        q += 8
    }
    while q < count { y[q] = x[q]; q += 1 }
}

/// dst (columns × rows) = srcᵀ for src (rows × columns), in 8 × 8 register blocks
/// (CKernels/transpose.c says why not a loop of scalar stores).
/// Converts between the caller's (N, features) buffers and the batch-minor (features, N) layout.
package func transpose(_ src: UnsafePointer<Float>, rows: Int, columns: Int, into dst: UnsafeMutablePointer<Float>) {
    if rows == 1 || columns == 1 {
        dst.update(from: src, count: rows * columns)
        return
    }
    ckernels_transpose(src, rows, columns, dst)
}
