/// An 8-bit image in memory: rows top to bottom, channels interleaved per pixel
/// (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA). What PNG files hold; the bridge between them and the
/// float32 CHW examples the models take.
public struct RasterImage: Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// pixels: (height, width, channels), row-major.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && (1...4).contains(channels)
                     && pixels.count == width * height * channels, "RasterImage: inconsistent size")
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    /// A blank image of one colour (`fill` has `channels` values).
    public init(width: Int, height: Int, fill: [UInt8]) {
        precondition(width > 0 && height > 0 && (1...4).contains(fill.count))
        self.width = width; self.height = height; channels = fill.count
        pixels = [UInt8](repeating: 0, count: width * height * fill.count)
        if fill.contains(where: { $0 != 0 }) {
            for p in 0..<(width * height) {
                for c in 0..<channels { pixels[p * channels + c] = fill[c] }
            }
        }
    }

    /// An example of shape [C, H, W] (C = 1 or 3), values in [0, 1] (clamped; NaN is 0), as a
    /// grey or RGB image: round(255 · x).
    /// values: (C, H, W)
    public init(planar values: UnsafeBufferPointer<Float>, shape: [Int]) {
        precondition(shape.count == 3 && (shape[0] == 1 || shape[0] == 3)
                     && values.count >= shape[0] * shape[1] * shape[2])
        let (c, h, w) = (shape[0], shape[1], shape[2])
        var pixels = [UInt8](repeating: 0, count: c * h * w)
        for k in 0..<c {
            for i in 0..<(h * w) {
                let x = values[k * h * w + i]
                // `x > 0` is false for NaN, which therefore maps to 0.
                let v: Float = x > 0 ? min(x, 1) : 0
                pixels[i * c + k] = UInt8((v * 255).rounded())
            }
        }
        self.init(width: w, height: h, channels: c, pixels: pixels)
    }

    public init(planar values: [Float], shape: [Int]) {
        self = values.withUnsafeBufferPointer { RasterImage(planar: $0, shape: shape) }
    }

    /// True for grey and grey+alpha images.
    public var isGrey: Bool { channels <= 2 }

    /// The image as a float32 example (C, H, W) in [0, 1] with `outputChannels` channels
    /// (1 or 3): alpha is dropped, grey is replicated to RGB, and RGB becomes grey by ITU-R
    /// BT.601 luma (0.299 R + 0.587 G + 0.114 B).
    public func planarFloats(channels outputChannels: Int) -> [Float] {
        precondition(outputChannels == 1 || outputChannels == 3)
        let plane = width * height
        var out = [Float](repeating: 0, count: outputChannels * plane)
        let scale: Float = 1 / 255
        for i in 0..<plane {
            let p = i * channels
            if isGrey {
                let g = Float(pixels[p]) * scale
                for k in 0..<outputChannels { out[k * plane + i] = g }
            } else if outputChannels == 3 {
                for k in 0..<3 { out[k * plane + i] = Float(pixels[p + k]) * scale }
            } else {
                out[i] = (0.299 * Float(pixels[p]) + 0.587 * Float(pixels[p + 1])
                          + 0.114 * Float(pixels[p + 2])) * scale
            }
        }
        return out
    }

    /// Copies `tile` into this image with its top-left corner at (x, y), scaled up `scale` times
    /// by pixel repetition, converting grey to RGB when this image is RGB. Parts outside are
    /// clipped.
    public mutating func draw(_ tile: RasterImage, x: Int, y: Int, scale: Int = 1) {
        precondition(scale >= 1 && (channels == 1 || channels == 3))
        for ty in 0..<(tile.height * scale) {
            let dy = y + ty
            if dy < 0 || dy >= height { continue }
            for tx in 0..<(tile.width * scale) {
                let dx = x + tx
                if dx < 0 || dx >= width { continue }
                let s = ((ty / scale) * tile.width + tx / scale) * tile.channels
                let d = (dy * width + dx) * channels
                if channels == 1 {
                    if tile.isGrey {
                        pixels[d] = tile.pixels[s]
                    } else {
                        let r = 299 * Int(tile.pixels[s]), g = 587 * Int(tile.pixels[s + 1])
                        let b = 114 * Int(tile.pixels[s + 2])
                        pixels[d] = UInt8((r + g + b + 500) / 1000)
                    }
                } else {
                    for k in 0..<3 { pixels[d + k] = tile.isGrey ? tile.pixels[s] : tile.pixels[s + k] }
                }
            }
        }
    }
}
