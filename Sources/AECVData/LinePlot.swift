#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A line chart rendered to an RGB raster: axes with round-number ticks, grid, legend and title.
/// The y axis becomes logarithmic when the values span more than `logThreshold` (a loss curve's
/// first steps would otherwise flatten the rest).
public struct LinePlot {
    public struct Series {
        public var name: String
        public var colour: [UInt8]
        /// Points in data coordinates; non-finite ones are skipped.
        public var points: [(x: Double, y: Double)]
        /// Draw a mark on each point (for sparse series such as per-epoch values).
        public var markers: Bool
        public var thickness: Int

        public init(name: String, colour: [UInt8], points: [(x: Double, y: Double)], markers: Bool = false,
                    thickness: Int = 1) {
            self.name = name; self.colour = colour; self.points = points; self.markers = markers
            self.thickness = thickness
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    public var width = 720
    public var height = 440
    /// The x range always includes these (e.g. 0 … epochs).
    public var xMinimum: Double?
    public var xMaximum: Double?
    public var logThreshold = 20.0

    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
    }

    static let ink: [UInt8] = [40, 40, 40]
    static let grid: [UInt8] = [225, 225, 225]

    public func render() -> RasterImage {
        var image = RasterImage(width: width, height: height, fill: [255, 255, 255])
        let left = 78, right = 20, top = 34, bottom = 48
        let plotW = width - left - right, plotH = height - top - bottom
        let all = series.flatMap { $0.points }.filter { $0.x.isFinite && $0.y.isFinite }

        image.drawText(title, x: (width - BitmapFont.width(of: title) * 2) / 2, y: 8, colour: Self.ink, scale: 2)
        // Axes box.
        image.drawLine(x0: left, y0: top, x1: left, y1: top + plotH, colour: Self.ink)
        image.drawLine(x0: left, y0: top + plotH, x1: left + plotW, y1: top + plotH, colour: Self.ink)
        image.drawText(xLabel, x: left + (plotW - BitmapFont.width(of: xLabel)) / 2, y: height - 14, colour: Self.ink)
        // The y label above the y axis (no rotated text).
        image.drawText(yLabel, x: max(2, left - BitmapFont.width(of: yLabel) / 2), y: top - 14, colour: Self.ink)
        guard !all.isEmpty else {
            let text = "no data"
            image.drawText(text, x: left + (plotW - BitmapFont.width(of: text)) / 2, y: top + plotH / 2, colour: Self.ink)
            return image
        }

        // x range and ticks.
        var xLow = all.map(\.x).min()!, xHigh = all.map(\.x).max()!
        if let m = xMinimum { xLow = min(xLow, m) }
        if let m = xMaximum { xHigh = max(xHigh, m) }
        if xHigh <= xLow { xHigh = xLow + 1 }
        let xTicks = Self.niceTicks(low: xLow, high: xHigh, count: 8)

        // y range: log10 when the values span a wide range and are all positive.
        let ys = all.map(\.y)
        var yLow = ys.min()!, yHigh = ys.max()!
        let logarithmic = yLow > 0 && yHigh / yLow > logThreshold
        var yTicks: [Double]
        if logarithmic {
            yLow = log10(yLow); yHigh = log10(yHigh)
            yTicks = Self.logTicks(low: yLow, high: yHigh)
        } else {
            if yHigh <= yLow { let pad = max(abs(yLow) * 0.05, 1e-6); yLow -= pad; yHigh += pad }
            yTicks = Self.niceTicks(low: yLow, high: yHigh, count: 6)
            yLow = min(yLow, yTicks.first ?? yLow)
            yHigh = max(yHigh, yTicks.last ?? yHigh)
        }
        let margin = (yHigh - yLow) * 0.04
        yLow -= margin; yHigh += margin

        func px(_ x: Double) -> Int { left + Int(((x - xLow) / (xHigh - xLow) * Double(plotW)).rounded()) }
        func py(_ y: Double) -> Int {
            let v = logarithmic ? log10(y) : y
            return top + plotH - Int(((v - yLow) / (yHigh - yLow) * Double(plotH)).rounded())
        }

        let xDecimals = Self.decimals(for: xTicks)
        for t in xTicks where t >= xLow - 1e-9 && t <= xHigh + 1e-9 {
            let x = px(t)
            image.drawLine(x0: x, y0: top, x1: x, y1: top + plotH - 1, colour: Self.grid)
            image.drawLine(x0: x, y0: top + plotH, x1: x, y1: top + plotH + 4, colour: Self.ink)
            let label = TextFormat.fixed(t, xDecimals)
            image.drawText(label, x: x - BitmapFont.width(of: label) / 2, y: top + plotH + 8, colour: Self.ink)
        }
        let yDecimals = logarithmic ? 0 : Self.decimals(for: yTicks)
        for t in yTicks {
            let value = logarithmic ? pow(10, t) : t
            let y = py(value)
            if y < top || y > top + plotH { continue }
            image.drawLine(x0: left + 1, y0: y, x1: left + plotW, y1: y, colour: Self.grid)
            image.drawLine(x0: left - 4, y0: y, x1: left, y1: y, colour: Self.ink)
            let label = logarithmic ? TextFormat.significant(value, 3) : TextFormat.fixed(value, yDecimals)
            image.drawText(label, x: left - 7 - BitmapFont.width(of: label), y: y - 3, colour: Self.ink)
        }
        // Re-draw the axes over the grid.
        image.drawLine(x0: left, y0: top, x1: left, y1: top + plotH, colour: Self.ink)
        image.drawLine(x0: left, y0: top + plotH, x1: left + plotW, y1: top + plotH, colour: Self.ink)

        for s in series {
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logarithmic || $0.y > 0) }
            for (a, b) in zip(points, points.dropFirst()) {
                image.drawLine(x0: px(a.x), y0: py(a.y), x1: px(b.x), y1: py(b.y), colour: s.colour,
                               thickness: s.thickness)
            }
            if s.markers || points.count == 1 {
                for p in points { image.fillRect(x: px(p.x) - 3, y: py(p.y) - 3, width: 7, height: 7, colour: s.colour) }
            }
        }

