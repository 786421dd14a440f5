import AECVKernels

/// Scores sorted from the highest to the lowest, each carrying a 32-bit payload (a label, a
/// region number or an index): the one sort every ranking metric of this folder sweeps.
///
/// Each entry is one UInt64, key = order(score) << 32 | payload, where order() maps a float's
/// bits to a UInt32 that sorts as the float does (−0 and +0 equal). Sorting plain integers is
/// several times faster than sorting (score, payload) pairs with a closure, which matters for
/// pixel metrics: 100 test images of 256 × 256 are 6.5 M entries.
struct RankedScores {
    /// Descending by score; equal scores are adjacent (their order among themselves is
    /// irrelevant: every sweep handles a run of equal scores as one threshold).
    private(set) var keys: [UInt64]

    /// keys for scores[i] with payload(i). Throws .nonFinite naming `what` for NaN or ±Inf,
    /// .noMemory when the key array cannot be allocated.
    init(count: Int, what: String, score: (Int) -> Float, payload: (Int) -> UInt32) throws {
        let sorting = "\(what): \(count) values to rank"
        try MemoryCheck.require(MemoryCheck.bytes(count, 8, sorting), sorting)
        var keys = [UInt64](repeating: 0, count: count)
        for i in 0..<count {
            let s = score(i)
            if !s.isFinite { throw AECVError.nonFinite("\(what): value \(i) is \(s)") }
            keys[i] = UInt64(RankedScores.order(s)) << 32 | UInt64(payload(i))
        }
        keys.sort(by: >)
        self.keys = keys
    }

    var count: Int { keys.count }

    /// The score of entry i (exact: order() is a bijection on non-NaN floats but for −0).
    func score(_ i: Int) -> Float { RankedScores.float(UInt32(truncatingIfNeeded: keys[i] >> 32)) }
    func payload(_ i: Int) -> UInt32 { UInt32(truncatingIfNeeded: keys[i]) }

    /// Calls body(start, end) for each run keys[start..<end] of equal scores, highest first.
    func forEachRun(_ body: (Int, Int) -> Void) {
        var start = 0
        while start < keys.count {
            let top = keys[start] >> 32
            var end = start + 1
            while end < keys.count, keys[end] >> 32 == top { end += 1 }
            body(start, end)
            start = end
        }
    }

    /// A threshold t for the decision "anomalous when score > t" that puts the runs before
    /// `end` on the anomalous side and the rest on the other: the midpoint between the last
    /// score taken and the next lower one (the largest float below it when none is lower).
    func threshold(below end: Int) -> Float {
        let taken = score(end - 1)
        guard end < keys.count else { return taken.nextDown }
        let mid = Float((Double(taken) + Double(score(end))) / 2)
        return mid < taken ? mid : taken.nextDown
    }

    static func order(_ x: Float) -> UInt32 {
        let bits = (x + 0).bitPattern  // −0 + 0 = +0
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    static func float(_ o: UInt32) -> Float {
        Float(bitPattern: o & 0x8000_0000 != 0 ? o & 0x7FFF_FFFF : ~o)
    }
}
