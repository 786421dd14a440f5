import CKernels
// Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004) as a per-pixel map, for anomaly
// maps and scores. One image plane at a time:
//
//     SSIM(p) = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
//     C1 = (0.01 L)², C2 = (0.03 L)², data range L = 1 (pixels in [0, 1]),
//
// where μ, σ² and σxy at pixel p are moments weighted by the 11×11 Gaussian window (σ = 1.5)
// centred on p, with population (not sample) covariances — the choices of the paper and of
// scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
// use_sample_covariance=False, data_range=1)`. Unlike scikit-image, which crops 5 pixels of
// border off the map, the map here covers every pixel: near the border the window is truncated
// to the pixels inside the image and renormalized to sum to 1, as in GaussianFilter.swift (so
// an anomaly in a corner is seen, and images smaller than the window work). Farther than 5
// pixels from the border the values are exactly scikit-image's.

/// Radius of the SSIM window: 11 taps.
package let ssimWindowRadius = 5
/// Standard deviation of the SSIM window, in pixels.
package let ssimWindowSigma: Float = 1.5
let ssimC1 = 0.01 * 0.01
let ssimC2 = 0.03 * 0.03

/// Doubles of scratch space `ssimMap` needs for a height × width plane.
package func ssimScratchCount(height: Int, width: Int) -> Int { 5 * height * width }

/// map = SSIM(x, y) per pixel — x, y, map: (height, width); scratch: ssimScratchCount doubles.
/// weights: 2·radius + 1 taps from `gaussianWeights`. The moments are accumulated in Double:
/// σ² = E[x²] − μ² cancels, and in float32 its rounding error (~1e-7 · μ²) is not small next to
/// C2 = 9e-4 (it moved SSIM by up to 4e-4 for bright images).
package func ssimMap(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, height: Int, width: Int,
             weights: [Float], scratch: UnsafeMutablePointer<Double>,
             into map: UnsafeMutablePointer<Float>) {
    let radius = weights.count / 2
    let plane = height * width
    // Rows first: the five moments E[x], E[y], E[x²], E[y²], E[xy] along each row, into scratch
    // planes (5, height, width); then columns, straight into the map.
    let mx = scratch, my = scratch + plane, mxx = scratch + 2 * plane
    let myy = scratch + 3 * plane, mxy = scratch + 4 * plane
    weights.withUnsafeBufferPointer { w in
        for c in 0..<width {
            let lo = max(0, c - radius), hi = min(width - 1, c + radius)
            var norm = 0.0
            for j in lo...hi { norm += Double(w[j - c + radius]) }
            let scale = 1 / norm
            for r in 0..<height {
                let row = r * width
                var s = (0.0, 0.0, 0.0, 0.0, 0.0)
                for j in lo...hi {
                    let g = Double(w[j - c + radius]), p = Double(x[row + j]), q = Double(y[row + j])
                    s.0 += g * p; s.1 += g * q; s.2 += g * p * p; s.3 += g * q * q; s.4 += g * p * q
                }
                let o = row + c
                mx[o] = s.0 * scale; my[o] = s.1 * scale; mxx[o] = s.2 * scale
                myy[o] = s.3 * scale; mxy[o] = s.4 * scale
            }
        }
        for r in 0..<height {
            let lo = max(0, r - radius), hi = min(height - 1, r + radius)
            var norm = 0.0
            for i in lo...hi { norm += Double(w[i - r + radius]) }
            let scale = 1 / norm
            for c in 0..<width {
                var s = (0.0, 0.0, 0.0, 0.0, 0.0)
                for i in lo...hi {
                    let g = Double(w[i - r + radius]), o = i * width + c
                    s.0 += g * mx[o]; s.1 += g * my[o]; s.2 += g * mxx[o]; s.3 += g * myy[o]
                    s.4 += g * mxy[o]
                }
                let ux = s.0 * scale, uy = s.1 * scale
                let vx = s.2 * scale - ux * ux, vy = s.3 * scale - uy * uy
                let cxy = s.4 * scale - ux * uy
                map[r * width + c] = Float(((2 * ux * uy + ssimC1) * (2 * cxy + ssimC2))
                    / ((ux * ux + uy * uy + ssimC1) * (vx + vy + ssimC2)))
            }
        }
    }
}

// MARK: - SSIM as a loss: its sum over a plane and the gradient with respect to y

/// Doubles of scratch space `ssimSumAndGradient` needs for a height × width plane: 8 planes
/// (the 5 row-filtered moments, the 3 per-pixel coefficients) and 6 rows + 1 column of
/// accumulators and inverse window norms.
package func ssimGradientScratchCount(height: Int, width: Int) -> Int { 8 * height * width + 6 * width + height }

