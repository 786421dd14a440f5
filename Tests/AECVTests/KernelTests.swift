import XCTest
@testable import AECVKernels
@testable import AECVNN
@testable import AECVModels
@testable import AECVTasks
@testable import AECVIO
import AECV
import CKernels

/// The hand-vectorized kernels against their scalar definitions.
final class KernelTests: XCTestCase {
    func testExponentialMatchesExpf() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let v = exponential(Vector(repeating: x))[0]
            worst = max(worst, abs(v - expf(x)) / expf(x))
            x += 0.0137
        }
        XCTAssertLessThan(worst, 4e-7, "relative error of the SIMD exponential")
        XCTAssertEqual(exponential(Vector(repeating: -1000))[0], expf(-87), accuracy: expf(-87) * 1e-6)
        XCTAssertTrue(exponential(Vector(repeating: 1000))[0].isFinite)
    }

    func testVectorizedActivationsMatchScalar() {
        var random = RandomSource(seed: 1)
        let n = 37   // not a multiple of 8: exercises the scalar tail
        let x = (0..<n).map { _ in random.uniform(-20, 20) }
        let dy = (0..<n).map { _ in random.uniform(-1, 1) }
        var y = [Float](repeating: 0, count: n), dx = y
        // The C sigmoid (CKernels/sigmoid.c) at each vector width this CPU has.
        defer { _ = ckernels_sigmoid_force_level(-1) }
        for level in 0...ckernels_cpu_level() {
            XCTAssertEqual(ckernels_sigmoid_force_level(level), 1)
            sigmoidForward(x, &y, count: n)
            for i in 0..<n { XCTAssertEqual(y[i], sigmoid(x[i]), accuracy: 3e-7, "level \(level)") }
            // bitwise the Swift vector formula on whole 8-lane groups (the scalar tail is `sigmoid`)
            for i in stride(from: 0, to: n - n % 8, by: 8) {
                let swift = 1 / (1 + exponential(-x.withUnsafeBufferPointer { load($0.baseAddress! + i) }))
                for k in 0..<8 { XCTAssertEqual(y[i + k], swift[k], "level \(level), value \(i + k)") }
            }
            for i in n - n % 8..<n { XCTAssertEqual(y[i], sigmoid(x[i]), "level \(level), tail value \(i)") }
        }
        reluForward(x, &y, count: n)
        XCTAssertEqual(y, x.map { max($0, 0) })
        reluBackward(x, dy, &dx, count: n)
        XCTAssertEqual(dx, (0..<n).map { x[$0] > 0 ? dy[$0] : 0 })
    }

    /// The fused sigmoid + squared-error pass gives the floats of the passes it replaces (the
    /// sigmoid, the loss's forward and backward, the sigmoid's backward), for counts across the
    /// 4096-value summation blocks with and without a tail, separate and in place, at every
    /// vector width this CPU has (AVX-512, AVX2, baseline): each width's sigmoid is bitwise the
    /// others'. The loss may differ in its last bits (the lanes' partial sums are added in
    /// another order).
    func testSigmoidSquaredErrorPassMatchesTheLayerByLayerPath() {
        let levels = Array(0...Int(ckernels_cpu_level()))
        if levels.count < 3 { print("KernelTests: only sigmoid levels \(levels) on this CPU (2 = AVX-512, 1 = AVX2); the others are not tested here") }
        defer { _ = ckernels_sigmoid_force_level(-1) }
        var random = RandomSource(seed: 2)
        let scale: Float = 1 / 3000
        for n in [1, 7, 8, 37, 4096, 4103, 12_290] {
            // Logits past the exponential's clamps (±87, 88) too.
            let a = (0..<n).map { i in i % 97 == 0 ? Float(i % 2 == 0 ? 95 : -95) : random.uniform(-12, 12) }
            let t = (0..<n).map { _ in random.uniform(0, 1) }
            var reference: [Float]? = nil
            for level in levels {
                XCTAssertEqual(ckernels_sigmoid_force_level(Int32(level)), 1)
                var y = [Float](repeating: 0, count: n), dy = y, da = y
                sigmoidForward(a, &y, count: n)
                if let reference { XCTAssertEqual(y, reference, "sigmoid at level \(level), \(n) values") }
                reference = y
                let loss = ReconstructionLoss.meanSquaredError.forward(output: y, target: t, count: n, scale: scale)
                ReconstructionLoss.meanSquaredError.backward(output: y, target: t, gradient: &dy, count: n, scale: scale)
                sigmoidBackward(y, dy, &da, count: n)
                for inPlace in [false, true] {
                    var fusedY = inPlace ? a : [Float](repeating: -1, count: n)
                    var fusedDa = [Float](repeating: -1, count: n)
                    let sum = inPlace
                        ? fusedY.withUnsafeMutableBufferPointer { p in
                            sigmoidSquaredErrorForwardBackward(p.baseAddress!, t, p.baseAddress!, &fusedDa, count: n, scale: scale)
                        }
                        : sigmoidSquaredErrorForwardBackward(a, t, &fusedY, &fusedDa, count: n, scale: scale)
                    let what = "level \(level), \(n) values, in place \(inPlace)"
                    XCTAssertEqual(Float(sum * Double(scale)), loss, accuracy: loss * 1e-6, "loss, " + what)
                    XCTAssertEqual(fusedY, y, "y, " + what)
                    XCTAssertEqual(fusedDa, da, "da, " + what)
                }
            }
        }
        XCTAssertEqual(ckernels_sigmoid_force_level(3), 0, "a level above the CPU's is refused")
    }

    /// The SIMD BCE-with-logits sum and gradient against the Double formula, per element (8 lanes
    /// of the same x) and in bulk. Below e^(−87) the exponential is clamped: absolute 1e-30 there.
    func testBinaryCrossEntropyWithLogits() {
        defer { _ = ckernels_sigmoid_force_level(-1) }
        var gradients: [[Float]] = []
        for level in 0...ckernels_cpu_level() {
            XCTAssertEqual(ckernels_sigmoid_force_level(level), 1)
            gradients.append(checkBinaryCrossEntropyWithLogits("level \(level)"))
        }
        for g in gradients.dropFirst() { XCTAssertEqual(g, gradients[0], "the gradient is bitwise the same at every level") }
    }

    /// One level's checks; returns its gradient of the bulk case.
    private func checkBinaryCrossEntropyWithLogits(_ what: String) -> [Float] {
        var worst = 0.0
        var x: Float = -90
        while x < 90 {
            for target in [Float(0), 0.3, 1] {
                let xs = [Float](repeating: x, count: 8), ts = [Float](repeating: target, count: 8)
                let got = binaryCrossEntropyWithLogitsSum(xs, ts, count: 8) / 8
                // The formula on the Float inputs, in Double.
                let v = Double(x), want = max(v, 0) - v * Double(target) + log1p(exp(-abs(v)))
                worst = max(worst, (abs(got - want) - 1e-30) / abs(want))
            }
            x += x > -20 && x < 20 ? 0.0131 : 1.7
        }
        XCTAssertLessThan(worst, 2e-6, "relative error per element, " + what)
        var random = RandomSource(seed: 3)
        let n = 1043   // two 512-value blocks, one more 16 and 8 lanes, and a scalar tail
        let xs = (0..<n).map { _ in random.uniform(-30, 30) }, ts = (0..<n).map { _ in random.uniform() }
        let want = zip(xs, ts).reduce(0.0) { s, p in
            let v = Double(p.0); return s + max(v, 0) - v * Double(p.1) + log1p(exp(-abs(v)))
        }
        XCTAssertEqual(binaryCrossEntropyWithLogitsSum(xs, ts, count: n), want, accuracy: want * 1e-6, what)
        var dx = [Float](repeating: 0, count: n)
        // scale 0.3, not a power of 2, so that a reordered product would round differently
        binaryCrossEntropyWithLogitsGradient(xs, ts, &dx, count: n, scale: 0.3)
        for i in 0..<n { XCTAssertEqual(dx[i], 0.3 * (sigmoid(xs[i]) - ts[i]), accuracy: 3e-7, what) }
        // bitwise the Swift vector formula on whole 8-lane groups
        for i in stride(from: 0, to: n - n % 8, by: 8) {
            let v = xs.withUnsafeBufferPointer { load($0.baseAddress! + i) }, tv = ts.withUnsafeBufferPointer { load($0.baseAddress! + i) }
            let swift = 0.3 * (1 / (1 + exponential(-v)) - tv)
            for k in 0..<8 { XCTAssertEqual(dx[i + k], swift[k], "\(what), value \(i + k)") }
        }
        return dx
    }

    /// The C Gaussian corruption draws the same normals as RandomSource.normalPair() (same words
    /// of the stream, math within float rounding of libm's) and leaves the generator where the
    /// Swift draws would; values are clipped to [0, 1].
    func testGaussianCorruptionMatchesNormalPair() {
        let n = 20_001   // odd: the last pair's sine is drawn and dropped
        let x = [Float](repeating: 0.5, count: n)
        var out = [Float](repeating: 0, count: n)
        var c = RandomSource(seed: 42), swift = RandomSource(seed: 42)
        let sigma: Float = 1e-3   // small: nothing is clipped, (out − 0.5)/σ is the normal
        c.withStateWords { ckernels_gaussian_corrupt($0, x, &out, n, sigma) }
        var worst: Float = 0
        var i = 0
        while i < n {
            let (z0, z1) = swift.normalPair()
            worst = max(worst, abs((out[i] - 0.5) / sigma - z0))
            if i + 1 < n { worst = max(worst, abs((out[i + 1] - 0.5) / sigma - z1)) }
            i += 2
        }
        XCTAssertLessThan(worst, 1e-3, "|z − normalPair|: 0.5 + σz is rounded to float (6e-8/σ = 6e-5), the math to ~1e-6")
        XCTAssertEqual(c, swift, "the same number of words drawn")
        var wide = RandomSource(seed: 7)
        wide.withStateWords { ckernels_gaussian_corrupt($0, x, &out, n, 10) }
        XCTAssertTrue(out.allSatisfy { $0 == 0 || $0 == 1 || ($0 > 0 && $0 < 1) })
        XCTAssertGreaterThan(out.filter { $0 == 0 }.count, n / 3, "σ = 10 clips about half to 0")
        XCTAssertGreaterThan(out.filter { $0 == 1 }.count, n / 3)
    }

    func testSums() {
        var random = RandomSource(seed: 2)
        let a = (0..<1001).map { _ in random.uniform(-1, 1) }, b = (0..<1001).map { _ in random.uniform(-1, 1) }
        XCTAssertEqual(Double(sum(a, count: a.count)), a.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-4)
        XCTAssertEqual(Double(sumOfSquaredDifferences(a, b, count: a.count)),
                       zip(a, b).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }, accuracy: 1e-3)
    }

    /// Every element against the definition, for shapes with and without whole 8 × 8 blocks
    /// (the register blocks of transpose.c), single rows and columns, and the 4 KB strides of a
    /// batch-64 code (1024 × 64); then the round trip.
    func testTransposeMatchesTheDefinition() {
        for (rows, columns) in [(37, 70), (8, 8), (16, 24), (9, 8), (8, 9), (64, 1024), (1024, 64), (64, 784), (1, 5), (5, 1), (3, 2)] {
            let a = (0..<(rows * columns)).map(Float.init)
            var t = [Float](repeating: -1, count: a.count), back = t
            transpose(a, rows: rows, columns: columns, into: &t)
            var wrong = 0
            for r in 0..<rows { for c in 0..<columns where t[c * rows + r] != a[r * columns + c] { wrong += 1 } }
            XCTAssertEqual(wrong, 0, "\(rows) × \(columns): misplaced elements")
            transpose(t, rows: columns, columns: rows, into: &back)
            XCTAssertEqual(back, a, "\(rows) × \(columns): round trip")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// gemm's matrix-vector paths (n == 1, m == 1) against a direct triple loop, every transpose.
final class GEMMTests: XCTestCase {
    func testAllShapesAndTransposes() {
        var random = RandomSource(seed: 6)
        for (m, n, k) in [(5, 1, 7), (1, 6, 7), (1, 1, 9), (4, 3, 5)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = (0..<(m * k)).map { _ in random.uniform(-1, 1) }
                    let b = (0..<(k * n)).map { _ in random.uniform(-1, 1) }
                    let c0 = (0..<(m * n)).map { _ in random.uniform(-1, 1) }
                    var c = c0
                    // A stored (m×k) or, transposed, (k×m); B stored (k×n) or (n×k).
                    let lda = ta ? m : k, ldb = tb ? k : n
                    gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda,
                         b: b, ldb: ldb, beta: 2, c: &c, ldc: n)
                    for i in 0..<m {
                        for j in 0..<n {
                            var s: Float = 0
                            for p in 0..<k {
                                s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j])
                            }
                            XCTAssertEqual(c[i * n + j], 0.5 * s + 2 * c0[i * n + j], accuracy: 1e-5,
                                           "m\(m) n\(n) k\(k) ta\(ta) tb\(tb)")
                        }
                    }
                }
            }
        }
    }
}

