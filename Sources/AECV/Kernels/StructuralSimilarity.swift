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
let ssimWindowRadius = 5
/// Standard deviation of the SSIM window, in pixels.
let ssimWindowSigma: Float = 1.5
let ssimC1 = 0.01 * 0.01
let ssimC2 = 0.03 * 0.03

/// Doubles of scratch space `ssimMap` needs for a height × width plane.
func ssimScratchCount(height: Int, width: Int) -> Int { 5 * height * width }

/// map = SSIM(x, y) per pixel — x, y, map: (height, width); scratch: ssimScratchCount doubles.
/// weights: 2·radius + 1 taps from `gaussianWeights`. The moments are accumulated in Double:
/// σ² = E[x²] − μ² cancels, and in float32 its rounding error (~1e-7 · μ²) is not small next to
/// C2 = 9e-4 (it moved SSIM by up to 4e-4 for bright images).
func ssimMap(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, height: Int, width: Int,
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
