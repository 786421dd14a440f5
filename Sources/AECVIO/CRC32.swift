/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), identical to zlib's `crc32`:
/// `checksum("123456789") == 0xCBF43926`. Slicing-by-8 over a static table, ~1 byte/cycle.
public enum CRC32 {
    /// The CRC of `bytes`, continuing from `initial` (the CRC of the preceding data, 0 to start),
    /// so `checksum(b, initial: checksum(a)) == checksum(a + b)`, like zlib's `crc32(crc, buf, len)`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        var crc = ~initial
        guard let base = bytes.baseAddress, bytes.count > 0 else { return initial }
        let count = bytes.count
        table.withUnsafeBufferPointer { t in
            var p = base.assumingMemoryBound(to: UInt8.self)
            var remaining = count
            // 8 bytes per step: the CRC of each byte position comes from its own table slice.
            while remaining >= 8 {
                let lo = UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
                let hi = UInt32(p[4]) | UInt32(p[5]) << 8 | UInt32(p[6]) << 16 | UInt32(p[7]) << 24
                let x = crc ^ lo
                crc = t[7 &* 256 &+ Int(x & 0xFF)] ^ t[6 &* 256 &+ Int((x >> 8) & 0xFF)]
                    ^ t[5 &* 256 &+ Int((x >> 16) & 0xFF)] ^ t[4 &* 256 &+ Int(x >> 24)]
                    ^ t[3 &* 256 &+ Int(hi & 0xFF)] ^ t[2 &* 256 &+ Int((hi >> 8) & 0xFF)]
                    ^ t[1 &* 256 &+ Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                p += 8
                remaining &-= 8
            }
            while remaining > 0 {
                crc = t[Int((crc ^ UInt32(p[0])) & 0xFF)] ^ (crc >> 8)
                p += 1
                remaining &-= 1
            }
        }
        return ~crc
    }

    /// The CRC of a byte array (see `checksum(_:initial:)`).
    public static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, initial: initial) }
    }

    /// 8 slices of 256 entries: slice 0 is the classic byte table; slice k advances slice k-1's
    /// value by one more zero byte.
    private static let table: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[n] = c
        }
        for n in 0..<256 {
            var c = t[n]
            for k in 1..<8 {
                c = t[Int(c & 0xFF)] ^ (c >> 8)
                t[k * 256 + n] = c
            }
        }
        return t
    }()
}