/// C += A·Bᵀ with few outputs and a long k (a convolution's weight gradient over a band) runs
/// in small_gemm.c's dot-product blocks on AVX2 CPUs: every edge of its 4 × 3 blocks and of its
/// 8-value steps of k, with row strides wider than the rows, against sums in Double; and `gemm`
/// with that shape, whichever code it takes, agrees with them too.
final class SmallOutputGEMMTests: XCTestCase {
    func testDotProductBlocksMatchTheDefinition() throws {
        var random = RandomSource(seed: 8)
        var ran = false
        for (m, n, k) in [(16, 27, 4096), (5, 7, 1003), (4, 3, 256), (1, 1, 263), (9, 2, 300), (3, 13, 777)] {
            let (lda, ldb, ldc) = (k + 5, k + 3, n + 2)
            let a = (0..<(m * lda)).map { _ in random.uniform(-1, 1) }
            let b = (0..<(n * ldb)).map { _ in random.uniform(-1, 1) }
            let c0 = (0..<(m * ldc)).map { _ in random.uniform(-1, 1) }
            var expected = c0.map(Double.init)
            for i in 0..<m { for j in 0..<n {
                var s = 0.0
                for q in 0..<k { s += Double(a[i * lda + q]) * Double(b[j * ldb + q]) }
                expected[i * ldc + j] += s
            } }
            func check(_ c: [Float], _ what: String) {
                for i in 0..<m { for j in 0..<ldc {
                    // Outside the n columns of each row, C must be untouched.
                    let e = j < n ? expected[i * ldc + j] : Double(c0[i * ldc + j])
                    XCTAssertEqual(Double(c[i * ldc + j]), e, accuracy: 8e-6 * Double(k).squareRoot(),
                                   "\(what) m\(m) n\(n) k\(k) at (\(i), \(j))")
                } }
            }
            var c = c0
            if ckernels_small_gemm_abt(m, n, k, a, lda, b, ldb, &c, ldc) != 0 {
                ran = true
                check(c, "small_gemm.c")
            }
            c = c0
            gemm(transposeA: false, transposeB: true, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                 beta: 1, c: &c, ldc: ldc)
            check(c, "gemm")
        }
        if !ran { throw XCTSkip("SKIPPED: this CPU has no AVX2 with FMA, so small_gemm.c's blocks never run (gemm was checked on OpenBLAS)") }
    }
}