        // Legend, top right inside the plot.
        let named = series.filter { !$0.name.isEmpty }
        if !named.isEmpty {
            let textW = named.map { BitmapFont.width(of: $0.name) }.max()!
            let boxW = textW + 36, boxH = named.count * 14 + 8
            let bx = left + plotW - boxW - 8, by = top + 8
            image.fillRect(x: bx, y: by, width: boxW, height: boxH, colour: [255, 255, 255])
            image.drawLine(x0: bx, y0: by, x1: bx + boxW, y1: by, colour: Self.grid)
            image.drawLine(x0: bx, y0: by + boxH, x1: bx + boxW, y1: by + boxH, colour: Self.grid)
            image.drawLine(x0: bx, y0: by, x1: bx, y1: by + boxH, colour: Self.grid)
            image.drawLine(x0: bx + boxW, y0: by, x1: bx + boxW, y1: by + boxH, colour: Self.grid)
            for (i, s) in named.enumerated() {
                let y = by + 8 + i * 14
                image.fillRect(x: bx + 6, y: y + 2, width: 18, height: 3, colour: s.colour)
                image.drawText(s.name, x: bx + 30, y: y, colour: Self.ink)
            }
        }
        return image
    }

    /// About `count` ticks at multiples of 1, 2 or 5 × 10^k covering [low, high].
    static func niceTicks(low: Double, high: Double, count: Int) -> [Double] {
        let raw = (high - low) / Double(max(1, count))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var ticks: [Double] = []
        var t = floor(low / step) * step
        while t <= high + step * 1e-9 && ticks.count < 50 {
            if t >= low - step * 1e-9 { ticks.append(abs(t) < step * 1e-9 ? 0 : t) }
            t += step
        }
        return ticks
    }

    /// log10 positions of 1, 2, 5 × 10^k within [low, high] (in log10 units); decades only when
    /// the range is wide.
    static func logTicks(low: Double, high: Double) -> [Double] {
        let multipliers: [Double] = high - low > 3 ? [1] : [1, 2, 5]
        var ticks: [Double] = []
        var k = floor(low)
        while k <= ceil(high) && ticks.count < 60 {
            for m in multipliers {
                let t = k + log10(m)
                if t >= low - 1e-9 && t <= high + 1e-9 { ticks.append(t) }
            }
            k += 1
        }
        return ticks
    }

    /// Digits after the point that tell the ticks apart.
    static func decimals(for ticks: [Double]) -> Int {
        guard ticks.count >= 2 else { return 2 }
        let step = abs(ticks[1] - ticks[0])
        guard step > 0 else { return 2 }
        return max(0, min(8, Int(-floor(log10(step) + 1e-9))))
    }
}
