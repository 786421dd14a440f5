#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import AECV
import ArgumentParser

/// `aecv`: train, inspect and use libaecv autoencoders on image data.
///
/// Errors are one line on stderr, `aecv: error: <what>`, and exit status 1 (usage errors: 64;
/// interrupted training: 130). No error ends in a trap or a stack trace: every failure of the
/// library is an `AECVError`, of the tool a `CLIError`.
@main
struct AECVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aecv",
        abstract: "Train, inspect and use libaecv autoencoders on image data.",
        discussion: """
            Data (--data): fashion-mnist (Debian's dataset-fashion-mnist, --split train|test), an IDX \
            file (MNIST, Fashion-MNIST, EMNIST; gzipped or not), a directory holding MNIST-style \
            IDX files, a .npy array (uint8 or float32, N×H×W or N×C×H×W; uint8 is scaled by \
            1/255), or a directory of PNG images (8-bit grey or RGB, all the same size).
            """,
        version: "libaecv \(LibraryVersion.string)",
        subcommands: [Train.self, Evaluate.self, Reconstruct.self, Sample.self, Interpolate.self,
                      Encode.self, Denoise.self, Info.self, Classify.self, Anomaly.self, Detect.self,
                      Export.self, Import.self, Augment.self, Images.self])

    static func main() {
        let exitCode = runCommand(CommandLine.arguments.dropFirst().map { $0 })
        Glibc.exit(exitCode)
    }

    /// Parses and runs a command line; returns the exit status.
    static func runCommand(_ arguments: [String]) -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let error as AECVError {
            reportError(error.message)
            return 1
        } catch let error as CLIError {
            reportError(error.message)
            return error.exitCode
        } catch let error as ExitCode {
            return error.rawValue
        } catch {
            // ArgumentParser's own: --help and --version (success, full text on stdout) or a
            // usage error (one line, pointing at the subcommand's help).
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                return 0
            }
            let names = configuration.subcommands.map { $0._commandName }
            let subcommand = arguments.first { names.contains($0) }
            reportError(message(for: error), hint: "see 'aecv \(subcommand.map { $0 + " " } ?? "")--help'")
            return code.rawValue
        }
    }

    /// One line on stderr (newlines in messages are folded to keep it one line).
    static func reportError(_ message: String, hint: String? = nil) {
        var text = message.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces }.joined(separator: " ")
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        if let hint = hint { text += " (\(hint))" }
        Terminal.finishProgressLine()
        Terminal.writeError("aecv: error: \(text)\n")
    }
}

/// A failure of the tool itself (bad arguments, data that does not fit the model).
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32 = 1
    init(_ message: String, exitCode: Int32 = 1) { self.message = message; self.exitCode = exitCode }
    var description: String { message }
}

extension Substring {
    var trimmingSpaces: String {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
