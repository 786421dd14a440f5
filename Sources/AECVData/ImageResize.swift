/// Resizing and cropping 8-bit images the way Pillow does, so that a model trained here sees
/// the pixels a torchvision pipeline (`Resize`, `CenterCrop` on PIL images) would give it.
///
/// Resize is Pillow's `Image.resize(size, BILINEAR)` (libImaging/Resample.c): a separable
/// triangle filter whose support grows with the reduction factor (antialiasing). For an input
/// of length n resized to m, scale s = n / m, filter scale f = max(s, 1), support r = f; output
/// pixel i is centred at c = (i + 0.5)·s and takes inputs j in [⌊c − r + 0.5⌋, ⌊c + r + 0.5⌋)
/// (clipped to [0, n)) with weights w_j = max(0, 1 − |(j − c + 0.5) / f|), normalized to sum 1
/// and rounded to 22-bit fixed point. The horizontal pass runs first, its result is rounded to
/// 8 bits, then the vertical pass; each sum is rounded half up and clipped to [0, 255]. Doing
/// the same arithmetic gives Pillow's bytes exactly (tests compare against Pillow's output).
extension RasterImage {
    static let precisionBits = 32 - 8 - 2

    /// (first input index, weights in fixed point) for each of `outSize` outputs.
    static func resampleCoefficients(inSize: Int, outSize: Int) -> [(Int, [Int32])] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filterScale  // bilinear: support 1, widened by the filter scale
        var result: [(Int, [Int32])] = []
        result.reserveCapacity(outSize)
        for i in 0..<outSize {
            let centre = (Double(i) + 0.5) * scale
            let lo = max(0, Int(centre - support + 0.5))
            let hi = min(inSize, Int(centre + support + 0.5))
            var weights: [Double] = []
            var total = 0.0
            if hi > lo {
                for j in lo..<hi {
                    let w = max(0, 1 - abs((Double(j) - centre + 0.5) / filterScale))
                    weights.append(w); total += w
                }
            }
            let fixed = weights.map { w -> Int32 in
                let k = total != 0 ? w / total : w
                return Int32(k < 0 ? -0.5 + k * Double(1 << precisionBits) : 0.5 + k * Double(1 << precisionBits))
            }
            result.append((lo, fixed))
        }
        return result
    }

    @inline(__always) static func clip8(_ sum: Int) -> UInt8 {
        let v = sum >> precisionBits
        return v < 0 ? 0 : (v > 255 ? 255 : UInt8(v))
    }

    /// Pillow's `resize((width, height), BILINEAR)`.
    public func resized(width newWidth: Int, height newHeight: Int) -> RasterImage {
        precondition(newWidth > 0 && newHeight > 0)
        var image = self
        let c = channels
        let half = 1 << (Self.precisionBits - 1)
        if newWidth != width {
            let coefficients = Self.resampleCoefficients(inSize: width, outSize: newWidth)
            var out = [UInt8](repeating: 0, count: newWidth * height * c)
            image.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for y in 0..<height {
                        let row = src.baseAddress! + y * width * c
                        for (x, (lo, k)) in coefficients.enumerated() {
                            for ch in 0..<c {
                                var sum = half
                                for (j, w) in k.enumerated() { sum += Int(row[(lo + j) * c + ch]) * Int(w) }
                                dst[(y * newWidth + x) * c + ch] = Self.clip8(sum)
                            }
                        }
                    }
                }
            }
            image = RasterImage(width: newWidth, height: height, channels: c, pixels: out)
        }
        if newHeight != height {
            let coefficients = Self.resampleCoefficients(inSize: height, outSize: newHeight)
            let rowLength = newWidth * c
            var out = [UInt8](repeating: 0, count: newHeight * rowLength)
            image.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for (y, (lo, k)) in coefficients.enumerated() {
                        for i in 0..<rowLength {
                            var sum = half
                            for (j, w) in k.enumerated() { sum += Int(src[(lo + j) * rowLength + i]) * Int(w) }
                            dst[y * rowLength + i] = Self.clip8(sum)
                        }
                    }
                }
            }
            image = RasterImage(width: newWidth, height: newHeight, channels: c, pixels: out)
        }
        return image
    }

    /// The rectangle [x, x + width) × [y, y + height) (inside the image).
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RasterImage {
        precondition(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height)
        var out: [UInt8] = []
        out.reserveCapacity(w * h * channels)
        for row in y..<(y + h) {
            let start = (row * width + x) * channels
            out += pixels[start..<(start + w * channels)]
        }
        return RasterImage(width: w, height: h, channels: channels, pixels: out)
    }

    /// torchvision's `Resize(size)` then `CenterCrop(size)` on a PIL image: the shorter side
    /// becomes `size` (the longer ⌊size · long / short⌋), then the centred size × size square,
    /// its offset round((new − size) / 2) with Python's round-half-to-even.
    public func shorterSideResizedAndCentreCropped(_ size: Int) -> RasterImage {
        precondition(size > 0)
        let (short, long) = width <= height ? (width, height) : (height, width)
        let newLong = Int(Double(size) * Double(long) / Double(short))
        let (w, h) = width <= height ? (size, newLong) : (newLong, size)
        let resized = (w == width && h == height) ? self : self.resized(width: w, height: h)
        func offset(_ extra: Int) -> Int { Int((Double(extra) / 2).rounded(.toNearestOrEven)) }
        return resized.cropped(x: offset(w - size), y: offset(h - size), width: size, height: size)
    }

    /// The image with `outputChannels` channels (1 or 3) in 8 bits, as Pillow's `convert("L")`
    /// / `convert("RGB")`: alpha is dropped, grey is replicated, and RGB becomes grey by
    /// L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 (ITU-R BT.601 luma in 16-bit fixed point).
    public func converted(channels outputChannels: Int) -> RasterImage {
        precondition(outputChannels == 1 || outputChannels == 3)
        if channels == outputChannels { return self }
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * outputChannels)
        for i in 0..<n {
            let p = i * channels
            if isGrey {
                for k in 0..<outputChannels { out[i * outputChannels + k] = pixels[p] }
            } else if outputChannels == 3 {
                for k in 0..<3 { out[i * 3 + k] = pixels[p + k] }
            } else {
                let l = 19595 * Int(pixels[p]) + 38470 * Int(pixels[p + 1]) + 7471 * Int(pixels[p + 2]) + 0x8000
                out[i] = UInt8(l >> 16)
            }
        }
        return RasterImage(width: width, height: height, channels: outputChannels, pixels: out)
    }
}
