import AECVKernels

/// The checks and readers every part of the spec language shares: range checks that name the
/// field, typed readers of JSON values, unknown-key errors with a suggestion.

package func config(_ message: String) -> AECVError { .config(message) }

package func intList(_ values: [Int]) -> String {
    "[" + values.map(String.init).joined(separator: ", ") + "]"
}

/// A float for messages: integral values without ".0" (`-1`), others in shortest form.
package func formatFloat(_ f: Float) -> String {
    if f.isFinite && f == f.rounded() && abs(f) < 1e15 { return String(Int64(f)) }
    return f.description
}

/// The JSON number for a Float that parses back (through Double) to the identical Float: the
/// Float's shortest decimal form when that survives the double rounding, else the exact value.
package func floatJSON(_ f: Float) -> JSONValue {
    guard f.isFinite else { return .null }
    if let d = Double(f.description), Float(d) == f { return .double(d) }
    return .double(Double(f))
}

package func checkWidth(_ value: Int, _ path: String) throws {
    if value < 1 { throw config("\(path): must be a positive integer, got \(value)") }
    if value > SpecLimits.maxWidth {
        throw config("\(path): \(value) exceeds the limit of \(SpecLimits.maxWidth)")
    }
}

package func checkRange(_ value: Int, _ path: String, min: Int, what: String) throws {
    if value < min { throw config("\(path): must be \(what), got \(value)") }
    if value > SpecLimits.maxDimension {
        throw config("\(path): \(value) exceeds the limit of \(SpecLimits.maxDimension)")
    }
}

package func checkNonNegative(_ value: Float, _ path: String) throws {
    if !(value.isFinite && value >= 0) {
        throw config("\(path): must be a non-negative finite number, got \(formatFloat(value))")
    }
}

package func checkProbability(_ value: Float, _ path: String) throws {
    if !(value >= 0 && value <= 1) {
        throw config("\(path): must be a probability in [0, 1], got \(formatFloat(value))")
    }
}

// MARK: - readers of JSON values (structure and types, not ranges)

/// Readers of JSON values for specs: the primitives here (used by every layer's decoder), and
/// `decode`, which turns a whole spec into a `ModelSpec`, in the models target.
package enum SpecDecoder {
    // MARK: primitives

    package static func object(_ value: JSONValue, _ path: String) throws -> [JSONMember] {
        guard case .object(let members) = value else {
            throw config("\(path): expected an object, got \(value.describedForMessage())")
        }
        return members
    }

    /// An integer (or a number with an integral value, like 64.0).
    package static func integer(_ value: JSONValue, _ path: String, expected: String = "an integer") throws -> Int {
        switch value {
        case .int(let v):
            guard let i = Int(exactly: v) else { throw config("\(path): \(v) is too large") }
            return i
        case .double(let d) where d.isFinite && d == d.rounded():
            guard let i = Int(exactly: d) else {
                throw config("\(path): \(value.describedForMessage()) is too large")
            }
            return i
        default:
            throw config("\(path): expected \(expected), got \(value.describedForMessage())")
        }
    }

    /// A number that fits a Float (range is checked by `validate()`).
    package static func float(_ value: JSONValue, _ path: String) throws -> Float {
        guard let d = value.asDouble else {
            throw config("\(path): expected a number, got \(value.describedForMessage())")
        }
        let f = Float(d)
        if !f.isFinite {
            throw config("\(path): \(value.describedForMessage()) is out of the range of a 32-bit float")
        }
        return f
    }

    /// A string naming a case of a `String`-backed enum.
    package static func choice<T: RawRepresentable & CaseIterableNames>(_ value: JSONValue, _ path: String) throws -> T
        where T.RawValue == String {
        if case .string(let s) = value, let v = T(rawValue: s) { return v }
        throw config("\(path): expected one of \(quotedList(T.names)), got \(value.describedForMessage())\(suggestion(value.asString, T.names))")
    }

    package static func checkKeys(_ members: [JSONMember], allowed: [String], path: String,
                          context: String = "") throws {
        for m in members where !allowed.contains(m.key) {
            throw config("\(path): unknown key \"\(m.key)\"\(context)\(suggestion(m.key, allowed))")
        }
    }
}

/// String-backed enums whose valid names are listed in messages.
package protocol CaseIterableNames { static var names: [String] { get } }
extension OptimizerSpec.Name: CaseIterableNames { package static var names: [String] { ["adam", "sgd"] } }

package func quotedList(_ names: [String]) -> String {
    names.map { "\"\($0)\"" }.joined(separator: ", ")
}

/// ` (did you mean "latent"?)` when a candidate is within edit distance 2 or starts with the
/// word (at least 3 characters of it), else "".
package func suggestion(_ word: String?, _ candidates: [String]) -> String {
    guard let word, word.utf8.count <= 64 else { return "" }
    var best: (String, Int)? = nil
    for c in candidates {
        var d = editDistance(Array(word.utf8), Array(c.utf8))
        if d > 2 && word.utf8.count >= 3 && c.hasPrefix(word) { d = 2 }
        if d <= 2 && d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    guard let best else { return "" }
    return " (did you mean \"\(best.0)\"?)"
}

package func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
