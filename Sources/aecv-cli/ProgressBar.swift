import AECVData

/// One epoch's progress on stderr: bar, percent, images/s, ETA and the running (mean) loss,
/// redrawn in place at most 10 times a second on a terminal; in a log, a line per quarter.
struct ProgressBar {
    let label: String
    let total: Int
    let start = Terminal.now()
    var lastDraw = 0.0
    static let width = 28

    init(label: String, total: Int) {
        self.label = label; self.total = max(1, total)
    }

    var elapsed: Double { Terminal.now() - start }

    /// Quarters already reported in a log (stderr not a terminal).
    var quartersLogged = 0

    mutating func update(done: Int, loss: Double, force: Bool = false) {
        guard Terminal.stderrIsTerminal else {
            // A log gets a plain line at 25, 50 and 75% (the epoch's summary line follows).
            let quarter = done * 4 / total
            if quarter > quartersLogged && quarter < 4 {
                quartersLogged = quarter
                let rate = Double(done) / max(elapsed, 1e-9)
                Terminal.writeError("\(label): \(quarter * 25)%, \(TextFormat.c("%.0f", rate)) img/s, loss \(show(loss))\n")
            }
            return
        }
        let now = Terminal.now()
        if !force && now - lastDraw < 0.1 && done < total { return }
        lastDraw = now
        let fraction = min(1, Double(done) / Double(total))
        let elapsed = now - start
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : .infinity
        let filled = Int(fraction * Double(ProgressBar.width))
        var bar = String(repeating: "=", count: filled)
        if filled < ProgressBar.width { bar += ">" + String(repeating: " ", count: ProgressBar.width - filled - 1) }
        let line = "\(label) [\(bar)] \(TextFormat.c("%3.0f", fraction * 100))%  "
            + "\(TextFormat.c("%6.0f", rate)) img/s  ETA \(TextFormat.duration(eta))  loss \(show(loss))"
        // \r back to the start of the line; ESC[K clears what a longer previous line left.
        Terminal.writeError("\r" + line + "\u{1B}[K")
        Terminal.progressLineOpen = true
    }

    mutating func finish(loss: Double) {
        update(done: total, loss: loss, force: true)
        Terminal.finishProgressLine()
    }
}
