/// A 5×7 pixel font (after the HD44780 character set) for the labels of plots: digits, lowercase
/// letters (upper case is drawn as lower case), space and `. , - + ( ) : / = %`. Other characters
/// are drawn as a small box.
enum BitmapFont {
    static let glyphWidth = 5
    static let glyphHeight = 7
    /// Horizontal distance from one character to the next.
    static let advance = 6

    /// Rows top to bottom, 5 bits each, bit 4 the leftmost pixel.
    static func rows(of character: Character) -> [UInt8] {
        let key = Character(character.lowercased())
        if let art = glyphs[key] { return art }
        return [0, 0b11111, 0b10001, 0b10001, 0b10001, 0b11111, 0]
    }

    static func width(of text: String) -> Int { max(0, text.count * advance - 1) }

    private static func parse(_ art: String) -> [UInt8] {
        art.split(separator: " ").map { row in
            row.reduce(UInt8(0)) { ($0 << 1) | ($1 == "#" ? 1 : 0) }
        }
    }

    private static let glyphs: [Character: [UInt8]] = {
        let art: [Character: String] = [
            " ": "..... ..... ..... ..... ..... ..... .....",
            "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
            "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
            "2": ".###. #...# ....# ...#. ..#.. .#... #####",
            "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
            "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
            "5": "##### #.... ####. ....# ....# #...# .###.",
            "6": "..##. .#... #.... ####. #...# #...# .###.",
            "7": "##### ....# ...#. ..#.. .#... .#... .#...",
            "8": ".###. #...# #...# .###. #...# #...# .###.",
            "9": ".###. #...# #...# .#### ....# ...#. .##..",
            ".": "..... ..... ..... ..... ..... .##.. .##..",
            ",": "..... ..... ..... ..... .##.. ..#.. .#...",
            "-": "..... ..... ..... ##### ..... ..... .....",
            "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
            "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
            ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
            ":": "..... .##.. .##.. ..... .##.. .##.. .....",
            "/": "..... ....# ...#. ..#.. .#... #.... .....",
            "=": "..... ..... ##### ..... ##### ..... .....",
            "%": "##... ##..# ...#. ..#.. .#... #..## ...##",
            "_": "..... ..... ..... ..... ..... ..... #####",
            "a": "..... ..... .###. ....# .#### #...# .####",
            "b": "#.... #.... #.##. ##..# #...# #...# ####.",
            "c": "..... ..... .###. #.... #.... #...# .###.",
            "d": "....# ....# .##.# #..## #...# #...# .####",
            "e": "..... ..... .###. #...# ##### #.... .###.",
            "f": "..##. .#..# .#... ###.. .#... .#... .#...",
            "g": "..... .#### #...# #...# .#### ....# .###.",
            "h": "#.... #.... #.##. ##..# #...# #...# #...#",
            "i": "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",
            "j": "...#. ..... ..##. ...#. ...#. #..#. .##..",
            "k": "#.... #.... #..#. #.#.. ##... #.#.. #..#.",
            "l": ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
            "m": "..... ..... ##.#. #.#.# #.#.# #...# #...#",
            "n": "..... ..... #.##. ##..# #...# #...# #...#",
            "o": "..... ..... .###. #...# #...# #...# .###.",
            "p": "..... ..... ####. #...# ####. #.... #....",
            "q": "..... ..... .##.# #..## .#### ....# ....#",
            "r": "..... ..... #.##. ##..# #.... #.... #....",
            "s": "..... ..... .###. #.... .###. ....# ####.",
            "t": ".#... .#... ###.. .#... .#... .#..# ..##.",
            "u": "..... ..... #...# #...# #...# #..## .##.#",
            "v": "..... ..... #...# #...# #...# .#.#. ..#..",
            "w": "..... ..... #...# #...# #.#.# #.#.# .#.#.",
            "x": "..... ..... #...# .#.#. ..#.. .#.#. #...#",
            "y": "..... ..... #...# #...# .#### ....# .###.",
            "z": "..... ..... ##### ...#. ..#.. .#... #####",
        ]
        return art.mapValues(parse)
    }()
}

extension RasterImage {
    /// Draws `text` with its top-left corner at (x, y) in `colour` (channels values), `scale`
    /// pixels per font pixel. Clipped to the image.
    mutating func drawText(_ text: String, x: Int, y: Int, colour: [UInt8], scale: Int = 1) {
        var cx = x
        for ch in text {
            let rows = BitmapFont.rows(of: ch)
            for (r, bits) in rows.enumerated() {
                for c in 0..<BitmapFont.glyphWidth where bits & (1 << (BitmapFont.glyphWidth - 1 - c)) != 0 {
                    fillRect(x: cx + c * scale, y: y + r * scale, width: scale, height: scale, colour: colour)
                }
            }
            cx += BitmapFont.advance * scale
        }
    }

    /// Fills a rectangle, clipped to the image.
    mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, colour: [UInt8]) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(width, x + w), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for py in y0..<y1 {
            for px in x0..<x1 {
                let o = (py * width + px) * channels
                for k in 0..<channels { pixels[o + k] = colour[k] }
            }
        }
    }

    /// A line from (x0, y0) to (x1, y1) (Bresenham), `thickness` pixels wide.
    mutating func drawLine(x0: Int, y0: Int, x1: Int, y1: Int, colour: [UInt8], thickness: Int = 1) {
        var (x, y) = (x0, y0)
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        let half = (thickness - 1) / 2
        // Bounded: a line visits at most dx + |dy| + 1 pixels.
        for _ in 0...(dx - dy) {
            fillRect(x: x - half, y: y - half, width: thickness, height: thickness, colour: colour)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }
}