/// gemv.c, the one-image dense product c += A·x, against the definition in Double: row counts
/// on both sides of its 4-row blocks, k across its 16- and 8-float steps and scalar tail, row
/// strides past k and a strided c, whose other entries must stay untouched. Then `gemm` with
/// n = 1, both layouts of the vector (a column with stride 1, or a row of Bᵀ), which routes
/// there.
final class GEMVTests: XCTestCase {
    func testMatrixVectorProductMatchesTheDefinition() throws {
        var random = RandomSource(seed: 9)
        var ran = false
        for (m, k) in [(256, 784), (64, 256), (1, 1), (3, 7), (4, 8), (5, 15), (9, 16), (7, 17), (13, 24), (6, 31), (11, 1003)] {
            let (lda, ldc) = (k + 3, 2)
            let a = (0..<(m * lda)).map { _ in random.uniform(-1, 1) }
            let x = (0..<k).map { _ in random.uniform(-1, 1) }
            let c0 = (0..<(m * ldc)).map { _ in random.uniform(-1, 1) }
            var expected = c0.map(Double.init)
            for r in 0..<m {
                var sum = 0.0
                for q in 0..<k { sum += Double(a[r * lda + q]) * Double(x[q]) }
                expected[r * ldc] += sum
            }
            func check(_ c: [Float], _ what: String) {
                for i in 0..<(m * ldc) {
                    XCTAssertEqual(Double(c[i]), expected[i], accuracy: 8e-6 * Double(k).squareRoot(),
                                   "\(what) m\(m) k\(k) at \(i)\(i % ldc == 0 ? "" : " (outside c: untouched)")")
                }
            }
            var c = c0
            if ckernels_gemv_accumulate(m, k, a, lda, x, &c, ldc) != 0 {
                ran = true
                check(c, "gemv.c")
            }
            for transposeB in [false, true] {
                c = c0
                gemm(transposeA: false, transposeB: transposeB, m: m, n: 1, k: k, a: a, lda: lda, b: x,
                     ldb: transposeB ? k : 1, beta: 1, c: &c, ldc: ldc)
                check(c, "gemm, transposeB \(transposeB)")
            }
        }
        if !ran { throw XCTSkip("SKIPPED: this CPU has no AVX2 with FMA, so gemv.c never runs (gemm was checked on OpenBLAS)") }
    }
}