/// Returns S = Σ_p SSIM_p(x, y) over the plane (the same SSIM as `ssimMap`, in the same Double
/// arithmetic) and, when `gradient` is given, WRITES gradient = −scale · ∂S/∂y, the gradient of
/// scale · Σ_p (1 − SSIM_p). x, y, gradient: (height, width); scratch: `ssimGradientScratchCount`.
///
/// The map depends on y only through the filtered moments μy = G y, E[y²] = G y², E[xy] = G xy,
/// where G = Gcol ∘ Grow is the separable, border-renormalized window: (Grow v)[r, c] =
/// (1/n_c) Σ_j w[j − c + R] v[r, j], n_c the sum of the taps of column c that fall inside the
/// image (Gcol likewise along the height with n_r). With A = 2 μx μy + C1, B = 2 σxy + C2,
/// C = μx² + μy² + C1, D = σx² + σy² + C2 and SSIM = AB/(CD) at each pixel,
///
///     ∂SSIM/∂μy   = 2μx·B/(CD) − 2μx·A/(CD) − 2μy·SSIM/C + 2μy·SSIM/D
///     ∂SSIM/∂E[y²] = −SSIM/D,      ∂SSIM/∂E[xy] = 2A/(CD)
///
/// (σy² = E[y²] − μy², σxy = E[xy] − μx μy), and the chain rule through the linear G gives
///
///     ∂S/∂y = Gᵀ a_μ + 2 y ⊙ Gᵀ a_yy + x ⊙ Gᵀ a_xy,    Gᵀ = Growᵀ ∘ Gcolᵀ,
///
/// where each adjoint first divides by the norm of the OUTPUT position and then spreads with
/// the unnormalized (symmetric) taps: (Growᵀ u)[r, j] = Σ_c w[j − c + R] u[r, c] / n_c. G is
/// self-adjoint only away from the border; this is the exact adjoint everywhere.
package func ssimSumAndGradient(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, height: Int, width: Int,
                        weights: [Float], scratch: UnsafeMutablePointer<Double>,
                        gradient: UnsafeMutablePointer<Float>?, scale: Float) -> Double {
    let radius = weights.count / 2
    let plane = height * width
    let mx = scratch, my = scratch + plane, mxx = scratch + 2 * plane
    let myy = scratch + 3 * plane, mxy = scratch + 4 * plane
    // per-pixel coefficients ∂SSIM/∂μy, ∂SSIM/∂E[y²], ∂SSIM/∂E[xy], each divided by n_r
    let aMu = scratch + 5 * plane, aYY = scratch + 6 * plane, aXY = scratch + 7 * plane
    let accumulators = scratch + 8 * plane           // 5 rows of width
    let inverseColumnNorm = accumulators + 5 * width // 1/n_c, width
    let inverseRowNorm = inverseColumnNorm + width   // 1/n_r, height
    var sum = 0.0
    weights.withUnsafeBufferPointer { w in
    // the taps in Double for the C loops, on the stack (no allocation per call)
        withUnsafeTemporaryAllocation(of: Double.self, capacity: weights.count) { wdBuffer in
            let wd = wdBuffer.baseAddress!
            for k in 0..<weights.count { wd[k] = Double(w[k]) }
            for c in 0..<width {
                var norm = 0.0
                for j in max(0, c - radius)...min(width - 1, c + radius) { norm += Double(w[j - c + radius]) }
                inverseColumnNorm[c] = 1 / norm
            }
            for r in 0..<height {
                var norm = 0.0
                for i in max(0, r - radius)...min(height - 1, r + radius) { norm += Double(w[i - r + radius]) }
                inverseRowNorm[r] = 1 / norm
            }
            // Rows: the five moments along each row (as ssimMap computes them, in the same order:
            // taps ascending). Interior columns tap by tap over whole rows, which vectorizes.
            let taps = 2 * radius + 1
            let interior = width > 2 * radius ? radius..<(width - radius) : 0..<0
            for r in 0..<height {
                let row = r * width
                if !interior.isEmpty {
                    let o = row + radius
                    ckernels_ssim_row_moments(interior.count, taps, wd, x + row, y + row,
                                              mx + o, my + o, mxx + o, myy + o, mxy + o)
                    for c in interior {
                        let o = row + c, scale = inverseColumnNorm[c]
                        mx[o] *= scale; my[o] *= scale; mxx[o] *= scale; myy[o] *= scale; mxy[o] *= scale
                    }
                }
                for c in 0..<width where !interior.contains(c) {
                    let lo = max(0, c - radius), hi = min(width - 1, c + radius)
                    var s = (0.0, 0.0, 0.0, 0.0, 0.0)
                    for j in lo...hi {
                        let g = Double(w[j - c + radius]), p = Double(x[row + j]), q = Double(y[row + j])
                        s.0 += g * p; s.1 += g * q; s.2 += g * p * p; s.3 += g * q * q; s.4 += g * p * q
                    }
                    let o = row + c, scale = inverseColumnNorm[c]
                    mx[o] = s.0 * scale; my[o] = s.1 * scale; mxx[o] = s.2 * scale
                    myy[o] = s.3 * scale; mxy[o] = s.4 * scale
                }
            }
            // Columns: accumulate whole rows (vectorizes over c), then SSIM and its coefficients.
            let s0 = accumulators, s1 = s0 + width, s2 = s1 + width, s3 = s2 + width, s4 = s3 + width
            for r in 0..<height {
                let lo = max(0, r - radius), hi = min(height - 1, r + radius)
                accumulators.update(repeating: 0, count: 5 * width)
                for i in lo...hi {
                    let g = Double(w[i - r + radius]), o = i * width
                    ckernels_daxpy(width, g, mx + o, s0); ckernels_daxpy(width, g, my + o, s1)
                    ckernels_daxpy(width, g, mxx + o, s2); ckernels_daxpy(width, g, myy + o, s3)
                    ckernels_daxpy(width, g, mxy + o, s4)
                }
                let scale = inverseRowNorm[r]
                for c in 0..<width {
                    let ux = s0[c] * scale, uy = s1[c] * scale
                    let vx = s2[c] * scale - ux * ux, vy = s3[c] * scale - uy * uy
                    let cxy = s4[c] * scale - ux * uy
                    let a = 2 * ux * uy + ssimC1, b = 2 * cxy + ssimC2
                    let cc = ux * ux + uy * uy + ssimC1, d = vx + vy + ssimC2
                    let inverse = 1 / (cc * d)
                    let ssim = a * b * inverse
                    sum += ssim
                    let o = r * width + c
                    aMu[o] = (2 * ux * (b - a) * inverse - 2 * uy * ssim / cc + 2 * uy * ssim / d) * scale
                    aYY[o] = -ssim / d * scale
                    aXY[o] = 2 * a * inverse * scale
                }
            }
            guard let gradient else { return }
            // Gcolᵀ: b[i, c] = Σ_r w[r − i + R] a[r, c] (a already divided by n_r), then divided by
            // n_c for Growᵀ; into the first three moment planes, which are free now.
            let bMu = mx, bYY = my, bXY = mxx
            for i in 0..<height {
                let lo = max(0, i - radius), hi = min(height - 1, i + radius)
                let o = i * width
                for c in 0..<width { bMu[o + c] = 0; bYY[o + c] = 0; bXY[o + c] = 0 }
                for r in lo...hi {
                    let g = Double(w[r - i + radius]), q = r * width
                    ckernels_daxpy(width, g, aMu + q, bMu + o); ckernels_daxpy(width, g, aYY + q, bYY + o)
                    ckernels_daxpy(width, g, aXY + q, bXY + o)
                }
                for c in 0..<width {
                    let n = inverseColumnNorm[c]
                    bMu[o + c] *= n; bYY[o + c] *= n; bXY[o + c] *= n
                }
            }
            // Growᵀ and the chain rule through y² and xy; the loss is −scale · S.
            let negativeScale = -Double(scale)
            let gMu = aMu, gYY = aYY, gXY = aXY  // free again: Growᵀ of the b planes, interior columns
            for r in 0..<height {
                let row = r * width
                if !interior.isEmpty {
                    ckernels_filter3(interior.count, taps, wd, bMu + row, bYY + row, bXY + row,
                                     gMu + row + radius, gYY + row + radius, gXY + row + radius)
                    for j in interior {
                        let o = row + j
                        let dS = gMu[o] + 2 * Double(y[o]) * gYY[o] + Double(x[o]) * gXY[o]
                        gradient[o] = Float(negativeScale * dS)
                    }
                }
                for j in 0..<width where !interior.contains(j) {
                    let lo = max(0, j - radius), hi = min(width - 1, j + radius)
                    var s = (0.0, 0.0, 0.0)
                    for c in lo...hi {
                        let g = Double(w[c - j + radius])
                        s.0 += g * bMu[row + c]; s.1 += g * bYY[row + c]; s.2 += g * bXY[row + c]
                    }
                    let dS = s.0 + 2 * Double(y[row + j]) * s.1 + Double(x[row + j]) * s.2
                    gradient[row + j] = Float(negativeScale * dS)
                }
            }
        }
    }
    return sum
}
