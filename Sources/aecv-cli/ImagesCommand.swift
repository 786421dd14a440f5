import AECV
import AECVData
import ArgumentParser

/// `aecv images DIR`: what a folder of JPEG/PNG images holds and how fast it decodes, before
/// training on it.
struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a folder of JPEG/PNG images: count, classes, unreadable files, and decode + resize speed.",
        discussion: """
            Decodes every image (recursively, in training order) as `train --data DIR` would, with \
            --size/--grey/--rgb, on --decode-threads threads, and prints images/s. Unreadable \
            files are listed (the first 10) and make the exit status 1.
            """)

    @Argument(help: ArgumentHelp("A folder of .jpg/.jpeg/.png images.", valueName: "DIR"))
    var directory: String

    @Option(help: "Resize the shorter side to N, then crop the centred N×N square.")
    var size: Int?

    @Flag(help: "Convert to grey.")
    var grey = false

    @Flag(help: "Convert to RGB (default: RGB if the first image has colour).")
    var rgb = false

    @Flag(help: "Class subfolders (torchvision's ImageFolder): print the classes and their counts.")
    var classes = false

    @Option(help: "Decoding threads.")
    var decodeThreads: Int = 1

    @Option(help: "Use only the first N images.")
    var limit: Int?

    func validate() throws {
        if grey && rgb { throw ValidationError("give --grey or --rgb, not both") }
        if let s = size, s < 1 || s > 8192 { throw ValidationError("--size must be in 1...8192, got \(s)") }
        if decodeThreads < 1 || decodeThreads > 64 { throw ValidationError("--decode-threads must be in 1...64") }
    }

    func run() throws {
        let folder = try ImageFolder(path: directory, classFolders: classes)
        let files = Array(folder.files.prefix(limit ?? Int.max))
        let options = ImageOptions(size: size, channels: grey ? 1 : (rgb ? 3 : nil), skipBad: true)
        let prep = try options.preprocessing(channels: nil, firstFile: files[0])
        Terminal.say("\(directory): \(files.count) images" + (classes ? " in \(folder.classes.count) classes" : ""))
        if classes {
            for (k, name) in folder.classes.enumerated() {
                Terminal.say("  \(k)  \(name)  \(folder.labels.prefix(files.count).filter { $0 == Int32(k) }.count) images")
            }
        }
        guard prep.shape != nil else {
            Terminal.say("  (give --size N to measure decoding at a model's input size)")
            return
        }
        let batch = 32
        let start = Terminal.now()
        let stream = try BatchStream(files: files, order: Array(0..<files.count), preprocessing: prep, batchSize: batch,
                                     workers: decodeThreads, capacity: 2 * decodeThreads + 1, skipBad: true)
        var decoded = 0
        while let b = try stream.next() { decoded += b.count }
        let seconds = Terminal.now() - start
        Terminal.say("  decoded \(decoded) images to \(describeShape(prep.shape!)) in \(TextFormat.c("%.2f", seconds)) s: "
                     + "\(TextFormat.c("%.0f", Double(decoded) / max(seconds, 1e-9))) img/s on \(decodeThreads) thread\(decodeThreads == 1 ? "" : "s")")
        let skipped = stream.skipped
        if skipped.count > 0 {
            throw CLIError("\(skipped.count) of \(files.count) images are unreadable (first: \(skipped.first ?? "?"))")
        }
    }
}