/// One image takes dedicated im2col/col2im paths (single floats instead of runs of N): they must
/// agree with the batched paths, forward and backward.
final class SingleImagePathTests: XCTestCase {
    func testBatchOfOneMatchesBatchedComputation() {
        let layers: [Layer] = [
            Conv2d(inputShape: [2, 7, 6], outputChannels: 3, kernelSize: 3, stride: 2, padding: 1),
            ConvTranspose2d(inputShape: [2, 4, 3], outputChannels: 3, kernelSize: 3, stride: 2, padding: 1, outputPadding: (1, 0)),
        ]
        for layer in layers {
            var random = RandomSource(seed: 8)
            var parameters = (0..<layer.parameterCount).map { _ in random.uniform(-1, 1) }
            var gradients = [Float](repeating: 0, count: parameters.count)
            let batch = 3
            let x = (0..<(batch * layer.inputSize)).map { _ in random.uniform(-1, 1) }
            let dy = (0..<(batch * layer.outputSize)).map { _ in random.uniform(-1, 1) }
            func run(_ x: [Float], _ dy: [Float], batch: Int) -> ([Float], [Float]) {
                var y = [Float](repeating: 0, count: batch * layer.outputSize)
                var dx = [Float](repeating: 0, count: batch * layer.inputSize)
                parameters.withUnsafeMutableBufferPointer { p in
                    gradients.withUnsafeMutableBufferPointer { g in
                        layer.bind(parameters: p.baseAddress!, gradients: g.baseAddress!)
                        layer.forward(input: x, output: &y, batch: batch)
                        layer.backward(input: x, output: y, outputGradient: dy, inputGradient: &dx, batch: batch)
                    }
                }
                return (y, dx)
            }
            let (yAll, dxAll) = run(x, dy, batch: batch)   // batch-minor: example 0 is every 3rd value
            let first = { (v: [Float]) in stride(from: 0, to: v.count, by: batch).map { v[$0] } }
            let (yOne, dxOne) = run(first(x), first(dy), batch: 1)
            XCTAssertLessThan(maxAbsoluteDifference(yOne, first(yAll)), 1e-5)
            XCTAssertLessThan(maxAbsoluteDifference(dxOne, first(dxAll)), 1e-5)
        }
    }
}

