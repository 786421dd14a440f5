#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import AECV
import AECVData

/// Console output: results on stdout, progress and errors on stderr.
enum Terminal {
    /// Progress bars redraw in place only on a terminal; logs get one line per epoch.
    static let stderrIsTerminal = isatty(2) != 0
    /// True while a progress line (without a newline) is on stderr.
    static var progressLineOpen = false

    static func writeError(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    /// A line of results on stdout, flushed (so logs follow long runs as they happen).
    static func say(_ line: String) {
        finishProgressLine()
        print(line)
        fflush(stdout)
    }

    /// A warning line on stderr.
    static func warn(_ line: String) {
        finishProgressLine()
        writeError("aecv: warning: \(line)\n")
    }

    /// Ends an open progress line so that the next output starts on a fresh line.
    static func finishProgressLine() {
        if progressLineOpen {
            writeError("\n")
            progressLineOpen = false
        }
    }

    /// Seconds on a monotonic clock.
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}

/// "1×28×28"
func describeShape(_ shape: [Int]) -> String {
    shape.map(String.init).joined(separator: "×")
}

/// A number for humans: 4 significant digits, or fixed with `decimals`.
func show(_ value: Double, decimals: Int? = nil) -> String {
    if let d = decimals { return TextFormat.fixed(value, d) }
    if value != 0 && (abs(value) < 1e-3 || abs(value) >= 1e6) { return TextFormat.c("%.4g", value) }
    return TextFormat.significant(value, 5)
}
func show(_ value: Float, decimals: Int? = nil) -> String { show(Double(value), decimals: decimals) }