/// The one-image im2col and col2im (C loops) against the formula, over strides, paddings and
/// kernels larger than the image: every element of cols, and col2im as im2col's exact adjoint
/// (<im2col(x), c> = <x, col2im(c)>, here with small integers so the sums are exact).
final class SingleImageIm2ColTests: XCTestCase {
    func testAgainstTheFormulaAndAdjoint() {
        var random = RandomSource(seed: 21)
        var cases = 0
        for channels in [1, 2] { for height in [1, 2, 5, 7] { for width in [1, 3, 6] {
            for kernel in [1, 2, 3, 5] { for stride in [1, 2, 3] { for padding in [0, 1, 2] {
                let oh = (height + 2 * padding - kernel) / stride + 1, ow = (width + 2 * padding - kernel) / stride + 1
                guard height + 2 * padding >= kernel, width + 2 * padding >= kernel else { continue }
                let g = ConvGeometry(channels: channels, height: height, width: width, kernel: kernel, stride: stride,
                                     padding: padding, columnHeight: oh, columnWidth: ow)
                let x = (0..<g.imageSize).map { _ in Float(Int(random.next() % 9) - 4) }
                var cols = [Float](repeating: .nan, count: g.rows * g.positions)
                x.withUnsafeBufferPointer { xp in cols.withUnsafeMutableBufferPointer { cp in
                    im2col(xp.baseAddress!, cp.baseAddress!, batch: 1, g)
                } }
                var mismatches = 0
                for c in 0..<channels { for i in 0..<kernel { for j in 0..<kernel { for oy in 0..<oh { for ox in 0..<ow {
                    let (iy, ix) = (oy * stride - padding + i, ox * stride - padding + j)
                    let expected = iy >= 0 && iy < height && ix >= 0 && ix < width ? x[(c * height + iy) * width + ix] : 0
                    if cols[((c * kernel + i) * kernel + j) * g.positions + oy * ow + ox] != expected { mismatches += 1 }
                } } } } }
                XCTAssertEqual(mismatches, 0, "im2col C\(channels) \(height)x\(width) k\(kernel) s\(stride) p\(padding)")
                let c = (0..<cols.count).map { _ in Float(Int(random.next() % 9) - 4) }
                var back = [Float](repeating: 0, count: g.imageSize)
                c.withUnsafeBufferPointer { cp in back.withUnsafeMutableBufferPointer { bp in
                    col2im(cp.baseAddress!, bp.baseAddress!, batch: 1, g)
                } }
                let lhs = zip(cols, c).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                let rhs = zip(x, back).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                XCTAssertEqual(lhs, rhs, "col2im adjoint C\(channels) \(height)x\(width) k\(kernel) s\(stride) p\(padding)")
                cases += 1
            } } }
        } } }
        XCTAssertGreaterThan(cases, 200)
    }
}

final class RandomSourceTests: XCTestCase {
    /// Both branches of the Box–Muller pair are standard normal and uncorrelated.
    func testNormalPairMoments() {
        var random = RandomSource(seed: 11)
        var s0 = 0.0, s1 = 0.0, q0 = 0.0, q1 = 0.0, c = 0.0
        let n = 200_000
        for _ in 0..<n {
            let (a, b) = random.normalPair()
            s0 += Double(a); s1 += Double(b); q0 += Double(a * a); q1 += Double(b * b); c += Double(a * b)
        }
        for (mean, square) in [(s0, q0), (s1, q1)] {
            XCTAssertEqual(mean / Double(n), 0, accuracy: 0.01)
            XCTAssertEqual(square / Double(n), 1, accuracy: 0.02)
        }
        XCTAssertEqual(c / Double(n), 0, accuracy: 0.01)
    }
}
